// Command echo serves the chat example on Echo, with a page that shows rooms
// and messages live:
//
//	go run ./examples/chat/echo -addr 127.0.0.1:8080 [-redis 127.0.0.1:6379] [-token letmein]
//
// then open http://127.0.0.1:8080/ in two browser windows and chat. Only
// the routes are here: the chat itself, its checks and limits, and the
// flags are in package chat, the same on every framework.
package main

import (
	"context"
	"net"
	"net/http"

	"github.com/labstack/echo/v4"
	echosse "github.com/ssekit/ssekit/adapters/echo"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/examples/chat"
)

func main() { chat.Main(chat.Framework{Name: "Echo", Serve: serve}) }

func serve(ln net.Listener, c *chat.Chat) func(context.Context) error {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/", echo.WrapHandler(c.PageHandler("Echo")))
	e.GET("/rooms/:room/events", echosse.Handle(func(ec echo.Context) (core.EventTarget, error) {
		return c.Subscribe(ec.Request().Context(), chat.StreamRequestOf(ec.Request(), ec.Param("room"), echosse.LastEventID(ec)))
	}, c.StreamOptions()...))
	e.GET("/metrics", echo.WrapHandler(c.MetricsHandler()))
	e.GET("/presence", echo.WrapHandler(c.PresenceHandler()))
	// The POST routes' bodies are bounded by c.Serve (guardBodies).
	for path, f := range map[string]func(context.Context, chat.PostRequest) (chat.Posted, error){
		"/rooms/:room/messages": c.Post,
		"/rooms/:room/join":     c.Join,
	} {
		e.POST(path, func(ec echo.Context) error {
			res, err := f(ec.Request().Context(), chat.PostRequestOf(ec.Request(), ec.Param("room")))
			if err != nil {
				return echo.NewHTTPError(core.StatusOf(err), core.ErrorText(err))
			}
			return ec.JSON(http.StatusCreated, res)
		})
	}
	return c.Serve(ln, e)
}
