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
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		Immutable:             true,
		// fasthttp reads the whole request (headers and body) before the
		// handler runs: ReadTimeout bounds that, for slow headers and slow
		// bodies alike. It does not cut event streams: the ssekit adapter
		// lifts the read deadline for a stream. WriteTimeout stays 0: the
		// adapter bounds each write of a stream itself.
		ReadTimeout: c.limits.BodyTimeout,
		IdleTimeout: c.limits.IdleTimeout, // idle keep-alive connections
		// Bodies over this are refused by fasthttp before they are read in
		// full; up to it, the handler answers 413 above maxBody itself.
		BodyLimit:   4 * maxBody,
		Concurrency: c.limits.MaxConns, // open connections
		// fasthttp would parse a multipart/form-data body (to memory and
		// temporary files) before the handler, which refuses anything but
		// JSON anyway.
		DisablePreParseMultipartForm: true,
	})
	app.Server().MaxIdleWorkerDuration = fiberIdleWorkers
	app.Get("/", adaptor.HTTPHandler(c.pageHandler("Fiber")))
	app.Get("/rooms/:room/events", fibersse.Handle(func(f *fiber.Ctx) (core.EventTarget, error) {
		return c.subscribe(f.UserContext(), streamRequest{Room: f.Params("room"), Token: fiberToken(f),
			LastEventID: fibersse.LastEventID(f), Since: f.Query("since")})
	}, streamOptions...))
	for path, h := range map[string]func(context.Context, postRequest) (posted, error){
		"/rooms/:room/messages": c.post,
		"/rooms/:room/join":     c.join,
	} {
		app.Post(path, func(f *fiber.Ctx) error {
			res, err := h(f.UserContext(), postRequest{Room: f.Params("room"), Token: fiberToken(f),
				ContentType: f.Get(fiber.HeaderContentType), Origin: f.Get(fiber.HeaderOrigin),
				FetchSite: f.Get("Sec-Fetch-Site"), Host: string(f.Request().Host()), // the Host header (Hostname would trust X-Forwarded-Host)
				Client: f.Context().RemoteIP().String(), // the connection's, never a header's
				Body:   bytes.NewReader(f.Body())})
			if err != nil {
				return fiber.NewError(core.StatusOf(err), core.ErrorText(err))
			}
			return f.Status(fiber.StatusCreated).JSON(res)
		})
	}
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
