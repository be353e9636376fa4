package core

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// Observer watches the streams of the handlers it is installed on
// ([WithObserver]): it is how metrics (the metrics/otelsse and
// metrics/promsse modules), logs ([WithLogger]) and your own hooks see
// streams start and end. Its methods are called outside every lock of the
// library; a panic in one is recovered (it ends only the stream it was
// called for). Without an Observer the stream loop pays one nil check.
type Observer interface {
	// StreamStart is called when a stream starts, before its first write,
	// on the goroutine that runs it. The StreamObserver it returns hears of
	// that stream until its end; nil ignores the stream.
	StreamStart(info StreamInfo) StreamObserver
	// StreamRejected is called for a request that was answered without a
	// stream: the handler returned an error or panicked, the server was
	// shutting down, the request was a HEAD, or the writer cannot flush.
	// reason is EndHandlerError, EndPanic, EndShutdown or EndClosed (HEAD).
	StreamRejected(info StreamInfo, reason EndReason, err error)
}

// StreamObserver hears of one stream, from [Observer.StreamStart] to End.
// Wrote and Heartbeat run between writes, one at a time, on the goroutine
// that wrote: the stream's, or a producer's whose Dispatch wrote a lone event
// itself (see [Target.Dispatch]). Keep them cheap (an atomic add).
// DispatchWaited runs on the producer's.
type StreamObserver interface {
	// Wrote is called after each batch the stream wrote and flushed: events
	// is the number of events in it, bytes their size. The first call, for
	// the headers, may carry none.
	Wrote(events, bytes int)
	// Heartbeat is called after a heartbeat comment (":\n", 2 bytes, not
	// counted by Wrote) was written and flushed.
	Heartbeat()
	// DispatchWaited is called when a [Target.Dispatch] had to wait for queue
	// space (the client read slower than the producer wrote), with how long.
	DispatchWaited(d time.Duration)
	// End is called once, after the target was stopped and Options.OnEnd ran,
	// with why the stream ended (err is nil for EndClosed).
	End(reason EndReason, err error)
}

// StreamInfo describes a request to an [Observer]. Adapters fill it.
type StreamInfo struct {
	// Adapter names the adapter: "net/http", "gin", "echo", "fiber", ...
	Adapter string
	// Route is the route pattern that matched, such as "/rooms/:room" (the
	// framework's, or net/http's Request.Pattern), or the one set with
	// [WithRoute], which takes precedence. Empty when unknown. It is meant as
	// a metric label: few distinct values, unlike the path.
	Route string
	// RequestID is the framework's request id when it has one: the
	// X-Request-ID response header set by a request-id middleware (Gin's,
	// Echo's, Fiber's), else the X-Request-ID request header; empty otherwise.
	RequestID string
	// Context is the request's context, with what middleware and the
	// framework put in it (the user, a trace); Fiber's UserContext. It may
	// be nil. Keep nothing from it past End.
	Context context.Context
	// Start is when the request reached the adapter.
	Start time.Time
}

// EndReason classifies why a stream ended, or why a request got no stream.
// Its values are short snake_case words, usable as metric labels.
type EndReason string

// The reasons [Reason] reports.
const (
	// EndClosed: the target ended normally (Close, a close event).
	EndClosed EndReason = "closed"
	// EndClientGone: the client went away (the request context was
	// cancelled, an adapter saw its connection close, or a write found it
	// closed: EPIPE, ECONNRESET).
	EndClientGone EndReason = "client_gone"
	// EndStalled: a write missed its deadline (Options.WriteTimeout): the
	// client stopped reading.
	EndStalled EndReason = "stalled"
	// EndWriteError: a write or flush failed otherwise.
	EndWriteError EndReason = "write_error"
	// EndSlowSubscriber: a broker subscription fell too far behind and was
	// disconnected.
	EndSlowSubscriber EndReason = "slow_subscriber"
	// EndShutdown: the server or the broker shut down.
	EndShutdown EndReason = "shutdown"
	// EndPanic: user code panicked (the handler, the target, a hook).
	EndPanic EndReason = "panic"
	// EndHandlerError: the handler returned an error, so no stream started.
	EndHandlerError EndReason = "handler_error"
	// EndBackendError: the broker's backend failed (such as the Redis feed).
	EndBackendError EndReason = "backend_error"
	// EndError: any other reason a target reported.
	EndError EndReason = "error"
)

