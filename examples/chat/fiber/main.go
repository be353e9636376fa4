// Command fiber serves the chat example on Fiber, with a page that shows rooms
// and messages live:
//
//	go run ./examples/chat/fiber -addr 127.0.0.1:8080 [-redis 127.0.0.1:6379] [-token letmein]
//
// then open http://127.0.0.1:8080/ in two browser windows and chat. Only
// the routes are here: the chat itself, its checks and limits, and the
// flags are in package chat, the same on every framework.
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
	"github.com/ssekit/ssekit/examples/chat"
)

// fiberIdleWorkers is how long fasthttp keeps an idle worker; its cleaner
// notices a stopped server only after sleeping that long. Tests shorten it.
var fiberIdleWorkers = 10 * time.Second

func main() { chat.Main(chat.Framework{Name: "Fiber", Serve: serve}) }

func serve(ln net.Listener, c *chat.Chat) func(context.Context) error {
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
		ReadTimeout: c.Limits().BodyTimeout,
		IdleTimeout: c.Limits().IdleTimeout, // idle keep-alive connections
		// Bodies over this are refused by fasthttp before they are read in
		// full; up to it, the handler answers 413 above chat.MaxBody itself.
		BodyLimit:   4 * chat.MaxBody,
		Concurrency: c.Limits().MaxConns, // open connections
		// fasthttp would parse a multipart/form-data body (to memory and
		// temporary files) before the handler, which refuses anything but
		// JSON anyway.
		DisablePreParseMultipartForm: true,
	})
	app.Server().MaxIdleWorkerDuration = fiberIdleWorkers
	app.Get("/", adaptor.HTTPHandler(c.PageHandler("Fiber")))
	app.Get("/rooms/:room/events", fibersse.Handle(func(f *fiber.Ctx) (core.EventTarget, error) {
		return c.Subscribe(f.UserContext(), chat.StreamRequest{Room: f.Params("room"), Token: fiberToken(f),
			LastEventID: fibersse.LastEventID(f), Since: f.Query("since")})
	}, c.StreamOptions()...))
	app.Get("/metrics", adaptor.HTTPHandler(c.MetricsHandler()))
	app.Get("/presence", adaptor.HTTPHandler(c.PresenceHandler()))
	for path, h := range map[string]func(context.Context, chat.PostRequest) (chat.Posted, error){
		"/rooms/:room/messages": c.Post,
		"/rooms/:room/join":     c.Join,
	} {
		app.Post(path, func(f *fiber.Ctx) error {
			res, err := h(f.UserContext(), chat.PostRequest{Room: f.Params("room"), Token: fiberToken(f),
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
		return errors.Join(c.Broker().Shutdown(ctx), app.ShutdownWithContext(ctx))
	}
}

// fiberToken returns the token a Fiber request carries.
func fiberToken(f *fiber.Ctx) string {
	if t := f.Get(chat.TokenHeader); t != "" {
		return t
	}
	return f.Query("token")
}
