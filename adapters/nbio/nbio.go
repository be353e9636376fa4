package nbiosse

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"

	"github.com/ssekit/ssekit/adapter"
	"github.com/ssekit/ssekit/core"
)

// HandlerFunc reads the request (including its Last-Event-ID header, see
// [LastEventID]) and returns the target to stream, or an error to answer
// with instead: its status comes from [core.StatusOf], for example via
// [core.Error].
//
// nbhttp reuses the *http.Request once the handler returns, while the stream
// goes on: a producer must not touch r; copy what it needs first (header
// values are copies already). r.Context() does not end when the client
// leaves: producers watch the target's Done instead.
type HandlerFunc func(r *http.Request) (core.EventTarget, error)

// Errors a request gets (500) when the adapter cannot stream on its
// connection; the handler's target is ended with them.
var (
	// ErrNotAttached: the engine serving the request was not passed to
	// [Attach] before it started.
	ErrNotAttached = errors.New("nbiosse: the nbhttp engine was not attached (call nbiosse.Attach before engine.Start)")
	// ErrUnsupportedConn: the request did not come over a plain TCP
	// connection of an nbhttp engine's event loop (TLS, or IOModBlocking).
	ErrUnsupportedConn = errors.New("nbiosse: the connection is not an nbio event-loop connection (TLS and blocking modes are not supported)")
)

// attached holds the engines Attach prepared.
var attached sync.Map // *nbio.Engine -> struct{}

// Attach prepares engine e for [Handle]: it installs the engine's
// written-size callback (nbio.Engine.OnWrittenSize), through which a stream
// learns that its bytes have left, so that it writes its next batch, or
// clears its write deadline. Call it once, after nbhttp.NewEngine and before
// e.Start. It replaces a written-size callback set before; an application
// that needs its own calls [WrittenSize] from it.
func Attach(e *nbhttp.Engine) {
	e.OnWrittenSize(writtenSize)
	attached.Store(e.Engine, struct{}{})
}

// WrittenSize is the written-size callback [Attach] installs, for an
// application that sets its own nbio.Engine.OnWrittenSize: call it from
// there with the same arguments.
func WrittenSize(c *nbio.Conn, b []byte, n int) { writtenSize(c, b, n) }

// LastEventID returns the request's Last-Event-ID header: the id of the last
// event a reconnecting client saw.
func LastEventID(r *http.Request) string { return r.Header.Get("Last-Event-ID") }

// handler is what Handle returns.
type handler struct {
	h            HandlerFunc
	o            core.Options
	heartbeat    int64 // nanoseconds; 0: none
	writeTimeout int64 // nanoseconds; 0: none
}

// Handle returns an http.Handler, for an nbhttp engine prepared with
// [Attach], that streams what h returns without a goroutine per stream:
// after h returns, the response's connection is taken over (hijacked) and
// written from a small pool of goroutines shared by every stream, when the
// target has frames, a heartbeat is due or the client's socket can take more.
//
// An error from h is answered through http.Error with [core.StatusOf] and
// [core.ErrorText]; a panic in h is answered 500 and, like a panic in the
// stream, logged with its stack through nbio's logging package and reported
// to [core.WithOnEnd]. A handler error matching [core.ErrShutdown], and any
// stream asked for once the options' Group is shut down, get [adapter.Refusal]'s
// answer on a connection then closed.
func Handle(h HandlerFunc, opts ...core.Option) http.Handler {
	o := core.NewOptions(opts...)
	return &handler{
		h:            h,
		o:            o,
		heartbeat:    int64(orDefault(o.Heartbeat, core.DefaultHeartbeat)),
		writeTimeout: int64(orDefault(o.WriteTimeout, core.DefaultWriteTimeout)),
	}
}

