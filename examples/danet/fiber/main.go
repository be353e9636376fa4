// Command fiber serves the Danet SSE example on Fiber, with a page that shows
// the events live in a browser:
//
//	go run ./examples/danet/fiber -addr 127.0.0.1:8080
//
// then open http://127.0.0.1:8080/. Everything but the routes is in package
// danet, the same on every framework.
package main

import (
	"context"
	"net"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	fibersse "github.com/ssekit/ssekit/adapters/fiber"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/examples/danet"
)

func main() { danet.Main(danet.Framework{Name: "Fiber", Serve: serve}) }

func serve(ln net.Listener, streams *core.Group) func(context.Context) error {
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		// fasthttp reads the whole request (headers and body) before the
		// handler runs: ReadTimeout bounds that. It does not cut event
		// streams: the ssekit adapter lifts the read deadline for a stream.
		// WriteTimeout stays 0: the adapter bounds each write of a stream.
		ReadTimeout:                  danet.Timeouts.Body,
		IdleTimeout:                  danet.Timeouts.Idle, // idle keep-alive connections
		BodyLimit:                    danet.MaxBody,
		Concurrency:                  10_000, // open connections
		DisablePreParseMultipartForm: true,
	})
	app.Get("/", adaptor.HTTPHandler(danet.PageHandler("Fiber")))
	app.Get("/sse", fibersse.Handle(func(c *fiber.Ctx) (core.EventTarget, error) {
		return danet.Events(fibersse.LastEventID(c))
	}, core.WithGroup(streams)))
	go app.Listener(ln)
	return func(ctx context.Context) error {
		streams.Close() // fasthttp waits for open streams: end them first
		return app.ShutdownWithContext(ctx)
	}
}
