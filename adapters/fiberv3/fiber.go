package fiberv3sse

import (
	"errors"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/valyala/fasthttp"

	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/fasthttpsse"
)

// HandlerFunc reads the request (including [LastEventID]) and returns the
// target to stream, or an error to answer with instead: its status comes from
// [core.StatusOf] (for example via [core.Error]), or from a [*fiber.Error].
//
// The fiber.Ctx is valid only until the handler returns: a producer goroutine
// must not touch it, so copy what it needs first ([LastEventID] returns a
// copy; c.Get and c.Params do not, unless fiber.Config.Immutable is set).
type HandlerFunc func(c fiber.Ctx) (core.EventTarget, error)

// Handle returns a Fiber handler that streams what h returns. An error from h
// (or a panic in it) goes to Fiber's ErrorHandler as a [*fiber.Error], so the
// application's own error handling answers it.
func Handle(h HandlerFunc, opts ...core.Option) fiber.Handler {
	o := core.NewOptions(opts...)
	return func(c fiber.Ctx) error {
		t, err := core.Open(c, h)
		if err != nil {
			return fiberError(err)
		}
		rctx := c.RequestCtx()
		for _, kv := range core.Header {
			rctx.Response.Header.Set(kv[0], kv[1])
		}
		rctx.SetStatusCode(fiber.StatusOK)
		// Send the headers before the first event, not with it.
		rctx.Response.ImmediateHeaderFlush = true
		// Take the write deadline over from the server: it then applies no
		// Server.WriteTimeout to this response (core.Run sets one per write)
		// and clears the deadline once the response is done, so that a kept-
		// alive connection does not inherit the stream's last deadline.
		_ = rctx.SetWriteDeadline(time.Time{})
		// The body runs the stream when fasthttp writes it, after the handler
		// returned. It and the disconnect watch are fasthttp glue that
		// internal/fasthttpsse shares with the Fiber v2 adapter
		// (adapters/fiber).
		rctx.SetBodyStream(fasthttpsse.NewStream(t, o, rctx.Done(), rctx.Conn(),
			rctx.Request.IsBodyStream(), fasthttp.NewBoundedStreamReader), -1)
		return nil
	}
}

// LastEventID returns a copy of the request's Last-Event-ID header (the id of
// the last event a reconnecting client saw), safe to keep after the handler
// returns.
func LastEventID(c fiber.Ctx) string {
	return string(c.RequestCtx().Request.Header.Peek("Last-Event-ID"))
}

// fiberError turns a handler error into the error Fiber's ErrorHandler expects.
func fiberError(err error) error {
	if fe := (*fiber.Error)(nil); errors.As(err, &fe) {
		return fe
	}
	return fiber.NewError(core.StatusOf(err), core.ErrorText(err))
}
