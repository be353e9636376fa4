// Command nethttp serves the Danet SSE example on net/http, with a page
// that shows the events live in a browser:
//
//	go run ./examples/danet/nethttp -addr 127.0.0.1:8080
//
// then open http://127.0.0.1:8080/. The example on net/http is in package
// danet itself: it needs no module beyond ssekit's.
package main

import "github.com/ssekit/ssekit/examples/danet"

func main() { danet.Main(danet.NetHTTP) }
