// Command gin serves the chat example on Gin, with a page that shows rooms
// and messages live:
//
//	go run ./examples/chat/gin -addr 127.0.0.1:8080 [-redis 127.0.0.1:6379] [-token letmein]
//
// then open http://127.0.0.1:8080/ in two browser windows and chat. Only
// the routes are here: the chat itself, its checks and limits, and the
// flags are in package chat, the same on every framework.
package main

import (
	"context"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
	ginsse "github.com/ssekit/ssekit/adapters/gin"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/examples/chat"
)

func main() { chat.Main(chat.Framework{Name: "Gin", Serve: serve}) }

func serve(ln net.Listener, c *chat.Chat) func(context.Context) error {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/", gin.WrapH(c.PageHandler("Gin")))
	r.GET("/rooms/:room/events", ginsse.Handle(func(g *gin.Context) (core.EventTarget, error) {
		return c.Subscribe(g.Request.Context(), chat.StreamRequestOf(g.Request, g.Param("room"), ginsse.LastEventID(g)))
	}, c.StreamOptions()...))
	r.GET("/metrics", gin.WrapH(c.MetricsHandler()))
	r.GET("/presence", gin.WrapH(c.PresenceHandler()))
	// The POST routes' bodies are bounded by c.Serve (guardBodies).
	for path, f := range map[string]func(context.Context, chat.PostRequest) (chat.Posted, error){
		"/rooms/:room/messages": c.Post,
		"/rooms/:room/join":     c.Join,
	} {
		r.POST(path, func(g *gin.Context) {
			res, err := f(g.Request.Context(), chat.PostRequestOf(g.Request, g.Param("room")))
			if err != nil {
				g.AbortWithStatusJSON(core.StatusOf(err), gin.H{"error": core.ErrorText(err)})
				return
			}
			g.JSON(http.StatusCreated, res)
		})
	}
	return c.Serve(ln, r)
}
