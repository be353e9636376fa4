package fibersse

import (
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/log"
	"github.com/valyala/fasthttp"

	"github.com/ssekit/ssekit/adapter"
	"github.com/ssekit/ssekit/adapter/fasthttpsse"
	"github.com/ssekit/ssekit/core"
)

// HandlerFunc reads the request (including [LastEventID]) and returns the
// target to stream, or an error to answer with instead: its status comes from
// [core.StatusOf] (for example via [core.Error]), or from a [*fiber.Error].
//
// The fiber.Ctx is valid only until the handler returns: a producer goroutine
// must not touch it, so copy what it needs first ([LastEventID] returns a
// copy; c.Get and c.Params do not, unless fiber.Config.Immutable is set).
type HandlerFunc func(c *fiber.Ctx) (core.EventTarget, error)

// Handle returns a Fiber handler that streams what h returns. An error from h
// (or a panic in it, logged with its stack through Fiber's log package) goes to
// Fiber's ErrorHandler as a [*fiber.Error], so the application's own error
// handling answers it. A panic in the stream, which runs after the handler
// returned, ends that stream only and is logged the same way. A handler error
// matching [core.ErrShutdown], and any stream asked for once the options'
// Group is shut down, get a 200 with [adapter.Refusal] and a closed connection.
func Handle(h HandlerFunc, opts ...core.Option) fiber.Handler {
	o := core.NewOptions(opts...)
	return func(c *fiber.Ctx) error {
		o := o
		if adapter.Observed(o) {
			adapter.Describe(&o, core.StreamInfo{Adapter: "fiber", Route: strings.Clone(c.Route().Path),
				RequestID: requestID(c.GetRespHeader(fiber.HeaderXRequestID), c.Get(fiber.HeaderXRequestID)),
				Context:   c.UserContext(), Start: time.Now()})
		}
		t, err := adapter.CallHandler(o, c, h)
		rctx := c.Context()
		switch {
		case errors.Is(err, core.ErrShutdown):
			refuse(rctx)
			return nil
		case err != nil:
			logPanic(err)
			return fiberError(err)
		case adapter.Closing(o):
			refuse(rctx)
			_ = adapter.End(t, o, core.ErrShutdown) // the stream never started
			return nil
		}
		for _, kv := range adapter.Header() {
			rctx.Response.Header.Set(kv[0], kv[1])
		}
		rctx.SetStatusCode(fiber.StatusOK)
		// Send the headers before the first event, not with it.
		rctx.Response.ImmediateHeaderFlush = true
		// Take the write deadline over from the server: it then applies no
		// Server.WriteTimeout to this response (adapter.Run sets one per write)
		// and clears the deadline once the response is done, so that a kept-
		// alive connection does not inherit the stream's last deadline.
		_ = rctx.SetWriteDeadline(time.Time{})
		// The body runs the stream when fasthttp writes it, after the handler
		// returned. It and the disconnect watch are fasthttp glue that
		// adapter/fasthttpsse shares with the Fiber v3 adapter
		// (adapters/fiberv3).
		rctx.SetBodyStream(fasthttpsse.NewStream(t, o, rctx.Done(), rctx.Conn(),
			rctx.Request.IsBodyStream(), fasthttp.NewBoundedStreamReader).LogPanics(log.Errorf), -1)
		return nil
	}
}

// LastEventID returns a copy of the request's Last-Event-ID header (the id of
// the last event a reconnecting client saw), safe to keep after the handler
// returns.
func LastEventID(c *fiber.Ctx) string {
	return string(c.Context().Request.Header.Peek("Last-Event-ID"))
}

// fiberError turns a handler error into the error Fiber's ErrorHandler expects.
func fiberError(err error) error {
	if fe := (*fiber.Error)(nil); errors.As(err, &fe) {
		return fe
	}
	return fiber.NewError(core.StatusOf(err), core.ErrorText(err))
}

// refuse answers a stream asked for while the server shuts down with
// [adapter.Refusal]: 200, the event-stream headers, a short "retry:", the end,
// and the connection closed, so that the client reconnects soon, elsewhere.
func refuse(rctx *fasthttp.RequestCtx) {
	for _, kv := range adapter.Header() {
		rctx.Response.Header.Set(kv[0], kv[1])
	}
	rctx.SetStatusCode(fiber.StatusOK)
	rctx.SetConnectionClose()
	rctx.SetBody(adapter.Refusal())
}

// logPanic logs a handler's panic with its stack through Fiber's logger.
func logPanic(err error) {
	if pe := (*core.PanicError)(nil); errors.As(err, &pe) {
		log.Errorf("ssekit: panic in an event-stream handler: %v\n%s", pe.Value, pe.Stack)
	}
}

// requestID returns a copy of the request id for core.StreamInfo: the one a
// request-id middleware set on the response, else the request's own (Fiber
// reuses the buffers both alias).
func requestID(resp, req string) string {
	if resp != "" {
		return strings.Clone(resp)
	}
	return strings.Clone(req)
}
