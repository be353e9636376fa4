// Package echosse serves ssekit event streams from Echo routes.
//
// It only maps Echo onto the shared net/http streaming path
// ([nethttpsse.Serve]): the handler gets the echo.Context (read the
// Last-Event-ID header with [LastEventID]); an error it returns, or a panic, is
// returned to Echo as an *echo.HTTPError so the HTTPErrorHandler answers it
// (an *echo.HTTPError as is, any other error with [core.StatusOf] and
// [core.ErrorText] and the original as its Internal error), and the client
// never gets an empty 200; the stream is written through c.Response(), so
// Echo's Status, Size and Committed stay right (no second header is written),
// with flush and the per-write deadline reached through its Unwrap; the
// client's disconnect is the cancellation of c.Request().Context(). When the
// stream ends the handler returns nil: why a stream ended is not an HTTP error
// (use [core.WithOnEnd] to log it).
//
// Keep off SSE routes: middleware.Timeout (deprecated; it buffers the response
// in a writer that cannot flush) and middleware.ContextTimeout (it ends every
// stream at its deadline). middleware.Gzip works (each flush delivers a chunk)
// but holds about 1 MiB of compressor state per open stream.
package echosse

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssekit/ssekit/adapter"
	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

// HandlerFunc reads the request and returns the target to stream, or an error
// to answer with instead: an *echo.HTTPError, or an error whose status comes
// from [core.StatusOf], for example via [core.Error].
type HandlerFunc func(c echo.Context) (core.EventTarget, error)

// Handle returns an echo.HandlerFunc that streams what h returns, with opts
// configuring the stream loop.
func Handle(h HandlerFunc, opts ...core.Option) echo.HandlerFunc {
	o := core.NewOptions(opts...)
	return func(c echo.Context) error {
		o := o
		if adapter.Observed(o) {
			adapter.Describe(&o, core.StreamInfo{Adapter: "echo", Route: c.Path(),
				RequestID: adapter.RequestID(c.Response().Header(), c.Request().Header),
				Context:   c.Request().Context(), Start: time.Now()})
		}
		t, err := adapter.CallHandler(o, c, h)
		if err == nil {
			err = nethttpsse.Serve(c.Response(), c.Request(), t, o)
			if !errors.Is(err, nethttpsse.ErrNoFlush) {
				logPanic(c, err)
				return nil // the stream ran: why it ended is not an HTTP error
			}
		}
		logPanic(c, err)
		if errors.Is(err, core.ErrShutdown) {
			nethttpsse.Refuse(c.Response(), c.Request())
			return nil
		}
		if core.StatusOf(err) == http.StatusNoContent {
			// The standard's "stop reconnecting", not an error: Echo's error
			// handler would write a body, which a 204 forbids.
			return c.NoContent(http.StatusNoContent)
		}
		return httpError(err)
	}
}

// LastEventID returns the request's Last-Event-ID header: the id of the last
// event a reconnecting client saw.
func LastEventID(c echo.Context) string { return nethttpsse.LastEventID(c.Request()) }

// httpError maps a handler error to the *echo.HTTPError Echo's error handler
// expects, keeping err as its Internal error.
func httpError(err error) error {
	if he, ok := err.(*echo.HTTPError); ok {
		return he
	}
	he := echo.NewHTTPError(core.StatusOf(err), core.ErrorText(err))
	var inner *echo.HTTPError
	if errors.As(err, &inner) { // a wrapped *echo.HTTPError keeps its status and message
		he.Code, he.Message = inner.Code, inner.Message
	}
	return he.SetInternal(err)
}

// logPanic logs a panic that ended a handler or a stream, with its stack, the
// way Echo's Recover middleware does: through c.Logger().
func logPanic(c echo.Context, err error) {
	var pe *core.PanicError
	if errors.As(err, &pe) {
		c.Logger().Errorf("[PANIC RECOVER] ssekit: panic serving %s %s: %v %s", c.Request().Method, c.Request().URL.Path, pe.Value, pe.Stack)
	}
}
