// Package ginsse serves ssekit event streams from Gin routes.
//
// It only maps Gin onto the shared net/http streaming path
// ([nethttpsse.Serve]): the handler gets the *gin.Context (read the
// Last-Event-ID header with [LastEventID]); an error it returns, or a panic
// (logged with its stack to gin.DefaultErrorWriter, as gin.Recovery does), is
// pushed to c.Errors and answered with [core.StatusOf] and [core.ErrorText] as
// plain text, so Gin middleware sees it and the client never gets an empty 200
// (an error matching [core.ErrShutdown] gets [nethttpsse.Refuse]'s answer);
// the stream is written through c.Writer, so Gin's status and size bookkeeping
// (and logging middleware) stay right, with flush and the per-write deadline
// reached through its Unwrap; the client's disconnect is the cancellation of
// c.Request.Context(); when the stream ends the chain is aborted so later
// handlers do not write.
//
// Keep off SSE routes: timeout middlewares such as gin-contrib/timeout, which
// buffer the response or cut the stream at their deadline. Compression such as
// gin-contrib/gzip works (each flush delivers a chunk) but holds about 1 MiB of
// compressor state per open stream. Do not use c.Stream, c.SSEvent or
// CloseNotify on these routes either.
package ginsse

import (
	"errors"
	"fmt"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ssekit/ssekit/adapter"
	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

// HandlerFunc reads the request and returns the target to stream, or an error
// to answer with instead: its status comes from [core.StatusOf], for example
// via [core.Error].
type HandlerFunc func(c *gin.Context) (core.EventTarget, error)

// Handle returns a gin.HandlerFunc that streams what h returns, with opts
// configuring the stream loop.
func Handle(h HandlerFunc, opts ...core.Option) gin.HandlerFunc {
	o := core.NewOptions(opts...)
	return func(c *gin.Context) {
		o := o
		if adapter.Observed(o) {
			adapter.Describe(&o, core.StreamInfo{Adapter: "gin", Route: c.FullPath(),
				RequestID: adapter.RequestID(c.Writer.Header(), c.Request.Header),
				Context:   c.Request.Context(), Start: time.Now()})
		}
		t, err := adapter.CallHandler(o, c, h)
		if err == nil {
			err = nethttpsse.Serve(c.Writer, c.Request, t, o)
			if !errors.Is(err, nethttpsse.ErrNoFlush) {
				logPanic(c, err)
				c.Abort() // the stream ran: why it ended is not an HTTP error
				return
			}
		}
		logPanic(c, err)
		_ = c.Error(err)
		c.Abort()
		if errors.Is(err, core.ErrShutdown) {
			nethttpsse.Refuse(c.Writer, c.Request)
			return
		}
		c.String(core.StatusOf(err), core.ErrorText(err))
	}
}

// logPanic writes a panic that ended a handler or a stream, with its stack,
// where gin.Recovery writes the panics it recovers: gin.DefaultErrorWriter.
func logPanic(c *gin.Context, err error) {
	var pe *core.PanicError
	if errors.As(err, &pe) {
		fmt.Fprintf(gin.DefaultErrorWriter, "[Recovery] %s ssekit: panic recovered serving %s %s:\n%v\n%s\n",
			time.Now().Format("2006/01/02 - 15:04:05"), c.Request.Method, c.Request.URL.Path, pe.Value, pe.Stack)
	}
}

// LastEventID returns the request's Last-Event-ID header: the id of the last
// event a reconnecting client saw.
func LastEventID(c *gin.Context) string { return nethttpsse.LastEventID(c.Request) }
