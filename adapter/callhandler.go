package adapter

import (
	"reflect"
	"runtime/debug"

	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/hook"
)

// CallHandler calls a handler with its framework's context and returns its target,
// or the error to answer with. A panic becomes a [*core.PanicError] with its
// stack; a nil target (or a typed nil, such as a nil *core.Target) with a nil
// error becomes [core.ErrNilTarget]; a target returned beside an error is
// ended so that its producers wake up, unless it is a typed nil: it is never
// called into, and the error's status survives. Whenever CallHandler returns an
// error, Options.OnEnd hears of it, so OnEnd is called once for every request
// an adapter handles, whether or not its stream started.
func CallHandler[C any](o core.Options, c C, h func(C) (core.EventTarget, error)) (t core.EventTarget, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, &core.PanicError{Value: r, Stack: debug.Stack()}
		}
		if err != nil {
			_ = hook.End(nil, o, err)
		}
	}()
	t, err = h(c)
	if isNil(t) {
		t = nil
	}
	switch {
	case err != nil && t != nil:
		// Ended without a reason of its own: the handler's error is the
		// answer, and OnEnd hears of it once, above (or of a panic in Stop).
		if pe := hook.End(t, core.Options{}, err); pe != err {
			_ = hook.End(nil, o, pe)
		}
		return nil, err
	case err == nil && t == nil:
		return nil, core.ErrNilTarget
	}
	return t, err
}

// End ends a stream that will not run (or ran without [Run]): it stops t
// (when not nil) with err and reports err to Options.OnEnd. A panic in either
// is returned as a [*core.PanicError]; otherwise End returns err.
func End(t core.EventTarget, o core.Options, err error) error {
	if isNil(t) {
		t = nil
	}
	return hook.End(t, o, err)
}

// isNil reports whether t is nil or holds a nil pointer, map, slice, channel
// or func.
func isNil(t core.EventTarget) bool {
	if t == nil {
		return true
	}
	switch v := reflect.ValueOf(t); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func, reflect.Interface:
		return v.IsNil()
	}
	return false
}
