// Command echo serves the Danet SSE example on Echo, with a page that shows
// the events live in a browser:
//
//	go run ./examples/danet/echo -addr 127.0.0.1:8080
//
// then open http://127.0.0.1:8080/. Everything but the routes is in package
// danet, the same on every framework.
package main

import (
	"context"
	"net"

	"github.com/labstack/echo/v4"
	echosse "github.com/ssekit/ssekit/adapters/echo"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/examples/danet"
)

func main() { danet.Main(danet.Framework{Name: "Echo", Serve: serve}) }

func serve(ln net.Listener, streams *core.Group) func(context.Context) error {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/", echo.WrapHandler(danet.PageHandler("Echo")))
	e.GET("/sse", echosse.Handle(func(c echo.Context) (core.EventTarget, error) {
		return danet.Events(echosse.LastEventID(c))
	}, core.WithGroup(streams)))
	srv := danet.NewServer(e, streams)
	go srv.Serve(ln)
	return srv.Shutdown
}
