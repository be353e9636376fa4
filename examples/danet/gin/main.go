// Command gin serves the Danet SSE example on Gin, with a page that shows
// the events live in a browser:
//
//	go run ./examples/danet/gin -addr 127.0.0.1:8080
//
// then open http://127.0.0.1:8080/. Everything but the routes is in package
// danet, the same on every framework.
package main

import (
	"context"
	"net"

	"github.com/gin-gonic/gin"
	ginsse "github.com/ssekit/ssekit/adapters/gin"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/examples/danet"
)

func main() { danet.Main(danet.Framework{Name: "Gin", Serve: serve}) }

func serve(ln net.Listener, streams *core.Group) func(context.Context) error {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/", gin.WrapH(danet.PageHandler("Gin")))
	r.GET("/sse", ginsse.Handle(func(c *gin.Context) (core.EventTarget, error) {
		return danet.Events(ginsse.LastEventID(c))
	}, core.WithGroup(streams)))
	srv := danet.NewServer(r, streams)
	go srv.Serve(ln)
	return srv.Shutdown
}
