package core

import (
	"errors"
	"net/http"
)

// ErrNilTarget is returned by [Open] when a handler returned neither a target
// nor an error.
var ErrNilTarget = errors.New("ssekit: handler returned a nil target")

// Header lists the response headers of an event stream, for adapters to set
// before the first write. Hop-by-hop headers (Connection, Keep-Alive,
// Transfer-Encoding) are deliberately absent: the server manages them, and
// they break HTTP/2.
var Header = [...][2]string{
	{"Content-Type", "text/event-stream"},
	{"Cache-Control", "no-cache"},
	{"X-Accel-Buffering", "no"},
}

// SetHeader sets [Header] on h.
func SetHeader(h http.Header) {
	for _, kv := range Header {
		h[kv[0]] = []string{kv[1]}
	}
}

// Open calls a handler with its framework's context and returns its target.
// A panic becomes a [*PanicError], a nil target with a nil error becomes
// [ErrNilTarget], and a target returned beside an error is stopped so that its
// producers wake up. Adapters answer any error with [StatusOf] and [ErrorText].
func Open[C any](c C, h func(C) (EventTarget, error)) (t EventTarget, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, &PanicError{Value: r}
		}
	}()
	t, err = h(c)
	switch {
	case err != nil && t != nil:
		t.Stop(err)
		return nil, err
	case err == nil && t == nil:
		return nil, ErrNilTarget
	}
	return t, err
}
