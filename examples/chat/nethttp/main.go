// Command nethttp serves the chat example on net/http, with a page that
// shows rooms and messages live:
//
//	go run ./examples/chat/nethttp -addr 127.0.0.1:8080 [-redis 127.0.0.1:6379] [-token letmein]
//
// then open http://127.0.0.1:8080/ in two browser windows and chat. The
// chat on net/http is in package chat itself: it needs no module beyond
// the chat's.
package main

import "github.com/ssekit/ssekit/examples/chat"

func main() { chat.Main(chat.NetHTTP) }
