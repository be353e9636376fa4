package main

import (
	"context"
	"net"

	"github.com/gin-gonic/gin"
	ginsse "github.com/ssekit/ssekit/adapters/gin"
	"github.com/ssekit/ssekit/core"
)

func serveGin(ln net.Listener, streams *core.Group) func(context.Context) error {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/", gin.WrapH(pageHandler("Gin")))
	r.GET("/sse", ginsse.Handle(func(c *gin.Context) (core.EventTarget, error) {
		return danet(ginsse.LastEventID(c))
	}, core.WithGroup(streams)))
	srv := newServer(r, streams)
	go srv.Serve(ln)
	return srv.Shutdown
}
