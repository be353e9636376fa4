package core

import "github.com/ssekit/ssekit/internal/hook"

func init() {
	hook.End = func(t, o any, err error) error {
		tg, _ := t.(EventTarget)
		opts := o.(Options)
		return endStream(tg, &opts, err, false, nil)
	}
	hook.Describe = func(o, info any) {
		i := *info.(*StreamInfo)
		o.(*Options).info = &i
	}
	hook.Refusal = refusal
	hook.Start = func(t, o any) any {
		opts := o.(Options)
		if opts.Observer == nil {
			return nil
		}
		so := callStart(opts.Observer, opts.streamInfo())
		if q, ok := t.(*Target); ok && so != nil {
			q.observe(so)
		}
		if so == nil {
			return nil // not a nil StreamObserver in an any
		}
		return so
	}
	hook.EndStarted = func(t, o any, err error, so any) error {
		tg, _ := t.(EventTarget)
		opts := o.(Options)
		s, _ := so.(StreamObserver)
		return endStream(tg, &opts, err, true, s)
	}
}

// end ends a stream: it stops t (when not nil) with err and reports err to
// Options.OnEnd. A panic in either is returned as a [*PanicError], and OnEnd
// then hears of the panic; otherwise end returns err. adapter.End exports it.
func end(t EventTarget, o Options, err error) error {
	if t != nil {
		if pe := stop(t, err); pe != nil {
			err = pe
		}
	}
	if pe := reportEnd(o.OnEnd, err); pe != nil {
		err = pe
	}
	return err
}

// endStream is end, then tells the Observer: the stream's own
// StreamObserver (so, when it started and is observed) or, for a request
// that never streamed, Observer.StreamRejected.
func endStream(t EventTarget, o *Options, err error, started bool, so StreamObserver) error {
	err = end(t, *o, err)
	switch {
	case so != nil:
		callEnd(so, Reason(err), err)
	case !started && o.Observer != nil:
		callRejected(o.Observer, o.streamInfo(), rejectReason(err), err)
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