// ServeHTTP implements http.Handler.
func (hd *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o := &hd.o
	if adapter.Observed(hd.o) {
		// This request's own copy of the options, described for the
		// Observer; unobserved streams share the handler's.
		o = new(core.Options)
		*o = hd.o
		adapter.Describe(o, core.StreamInfo{Adapter: "nbio", Route: r.Pattern,
			RequestID: adapter.RequestID(w.Header(), r.Header), Context: r.Context(), Start: time.Now()})
	}
	t, err := adapter.CallHandler(*o, r, hd.h)
	switch {
	case errors.Is(err, core.ErrShutdown):
		refuse(w, r)
		return
	case err != nil:
		logPanic(err)
		http.Error(w, core.ErrorText(err), core.StatusOf(err))
		return
	}
	res, nbc, err := hijackable(w)
	if err != nil {
		err = adapter.End(t, *o, err)
		logPanic(err)
		http.Error(w, core.ErrorText(err), core.StatusOf(err))
		return
	}
	if adapter.Closing(*o) {
		refuse(w, r)
		logPanic(adapter.End(t, *o, core.ErrShutdown))
		return
	}
	if r.Method == http.MethodHead {
		adapter.SetHeader(w.Header())
		w.WriteHeader(http.StatusOK)
		logPanic(adapter.End(t, *o, nil)) // the headers are the whole answer
		return
	}
	down, ok := adapter.Join(*o)
	if !ok {
		refuse(w, r)
		logPanic(adapter.End(t, *o, core.ErrShutdown))
		return
	}
	s := &stream{
		nbc:     nbc,
		t:       t,
		h:       hd,
		o:       o,
		down:    down,
		wslot:   -1,
		chunked: r.ProtoAtLeast(1, 1),
		parser:  res.Parser,
		// The guard steps (stream.guard) are due at half of it.
		keepalive: int64(res.Parser.Engine.KeepaliveTime),
	}
	s.keepAlive = s.chunked && !r.Close
	s.so = adapter.Start(t, *o) // before anything can wake the stream
	if onStream != nil {
		onStream(s.pending)
	}
	s.head = head(w.Header(), r, s.chunked)
	s.conn, _, _ = res.Hijack()
	// Take the connection over from nbhttp: no read deadline (its keep-alive
	// timer) or write deadline (its WriteTimeout) may end the stream, and
	// what the client sends, and the close, now reach the stream.
	_ = nbc.SetReadDeadline(time.Time{})
	_ = nbc.SetWriteDeadline(time.Time{})
	s.hc = s.conn.(*nbhttp.Conn) // hijackable checked it
	s.hc.Parser = nil
	// The engine tells a connection's close through a job queued behind
	// this handler's, so it reaches the new session even if the client is
	// gone already.
	nbc.SetSession(s)
	if onHijack != nil {
		onHijack(nbc)
	}
	if down != nil {
		watchGroup(s, down)
	}
	if n, ok := t.(core.Notifier); ok {
		if adapter.Direct(t) {
			n.Notify(s.readyDirect)
		} else {
			n.Notify(func() { s.wake(evReady) })
		}
	} else {
		s.ready = make(chan struct{})
		go s.watchReady()
	}
	// The first step runs here, as net/http's loop would: the head leaves
	// at once, and the target's queue limit holds from now on (a producer
	// is not limited before the first drain, which must not wait for a
	// busy pool).
	s.runHere(evStart)
}

// onStream, when set (by tests), hears of each stream as it starts.
var onStream func(pending func() int64)

// onHijack, when set (by tests), gets each stream's connection once the
// stream has taken it over.
var onHijack func(c net.Conn)

// hijackable finds the nbhttp response under w (through Unwrap) and the
// event-loop connection it can hand over.
func hijackable(w http.ResponseWriter) (*nbhttp.Response, *nbio.Conn, error) {
	for {
		if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
			w = u.Unwrap()
			continue
		}
		break
	}
	res, ok := w.(*nbhttp.Response)
	if !ok || res.Parser == nil || res.Parser.Engine == nil {
		return nil, nil, ErrUnsupportedConn
	}
	if _, ok := attached.Load(res.Parser.Engine.Engine); !ok {
		logging.Error("%v", ErrNotAttached)
		return nil, nil, ErrNotAttached
	}
	hc, ok := res.Parser.Conn.(*nbhttp.Conn)
	if !ok {
		return nil, nil, ErrUnsupportedConn
	}
	nbc, ok := hc.Conn.(*nbio.Conn)
	if !ok {
		return nil, nil, ErrUnsupportedConn
	}
	return res, nbc, nil
}

// head returns the response head of a stream: status 200, the headers set
// on the response so far (by middleware) with [adapter.Header]'s, and the
// framing.
func head(h http.Header, r *http.Request, chunked bool) []byte {
	adapter.SetHeader(h)
	for _, k := range []string{"Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Trailer"} {
		delete(h, k)
	}
	b := make([]byte, 0, 256)
	if chunked {
		b = append(b, "HTTP/1.1 200 OK\r\n"...)
	} else {
		b = append(b, "HTTP/1.0 200 OK\r\n"...)
	}
	for k, vs := range h {
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if _, ok := h["Date"]; !ok {
		b = append(b, "Date: "...)
		b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
		b = append(b, "\r\n"...)
	}
	if chunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	return append(b, "\r\n"...)
}

// refuse answers a stream asked for while the server shuts down with
// [adapter.Refusal]: status 200, the event-stream headers, a short "retry:",
// the end, and the connection closed, so that the client reconnects soon,
// elsewhere. Nothing may have been written to w before.
func refuse(w http.ResponseWriter, r *http.Request) {
	adapter.SetHeader(w.Header())
	w.Header().Set("Connection", "close")
	r.Close = true // nbhttp closes the connection after the response
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(adapter.Refusal())
}

// logPanic logs err with its stack when it is (or wraps) a [*core.PanicError],
// through nbio's logging package, where nbhttp logs its handlers' panics.
func logPanic(err error) {
	var pe *core.PanicError
	if errors.As(err, &pe) {
		logging.Error("ssekit: panic in an event stream: %v\n%s", pe.Value, pe.Stack)
	}
}

// orDefault maps an option's zero to def and a negative value to 0 (none).
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}
