// Package nethttpsse serves ssekit event streams with net/http. It only maps
// the request, the response, flush, write deadline and the request context
// (cancelled when the client goes away) onto [adapter.Run].
package nethttpsse

import (
	"errors"
	"log"
	"net/http"
	"time"

	"github.com/ssekit/ssekit/adapter"
	"github.com/ssekit/ssekit/core"
)

// HandlerFunc reads the request (including its Last-Event-ID header) and
// returns the target to stream, or an error to answer with instead: its status
// comes from [core.StatusOf], for example via [core.Error].
type HandlerFunc func(r *http.Request) (core.EventTarget, error)

// Handle returns an http.Handler that streams what h returns.
//
// A panic in h or in the stream (its target, OnEnd) ends that request only:
// it is logged with its stack to the server's ErrorLog (the standard logger
// when unset), as net/http logs its own handlers' panics, and reported to
// [core.WithOnEnd]; a handler that panicked is answered with 500. A handler
// error matching [core.ErrShutdown], and any stream asked for once the
// options' Group is shut down, get [Refuse]'s answer.
func Handle(h HandlerFunc, opts ...core.Option) http.Handler {
	o := core.NewOptions(opts...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := o
		if adapter.Observed(o) {
			adapter.Describe(&o, core.StreamInfo{Adapter: "net/http", Route: r.Pattern,
				RequestID: adapter.RequestID(w.Header(), r.Header), Context: r.Context(), Start: time.Now()})
		}
		t, err := adapter.CallHandler(o, r, h)
		switch {
		case err == nil:
			err = Serve(w, r, t, o)
			if errors.Is(err, ErrNoFlush) {
				http.Error(w, core.ErrorText(err), core.StatusOf(err))
			}
		case errors.Is(err, core.ErrShutdown):
			Refuse(w, r)
		default:
			http.Error(w, core.ErrorText(err), core.StatusOf(err))
		}
		LogPanic(r, err)
	})
}

// LogPanic logs err with its stack when it is (or wraps) a [*core.PanicError],
// to the ErrorLog of the http.Server serving r (the standard logger when it
// has none), in the form net/http uses for its own handlers' panics. The
// net/http, Gin and Echo adapters call it; it does nothing for other errors.
func LogPanic(r *http.Request, err error) {
	var pe *core.PanicError
	if !errors.As(err, &pe) {
		return
	}
	logf := log.Printf
	if srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok && srv.ErrorLog != nil {
		logf = srv.ErrorLog.Printf
	}
	logf("ssekit: panic serving %s %s %s: %v\n%s", r.RemoteAddr, r.Method, r.URL.Path, pe.Value, pe.Stack)
}

// Refuse answers a stream asked for while the server shuts down with
// [adapter.Refusal]: status 200, the event-stream headers, a short "retry:" and
// the end, so that the client reconnects soon, elsewhere. Over HTTP/1 it also
// closes the connection ("Connection: close"), so that the reconnection goes
// through the load balancer again; over HTTP/2, where a proxy routes each
// request on its own, it leaves the connection alone (a GOAWAY there made
// undici's EventSource lose the retry and wait its default 3 s). Nothing may
// have been written to w before.
func Refuse(w http.ResponseWriter, r *http.Request) {
	adapter.SetHeader(w.Header())
	if r.ProtoMajor < 2 {
		w.Header().Set("Connection", "close")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(adapter.Refusal())
}

// LastEventID returns the request's Last-Event-ID header: the id of the last
// event a reconnecting client saw.
func LastEventID(r *http.Request) string { return r.Header.Get("Last-Event-ID") }

// ErrNoFlush is returned by Serve when the response writer cannot flush, so it
// cannot stream. Nothing has been written: the caller answers with an error
// (Handle answers 500).
var ErrNoFlush = errors.New("ssekit: response writer cannot flush")

// Serve streams t on w and returns why the stream ended. Adapters for
// frameworks built on net/http (Gin, Echo) call it with their writer; it finds
// Flush and SetWriteDeadline through wrappers that have Unwrap.
//
// Serve ends t in every case: when it cannot stream (ErrNoFlush), on a HEAD
// request, once the options' Group is shut down ([Refuse]'s answer,
// [core.ErrShutdown]), or through [adapter.Run].
func Serve(w http.ResponseWriter, r *http.Request, t core.EventTarget, o core.Options) error {
	if !canFlush(w) {
		return adapter.End(t, o, ErrNoFlush)
	}
	if adapter.Closing(o) {
		Refuse(w, r)
		return adapter.End(t, o, core.ErrShutdown)
	}
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex() // a POST stream must not wait for its body
	// The request body is left to the handler: draining it here held the
	// stream (and its producer's unbounded early queue) forever when the
	// body never came. net/http then notices a vanished client on an idle
	// POST stream only at the next failed write (a heartbeat).
	adapter.SetHeader(w.Header())
	// Take the write deadline over from the server: adapter.Run sets one per
	// write, and a disabled write timeout must not leave the server's in force.
	_ = rc.SetWriteDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return adapter.End(t, o, nil) // the headers are the whole answer
	}
	return adapter.Run(r.Context(), writer{w, rc, r.ProtoMajor >= 2}, t, o)
}

// writer adapts a ResponseWriter to adapter.DeadlineWriter.
type writer struct {
	http.ResponseWriter
	rc *http.ResponseController
	h2 bool
}

// LoopOnly implements adapter.LoopOnlyWriter: over HTTP/2 a write held by a
// stalled connection outlives its deadline (net/http queues the stream's
// reset behind the stalled bytes), so no producer may write there itself.
func (w writer) LoopOnly() bool { return w.h2 }

func (w writer) Flush() error                       { return w.rc.Flush() }
func (w writer) SetWriteDeadline(t time.Time) error { return w.rc.SetWriteDeadline(t) }

// canFlush reports whether the innermost writer under w can flush. It looks
// through wrappers even when they have Flush: Gin's does nothing and Echo's
// panics when the writer they wrap cannot flush.
func canFlush(w http.ResponseWriter) bool {
	for {
		if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
			w = u.Unwrap()
			continue
		}
		switch w.(type) {
		case http.Flusher, interface{ FlushError() error }:
			return true
		}
		return false
	}
}
