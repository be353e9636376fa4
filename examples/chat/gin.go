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
	r.POST("/rooms/:room/messages", func(g *gin.Context) {
		res, err := c.post(g.Request.Context(), g.Param("room"), tokenOf(g.Request), g.Request.Body)
		if err != nil {
			g.AbortWithStatusJSON(core.StatusOf(err), gin.H{"error": core.ErrorText(err)})
			return
		}
		g.JSON(http.StatusCreated, res)
	})
	return c.serveHTTP(ln, r)
}