// Reason classifies the reason a stream ended (what Options.OnEnd
// receives): nil is EndClosed; ErrClientGone, ErrShutdown and *PanicError
// have their own; an error matching ErrWrite is EndStalled when the write
// missed its deadline (os.ErrDeadlineExceeded), EndClientGone when the
// client had closed the connection (syscall.EPIPE, syscall.ECONNRESET), and
// EndWriteError otherwise.
// An error with an EndReason() EndReason method (in its chain) reports its
// own, as broker's ErrSlowSubscriber does. Anything else is EndError.
func Reason(err error) EndReason {
	if err == nil {
		return EndClosed
	}
	var pe *PanicError
	var r interface{ EndReason() EndReason }
	switch {
	case errors.As(err, &pe):
		return EndPanic
	case errors.Is(err, ErrClientGone):
		return EndClientGone
	case errors.Is(err, ErrWrite):
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return EndStalled
		case errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET):
			return EndClientGone // the write found the connection closed by the client
		}
		return EndWriteError
	case errors.As(err, &r):
		return r.EndReason()
	case errors.Is(err, ErrShutdown):
		return EndShutdown
	}
	return EndError
}

// rejectReason classifies the error of a request answered without a stream.
func rejectReason(err error) EndReason {
	switch r := Reason(err); r {
	case EndClosed, EndPanic, EndShutdown:
		return r
	}
	return EndHandlerError
}

// Observers returns an Observer that calls each of obs in turn (nil ones
// are skipped), such as metrics and a logger.
func Observers(obs ...Observer) Observer {
	var m multi
	for _, o := range obs {
		switch o := o.(type) {
		case nil:
		case multi:
			m = append(m, o...)
		default:
			m = append(m, o)
		}
	}
	switch len(m) {
	case 0:
		return nil
	case 1:
		return m[0]
	}
	return m
}

// multi is the Observer of Observers.
type multi []Observer

func (m multi) StreamStart(info StreamInfo) StreamObserver {
	var s multiStream
	for _, o := range m {
		if so := callStart(o, info); so != nil {
			s = append(s, so)
		}
	}
	switch len(s) {
	case 0:
		return nil
	case 1:
		return s[0]
	}
	return s
}

func (m multi) StreamRejected(info StreamInfo, reason EndReason, err error) {
	for _, o := range m {
		callRejected(o, info, reason, err)
	}
}

// multiStream is the StreamObserver of several observers.
type multiStream []StreamObserver

func (m multiStream) Wrote(events, bytes int) {
	for _, s := range m {
		s.Wrote(events, bytes)
	}
}

func (m multiStream) Heartbeat() {
	for _, s := range m {
		s.Heartbeat()
	}
}

func (m multiStream) DispatchWaited(d time.Duration) {
	for _, s := range m {
		callWaited(s, d)
	}
}

func (m multiStream) End(reason EndReason, err error) {
	for _, s := range m {
		callEnd(s, reason, err)
	}
}

// callStart calls o.StreamStart; a panic in it ignores the stream.
func callStart(o Observer, info StreamInfo) (so StreamObserver) {
	defer func() {
		if recover() != nil {
			so = nil
		}
	}()
	return o.StreamStart(info)
}

// callRejected calls o.StreamRejected, dropping a panic in it.
func callRejected(o Observer, info StreamInfo, reason EndReason, err error) {
	defer func() { _ = recover() }()
	o.StreamRejected(info, reason, err)
}

// callEnd calls s.End, dropping a panic in it.
func callEnd(s StreamObserver, reason EndReason, err error) {
	defer func() { _ = recover() }()
	s.End(reason, err)
}

// callWaited calls s.DispatchWaited, dropping a panic in it: it runs on the
// producer's goroutine, which must not pay for a broken hook.
func callWaited(s StreamObserver, d time.Duration) {
	defer func() { _ = recover() }()
	s.DispatchWaited(d)
}

// info returns the StreamInfo the adapter described o with.
func (o *Options) streamInfo() StreamInfo {
	var info StreamInfo
	if o.info != nil {
		info = *o.info
	}
	if o.Route != "" {
		info.Route = o.Route
	}
	return info
}
