// Package nethttpsse serves ssekit event streams with net/http. It only maps
// the request, the response, flush, write deadline and the request context
// (cancelled when the client goes away) onto [core.Run].
package nethttpsse

import (
	"errors"
	"net/http"
	"time"

	"github.com/ssekit/ssekit/core"
)

// HandlerFunc reads the request (including its Last-Event-ID header) and
// returns the target to stream, or an error to answer with instead: its status
// comes from [core.StatusOf], for example via [core.Error].
type HandlerFunc func(r *http.Request) (core.EventTarget, error)

// Handle returns an http.Handler that streams what h returns.
func Handle(h HandlerFunc, opts ...core.Option) http.Handler {
	o := core.NewOptions(opts...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := core.Open(r, h)
		if err != nil {
			http.Error(w, core.ErrorText(err), core.StatusOf(err))
			return
		}
		_ = Serve(w, r, t, o)
	})
}

// LastEventID returns the request's Last-Event-ID header: the id of the last
// event a reconnecting client saw.
func LastEventID(r *http.Request) string { return r.Header.Get("Last-Event-ID") }

// ErrNoFlush is returned by Serve when the response writer cannot flush, so it
// cannot stream; nothing has been written.
var ErrNoFlush = errors.New("ssekit: response writer cannot flush")

// Serve streams t on w and returns why the stream ended. Adapters for
// frameworks built on net/http (Gin, Echo) call it with their writer; it finds
// Flush and SetWriteDeadline through wrappers that have Unwrap.
func Serve(w http.ResponseWriter, r *http.Request, t core.EventTarget, o core.Options) error {
	if !canFlush(w) {
		t.Stop(ErrNoFlush)
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return ErrNoFlush
	}
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex() // a POST stream must not wait for its body
	core.SetHeader(w.Header())
	w.WriteHeader(http.StatusOK)
	return core.Run(r.Context(), writer{w, rc}, t, o)
}

// writer adapts a ResponseWriter to core.DeadlineWriter.
type writer struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (w writer) Flush() error                       { return w.rc.Flush() }
func (w writer) SetWriteDeadline(t time.Time) error { return w.rc.SetWriteDeadline(t) }

// canFlush reports whether w, or a writer it wraps, can flush.
func canFlush(w http.ResponseWriter) bool {
	for {
		switch v := w.(type) {
		case http.Flusher, interface{ FlushError() error }:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return false
		}
	}
}
