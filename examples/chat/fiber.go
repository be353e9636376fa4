package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	fibersse "github.com/ssekit/ssekit/adapters/fiber"
	"github.com/ssekit/ssekit/core"
)

// fiberIdleWorkers is how long fasthttp keeps an idle worker; its cleaner
// notices a stopped server only after sleeping that long. Tests shorten it.
var fiberIdleWorkers = 10 * time.Second

func serveFiber(ln net.Listener, c *chat) func(context.Context) error {
	// Immutable: the strings read from the request stay valid after the
	// handler returns (fasthttp reuses its buffers otherwise).
	app := fiber.New(fiber.Config{DisableStartupMessage: true, Immutable: true, BodyLimit: 4 * maxBody})
	app.Server().MaxIdleWorkerDuration = fiberIdleWorkers
	app.Get("/", adaptor.HTTPHandler(c.pageHandler("Fiber")))
	app.Get("/rooms/:room/events", fibersse.Handle(func(f *fiber.Ctx) (core.EventTarget, error) {
		return c.subscribe(f.UserContext(), streamRequest{Room: f.Params("room"), Token: fiberToken(f),
			User: f.Query("user"), LastEventID: fibersse.LastEventID(f), Since: f.Query("since")})
	}, streamOptions...))
	app.Post("/rooms/:room/messages", func(f *fiber.Ctx) error {
		res, err := c.post(f.UserContext(), f.Params("room"), fiberToken(f), bytes.NewReader(f.Body()))
		if err != nil {
			return fiber.NewError(core.StatusOf(err), core.ErrorText(err))
		}
		return f.Status(fiber.StatusCreated).JSON(res)
	})
	go app.Listener(ln)
	return func(ctx context.Context) error {
		// The broker first: fasthttp waits for open streams, which the
		// broker's Shutdown ends (after what is queued).
		return errors.Join(c.broker.Shutdown(ctx), app.ShutdownWithContext(ctx))
	}
}

// fiberToken returns the token a Fiber request carries.
func fiberToken(f *fiber.Ctx) string {
	if t := f.Get(tokenHeader); t != "" {
		return t
	}
	return f.Query("token")
}
