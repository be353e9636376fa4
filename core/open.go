package core

import (
	"errors"
	"net/http"
	"reflect"
)

// ErrNilTarget is returned by [Open] when a handler returned neither a target
// nor an error (a typed nil pointer counts as no target).
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

// Open calls a handler with its framework's context and returns its target,
// or the error to answer with. A panic becomes a [*PanicError] (with its
// stack), a nil target (or a typed nil, such as a nil *Target) with a nil
// error becomes [ErrNilTarget], and a target returned beside an error is
// stopped so that its producers wake up, unless it is a typed nil: it is never
// called into, and the error's status survives. Whenever it returns an error,
// Options.OnEnd hears of it: OnEnd is called once for every request an
// adapter handles, whether or not its stream started.
func Open[C any](o Options, c C, h func(C) (EventTarget, error)) (t EventTarget, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, newPanicError(r)
		}
		if err != nil {
			reportEnd(o.OnEnd, err)
		}
	}()
	t, err = h(c)
	if isNil(t) {
		t = nil
	}
	switch {
	case err != nil && t != nil:
		if pe := stop(t, err); pe != nil {
			reportEnd(o.OnEnd, pe) // visible, but the handler's error is the answer
		}
		return nil, err
	case err == nil && t == nil:
		return nil, ErrNilTarget
	}
	return t, err
}

// End ends a stream that will not run (or ran without [Run]): it stops t
// (when not nil) with err and reports err to Options.OnEnd. A panic in either
// is returned as a [*PanicError]; otherwise End returns err.
func End(t EventTarget, o Options, err error) error {
	if !isNil(t) {
		if pe := stop(t, err); pe != nil {
			err = pe
		}
	}
	if pe := reportEnd(o.OnEnd, err); pe != nil {
		err = pe
	}
	return err
}

// stop calls t.Stop(err), returning a panic in it.
func stop(t EventTarget, err error) (pe *PanicError) {
	defer func() {
		if r := recover(); r != nil {
			pe = newPanicError(r)
		}
	}()
	t.Stop(err)
	return nil
}

// reportEnd calls onEnd(err) when set, returning a panic in it.
func reportEnd(onEnd func(error), err error) (pe *PanicError) {
	if onEnd == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			pe = newPanicError(r)
		}
	}()
	onEnd(err)
	return nil
}

// isNil reports whether t is nil or holds a nil pointer, map, slice, channel
// or func.
func isNil(t EventTarget) bool {
	if t == nil {
		return true
	}
	switch v := reflect.ValueOf(t); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func, reflect.Interface:
		return v.IsNil()
	}
	return false
}
