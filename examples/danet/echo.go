package main

import (
	"context"
	"net"

	"github.com/labstack/echo/v4"
	echosse "github.com/ssekit/ssekit/adapters/echo"
	"github.com/ssekit/ssekit/core"
)

func serveEcho(ln net.Listener, streams *core.Group) func(context.Context) error {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/", echo.WrapHandler(pageHandler("Echo")))
	e.GET("/sse", echosse.Handle(func(c echo.Context) (core.EventTarget, error) {
		return danet(echosse.LastEventID(c))
	}, core.WithGroup(streams)))
	srv := newServer(e, streams)
	go srv.Serve(ln)
	return srv.Shutdown
}
