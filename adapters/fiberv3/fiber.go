package fiberv3sse

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/valyala/fasthttp"

	"github.com/ssekit/ssekit/core"
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
		rctx.SetBodyStream(&stream{t: t, o: o, done: rctx.Done(), conn: rctx.Conn(),
			bodyStream: rctx.Request.IsBodyStream()}, -1)
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

// The rest of this file, and watch.go and peek_*.go, are the fasthttp glue of
// the Fiber v2 adapter (adapters/fiber), unchanged but for names: both modules
// build on fasthttp's Response.SetBodyStream, and a package shared across
// modules would have to be published.

// stream is the response body. It holds only what was captured before the
// handler returned (fiber.Ctx goes back to its pool then). fasthttp frames it
// with WriteTo ([fasthttp.BodyWriterTo]) on the connection's own goroutine, so
// the stream loop writes straight to the connection, with no pipe; the only
// goroutine it adds is the [watch] on the connection.
type stream struct {
	t    core.EventTarget
	o    core.Options
	done <-chan struct{} // closed when the server shuts down
	conn net.Conn        // for per-write deadlines and the watch; nil without a connection

	bodyStream bool // the request body streams in (see startWatch)

	once sync.Once     // the first of WriteTo, Read and Close starts or ends the stream
	pipe io.ReadCloser // set when the body is consumed with Read
}

// errConsumed is returned when the body is consumed a second time.
var errConsumed = errors.New("fiberv3sse: event stream already consumed")

// errNotSent ends a stream whose body fasthttp closed without sending it (a
// HEAD request, or a body replaced after the handler).
var errNotSent = errors.New("fiberv3sse: response body not sent")

func (s *stream) claim() (first bool) {
	s.once.Do(func() { first = true })
	return first
}

// WriteTo runs the stream loop, writing to w. fasthttp's chunked writer sends
// and flushes each Write as one chunk, and core.Run writes each batch in one
// Write followed by Flush, so every batch leaves at once.
func (s *stream) WriteTo(w io.Writer) (int64, error) {
	if !s.claim() {
		return 0, errConsumed
	}
	return s.run(w, true)
}

// SupportsBodyWriteTo lets fasthttp use WriteTo instead of Read.
func (*stream) SupportsBodyWriteTo() bool { return true }

// Read is the fallback for a consumer that does not use WriteTo: the loop then
// runs on its own goroutine behind fasthttp's bounded pipe.
func (s *stream) Read(p []byte) (int, error) {
	s.once.Do(func() {
		s.pipe = fasthttp.NewBoundedStreamReader(func(w *bufio.Writer) { _, _ = s.run(w, true) })
	})
	if s.pipe == nil {
		return 0, errConsumed
	}
	return s.pipe.Read(p)
}

// Close is called by fasthttp once it is done with the body. If the body was
// never consumed, the loop runs against a closed writer so that the target is
// stopped and its producers wake up.
func (s *stream) Close() error {
	if s.claim() {
		_, _ = s.run(closedWriter{}, false)
		return nil
	}
	if s.pipe != nil {
		return s.pipe.Close()
	}
	return nil
}

// run is core.Run with the fasthttp glue. With watchConn, the connection is
// watched while the stream runs, so that a client that closes it ends the
// stream at once ([core.ErrClientGone]); see [watch]. A panic that escapes
// (from Options.OnEnd or a target's Stop) ends this response, never the
// process: fasthttp does not recover panics on the pipe's goroutine.
func (s *stream) run(w io.Writer, watchConn bool) (n int64, err error) {
	cw := &writer{w: w, conn: s.conn}
	var wt *watch
	if watchConn {
		wt = startWatch(s.conn, s.bodyStream)
	}
	defer func() {
		wt.stop() // before fasthttp reads from the connection again
		if r := recover(); r != nil {
			err = &core.PanicError{Value: r}
		}
		n = cw.n
	}()
	// fasthttp has no per-request cancellation: its done channel closes only
	// when the server shuts down, which core treats as a shutdown.
	o := s.o
	o.Shutdown = s.done
	err = core.Run(wt.ctx(), cw, s.t, o)
	// After a panic the body may be cut mid-frame: fail the response so that
	// the connection is closed. Any other end (the target's, the client's,
	// shutdown) finishes the body cleanly, unless a write failed.
	if pe := (*core.PanicError)(nil); !errors.As(err, &pe) {
		err = cw.err
	}
	return cw.n, err
}

// writer is the core.DeadlineWriter over fasthttp's body writer.
type writer struct {
	w    io.Writer
	conn net.Conn
	n    int64
	err  error // the first write or flush error
}

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.n += int64(n)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

// Flush flushes a buffered writer (the Read fallback's); fasthttp's chunked
// writer has already flushed each Write.
func (w *writer) Flush() error {
	f, ok := w.w.(interface{ Flush() error })
	if !ok {
		return nil
	}
	err := f.Flush()
	if err != nil && w.err == nil {
		w.err = err
	}
	return err
}

// errNoConn is returned by SetWriteDeadline when there is no connection.
var errNoConn = errors.New("fiberv3sse: no connection")

func (w *writer) SetWriteDeadline(t time.Time) error {
	if w.conn == nil {
		return errNoConn
	}
	return w.conn.SetWriteDeadline(t)
}

// closedWriter fails every write and flush.
type closedWriter struct{}

func (closedWriter) Write([]byte) (int, error) { return 0, errNotSent }
func (closedWriter) Flush() error              { return errNotSent }
