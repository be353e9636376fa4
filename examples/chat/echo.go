package main

import (
	"context"
	"net"
	"net/http"

	"github.com/labstack/echo/v4"
	echosse "github.com/ssekit/ssekit/adapters/echo"
	"github.com/ssekit/ssekit/core"
)

func serveEcho(ln net.Listener, c *chat) func(context.Context) error {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/", echo.WrapHandler(c.pageHandler("Echo")))
	e.GET("/rooms/:room/events", echosse.Handle(func(ec echo.Context) (core.EventTarget, error) {
		return c.subscribe(ec.Request().Context(), streamRequestOf(ec.Request(), ec.Param("room"), echosse.LastEventID(ec)))
	}, streamOptions...))
	// The POST routes' bodies are bounded by serveHTTP (guardBodies).
	for path, f := range map[string]func(context.Context, postRequest) (posted, error){
		"/rooms/:room/messages": c.post,
		"/rooms/:room/join":     c.join,
	} {
		e.POST(path, func(ec echo.Context) error {
			res, err := f(ec.Request().Context(), postRequestOf(ec.Request(), ec.Param("room")))
			if err != nil {
				return echo.NewHTTPError(core.StatusOf(err), core.ErrorText(err))
			}
			return ec.JSON(http.StatusCreated, res)
		})
	}
	return c.serveHTTP(ln, e)
}
