package fasthttpsse

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// watch is the context adapter.Run gets while a stream runs on a connection: it
// is done as soon as the client closes the connection. fasthttp has no such
// signal (it reads nothing from a connection while the response is written,
// and the stream is written inside its writeResponse), so without a watch a
// client that leaves an idle stream is noticed only by a failed heartbeat.
//
// It is net/http's background read (connReader.backgroundRead) on one
// goroutine per stream, except that it peeks (recv with MSG_PEEK) instead of
// reading: no byte is ever taken from fasthttp, so the connection stays
// usable for the next request whatever arrives. What the peek sees:
//
//   - the end of the connection (EOF) or an error: the client is gone, and
//     the context is done (as with net/http, a client that only shuts down
//     its sending side counts as gone);
//   - bytes on a plain connection: a pipelined next request. As with net/http,
//     the stream goes on and the watch ends (a client that leaves after that
//     is noticed by a failed write), and fasthttp serves the request after the
//     stream;
//   - bytes on a TLS connection: either a close_notify alert (the client is
//     closing) or a next request, which only decrypting could tell apart, so
//     the context is done: the stream ends cleanly and fasthttp reads what
//     came (the alert ends the connection, a request is served).
//
// Connections it cannot peek at (without a file descriptor: fasthttputil's
// in-memory pipes, Fiber's app.Test, fasthttp's Server.MaxConnsPerIP wrapper
// of a plain connection; or on a system other than Unix) are not watched.
type watch struct {
	conn net.Conn        // the socket: a read deadline in the past ends the peek
	raw  syscall.RawConn // conn's file descriptor
	tls  bool            // conn carries TLS: any byte ends the stream
	end  chan struct{}   // closed when the stream should end
	wg   sync.WaitGroup  // the peeking goroutine

	// Set by the peeking goroutine.
	n   int
	err error
	b   [1]byte
}

// aLongTimeAgo is a read deadline that has passed: it ends a pending peek.
var aLongTimeAgo = time.Unix(1, 0)

// startWatch starts watching c, or returns nil when it cannot. bodyStream
// says that the request body streams in (fasthttp's StreamRequestBody): bytes
// of it may still arrive, which on TLS cannot be told from a client leaving.
func startWatch(c net.Conn, bodyStream bool) *watch {
	if !canPeek || c == nil {
		return nil
	}
	w := &watch{conn: c}
	// *tls.Conn, also behind fasthttp's Server.MaxConnsPerIP wrapper.
	if tc, ok := c.(interface {
		ConnectionState() tls.ConnectionState
		NetConn() net.Conn
	}); ok {
		if bodyStream {
			return nil
		}
		w.conn, w.tls = tc.NetConn(), true
	}
	sc, ok := w.conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	// fasthttp leaves the request's read deadline (Server.ReadTimeout) on the
	// connection while it writes the response, and sets its own again before
	// it reads the next request (serveConn's keep-alive loop).
	if w.conn.SetReadDeadline(time.Time{}) != nil {
		return nil
	}
	w.raw, w.end = raw, make(chan struct{})
	w.wg.Go(w.run)
	return w
}

// run peeks until a byte, the end of the connection, an error, or stop.
func (w *watch) run() {
	err := w.raw.Read(w.peek)
	if err == nil {
		err = w.err
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded): // stop
		return
	case err == nil && w.n > 0 && !w.tls: // a next request: fasthttp's
		return
	}
	close(w.end)
}

// peek is the RawConn.Read callback: false asks to wait until the socket is
// readable.
func (w *watch) peek(fd uintptr) bool {
	w.n, w.err = peekFD(fd, w.b[:])
	return w.err != syscall.EAGAIN
}

// stop ends the watch and waits for its goroutine, then clears the read
// deadline it used (as net/http's abortPendingRead does), before fasthttp
// reads from the connection again. A nil w is a no-op.
func (w *watch) stop() {
	if w == nil {
		return
	}
	_ = w.conn.SetReadDeadline(aLongTimeAgo)
	w.wg.Wait()
	_ = w.conn.SetReadDeadline(time.Time{})
}

// ctx returns w as a context, or the background context for a nil w.
func (w *watch) ctx() context.Context {
	if w == nil {
		return context.Background()
	}
	return w
}

// Deadline reports no deadline.
func (*watch) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done is closed when the stream should end.
func (w *watch) Done() <-chan struct{} { return w.end }

// Err is [context.Canceled] once Done is closed.
func (w *watch) Err() error {
	select {
	case <-w.end:
		return context.Canceled
	default:
		return nil
	}
}

// Value holds no values.
func (*watch) Value(any) any { return nil }
