// Package echov5sse serves ssekit event streams from Echo v5 routes.
//
// It only maps Echo v5 onto the shared net/http streaming path
// ([nethttpsse.Serve]):
//
//	e.GET("/sse", echov5sse.Handle(func(c *echo.Context) (core.EventTarget, error) {
//		t := core.NewTarget()
//		go produce(t, echov5sse.LastEventID(c)) // dispatch on t until t.Done()
//		return t, nil
//	}))
//
// The handler gets the *echo.Context (read the Last-Event-ID header with
// [LastEventID]). An error it returns, or a panic, is returned to Echo as an
// *echo.HTTPError, so the Echo.HTTPErrorHandler answers it: an *echo.HTTPError
// as is, one found in the error's chain with its code and message, any other
// error with [core.StatusOf] and [core.ErrorText]; the original error stays
// in the chain (HTTPError.Wrap), for errors.Is, errors.As, echo.StatusCode and
// DefaultHTTPErrorHandler(true). The client never gets an empty 200.
//
// The stream is written through c.Response(), so the *echo.Response under it
// sees the status and every byte: its Status, Size and Committed stay right,
// Before and After hooks run, and the error handler does not write a second
// header. Flush and the per-write deadline are reached through Unwrap (with
// http.ResponseController), the client's disconnect is the cancellation of
// c.Request().Context(), and the per-write deadline replaces the server's
// WriteTimeout. When the stream ends the handler returns nil: why a stream
// ended is not an HTTP error (use [core.WithOnEnd] to log it).
//
// Keep off SSE routes: middleware.ContextTimeout (it ends every stream at its
// deadline) and RouterConfig.AutoHandleHEAD, whose HEAD wrapper keeps the
// status and headers back until the handler returns (so a HEAD request to a
// stream gets nothing until the stream ends); register a HEAD route of your
// own instead if you need one. middleware.Gzip works (each flush delivers a
// chunk) but holds compressor state per open stream; middleware.BodyDump
// copies every event into memory up to its limit.
package echov5sse

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/ssekit/ssekit/adapter"
	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

// HandlerFunc reads the request and returns the target to stream, or an error
// to answer with instead: an *echo.HTTPError, or an error whose status comes
// from [core.StatusOf] (echo's own sentinel errors such as echo.ErrForbidden,
// or [core.Error]).
type HandlerFunc func(c *echo.Context) (core.EventTarget, error)

// Handle returns an echo.HandlerFunc that streams what h returns, with opts
// configuring the stream loop.
func Handle(h HandlerFunc, opts ...core.Option) echo.HandlerFunc {
	o := core.NewOptions(opts...)
	return func(c *echo.Context) error {
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
func LastEventID(c *echo.Context) string { return nethttpsse.LastEventID(c.Request()) }

// httpError maps a handler error to the *echo.HTTPError Echo's error handler
// expects, keeping err in its chain.
func httpError(err error) error {
	if he, ok := err.(*echo.HTTPError); ok {
		return he
	}
	var inner *echo.HTTPError
	if errors.As(err, &inner) { // a wrapped *echo.HTTPError keeps its status and message
		return echo.NewHTTPError(inner.Code, inner.Message).Wrap(err)
	}
	return echo.NewHTTPError(core.StatusOf(err), core.ErrorText(err)).Wrap(err)
}

// logPanic logs a panic that ended a handler or a stream, with its stack,
// through c.Logger().
func logPanic(c *echo.Context, err error) {
	var pe *core.PanicError
	if errors.As(err, &pe) {
		c.Logger().Error("ssekit: panic serving", "method", c.Request().Method, "path", c.Request().URL.Path,
			"panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
	}
}
