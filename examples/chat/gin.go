package main

import (
	"context"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
	ginsse "github.com/ssekit/ssekit/adapters/gin"
	"github.com/ssekit/ssekit/core"
)

func serveGin(ln net.Listener, c *chat) func(context.Context) error {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/", gin.WrapH(c.pageHandler("Gin")))
	r.GET("/rooms/:room/events", ginsse.Handle(func(g *gin.Context) (core.EventTarget, error) {
		return c.subscribe(g.Request.Context(), streamRequestOf(g.Request, g.Param("room"), ginsse.LastEventID(g)))
	}, streamOptions...))
	// The POST routes' bodies are bounded by serveHTTP (guardBodies).
	for path, f := range map[string]func(context.Context, postRequest) (posted, error){
		"/rooms/:room/messages": c.post,
		"/rooms/:room/join":     c.join,
	} {
		r.POST(path, func(g *gin.Context) {
			res, err := f(g.Request.Context(), postRequestOf(g.Request, g.Param("room")))
			if err != nil {
				g.AbortWithStatusJSON(core.StatusOf(err), gin.H{"error": core.ErrorText(err)})
				return
			}
			g.JSON(http.StatusCreated, res)
		})
	}
	return c.serveHTTP(ln, r)
}
