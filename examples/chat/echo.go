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
	e.POST("/rooms/:room/messages", func(ec echo.Context) error {
		res, err := c.post(ec.Request().Context(), ec.Param("room"), tokenOf(ec.Request()), ec.Request().Body)
		if err != nil {
			return echo.NewHTTPError(core.StatusOf(err), core.ErrorText(err))
		}
		return ec.JSON(http.StatusCreated, res)
	})
	return c.serveHTTP(ln, e)
}
