// Package fasthttpsse is the fasthttp glue that the Fiber adapters
// (adapters/fiber and adapters/fiberv3, each its own module) share: the
// response body that runs [adapter.Run] when fasthttp consumes it, and the
// disconnect watch on the connection while it runs.
//
// It uses the standard library only: what it needs from fasthttp (its bounded
// pipe, for the Read fallback) is passed in, and the adapters keep the
// framework mapping (the handler, the headers, the write deadline, and
// Response.SetBodyStream with a [*Stream]).
package fasthttpsse

import (
	"bufio"
	"errors"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/ssekit/ssekit/adapter"
	"github.com/ssekit/ssekit/core"
)

// Stream is the response body of one event stream, for fasthttp's
// Response.SetBodyStream with size -1. It holds only what was captured before
// the handler returned (the framework's context goes back to its pool then).
// fasthttp frames it with WriteTo (it implements fasthttp.BodyWriterTo) on the
// connection's own goroutine, so the stream loop writes straight to the
// connection, with no pipe; the only goroutine it adds is the watch on the
// connection (see [NewStream]).
type Stream struct {
	t core.EventTarget
	o core.Options
	// shutdown closes when the server shuts down.
	shutdown <-chan struct{}
	// conn is for per-write deadlines and the watch; nil without a connection.
	conn net.Conn
	// newPipe is fasthttp's bounded pipe, for Read.
	newPipe func(func(*bufio.Writer)) io.ReadCloser
	// bodyStream says that the request body streams in (see startWatch).
	bodyStream bool

	once sync.Once     // the first of WriteTo, Read and Close starts or ends the stream
	pipe io.ReadCloser // set when the body is consumed with Read
	logf func(format string, args ...any)
}

// LogPanics makes the stream log a panic that ends it (in its target, its
// Stop, Options.OnEnd), with its stack, through logf: the framework's logger,
// since the stream runs after the handler returned, out of reach of the
// framework's own recovery. It returns s.
func (s *Stream) LogPanics(logf func(format string, args ...any)) *Stream {
	s.logf = logf
	return s
}

// NewStream returns the body that streams t with the options o.
//
// shutdown is closed when the server shuts down (fasthttp's RequestCtx.Done):
// the stream then writes what is queued and ends with [core.ErrShutdown]
// ([adapter.RunUntil]). conn is the request's connection
// (RequestCtx.Conn; nil for none): each write gets a deadline on it
// ([core.Options.WriteTimeout]), and while the stream runs it is watched, so
// that a client that closes it ends the stream at once with
// [core.ErrClientGone]. bodyStream says that the request body streams in
// (Request.IsBodyStream): a TLS connection is then not watched, since bytes of
// the body may still arrive. newPipe (fasthttp.NewBoundedStreamReader) runs
// the loop for a consumer that calls Read instead of WriteTo: it must call
// its argument on a goroutine of its own and return the reader of what that
// writes, whose Close makes later writes fail.
func NewStream[W ~func(*bufio.Writer)](t core.EventTarget, o core.Options, shutdown <-chan struct{},
	conn net.Conn, bodyStream bool, newPipe func(W) io.ReadCloser) *Stream {
	// fasthttp has no per-request cancellation: its done channel closes only
	// when the server shuts down, which ends the stream as a shutdown.
	return &Stream{t: t, o: o, shutdown: shutdown, conn: conn, bodyStream: bodyStream,
		newPipe: func(f func(*bufio.Writer)) io.ReadCloser { return newPipe(W(f)) }}
}

// errConsumed is returned when the body is consumed a second time.
var errConsumed = errors.New("ssekit: event stream already consumed")

// errNotSent ends a stream whose body fasthttp closed without sending it (a
// HEAD request, or a body replaced after the handler).
var errNotSent = errors.New("ssekit: response body not sent")

func (s *Stream) claim() (first bool) {
	s.once.Do(func() { first = true })
	return first
}

// WriteTo runs the stream loop, writing to w. fasthttp's chunked writer sends
// and flushes each Write as one chunk, and adapter.Run writes each batch in one
// Write followed by Flush, so every batch leaves at once. It returns once the
// stream has ended: an error only when a write failed or a panic ended the
// stream (the body may then be cut, and fasthttp closes the connection).
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	if !s.claim() {
		return 0, errConsumed
	}
	return s.run(w, true)
}

// SupportsBodyWriteTo lets fasthttp use WriteTo instead of Read.
func (*Stream) SupportsBodyWriteTo() bool { return true }

// Read is the fallback for a consumer that does not use WriteTo: the loop then
// runs on its own goroutine behind the pipe from NewStream's newPipe.
func (s *Stream) Read(p []byte) (int, error) {
	s.once.Do(func() {
		s.pipe = s.newPipe(func(w *bufio.Writer) { _, _ = s.run(w, true) })
	})
	if s.pipe == nil {
		return 0, errConsumed
	}
	return s.pipe.Read(p)
}

// Close is called by fasthttp once it is done with the body. If the body was
// never consumed, the loop runs against a closed writer so that the target is
// stopped and its producers wake up; if it was consumed with Read, the pipe is
// closed, which ends the loop at its next write.
func (s *Stream) Close() error {
	if s.claim() {
		_, _ = s.run(closedWriter{}, false)
		return nil
	}
	if s.pipe != nil {
		return s.pipe.Close()
	}
	return nil
}

// run is adapter.Run with the fasthttp glue. With watchConn, the connection is
// watched while the stream runs, so that a client that closes it ends the
// stream at once ([core.ErrClientGone]); see [watch]. A panic that escapes
// (from Options.OnEnd or a target's Stop) ends this response, never the
// process: fasthttp does not recover panics on the pipe's goroutine.
func (s *Stream) run(w io.Writer, watchConn bool) (n int64, err error) {
	cw := &writer{w: w, conn: s.conn}
	var wt *watch
	if watchConn {
		wt = startWatch(s.conn, s.bodyStream)
	}
	defer func() {
		wt.stop() // before fasthttp reads from the connection again
		if r := recover(); r != nil {
			err = &core.PanicError{Value: r, Stack: debug.Stack()}
			if s.logf != nil {
				s.logf("ssekit: panic in an event stream: %v\n%s", r, debug.Stack())
			}
		}
		n = cw.n
	}()
	err = adapter.RunUntil(wt.ctx(), cw, s.t, s.o, s.shutdown)
	// After a panic the body may be cut mid-frame: fail the response so that
	// the connection is closed. Any other end (the target's, the client's,
	// shutdown) finishes the body cleanly, unless a write failed.
	if pe := (*core.PanicError)(nil); !errors.As(err, &pe) {
		err = cw.err
	} else if s.logf != nil {
		s.logf("ssekit: panic in an event stream: %v\n%s", pe.Value, pe.Stack)
	}
	return cw.n, err
}

// writer is the adapter.DeadlineWriter over fasthttp's body writer.
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
var errNoConn = errors.New("ssekit: no connection")

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
