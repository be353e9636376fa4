package main

import (
	"context"
	"net"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	fibersse "github.com/ssekit/ssekit/adapters/fiber"
	"github.com/ssekit/ssekit/core"
)

func serveFiber(ln net.Listener, streams *core.Group) func(context.Context) error {
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		// fasthttp reads the whole request (headers and body) before the
		// handler runs: ReadTimeout bounds that. It does not cut event
		// streams: the ssekit adapter lifts the read deadline for a stream.
		// WriteTimeout stays 0: the adapter bounds each write of a stream.
		ReadTimeout:                  timeouts.Body,
		IdleTimeout:                  timeouts.Idle, // idle keep-alive connections
		BodyLimit:                    maxBody,
		Concurrency:                  10_000, // open connections
		DisablePreParseMultipartForm: true,
	})
	app.Get("/", adaptor.HTTPHandler(pageHandler("Fiber")))
	app.Get("/sse", fibersse.Handle(func(c *fiber.Ctx) (core.EventTarget, error) {
		return danet(fibersse.LastEventID(c))
	}, core.WithGroup(streams)))
	go app.Listener(ln)
	return func(ctx context.Context) error {
		streams.Close() // fasthttp waits for open streams: end them first
		return app.ShutdownWithContext(ctx)
	}
}
