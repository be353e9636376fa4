package core

import (
	"context"
	"log/slog"
	"time"
)

// WithLogger adds to [Options.Observer] an observer that logs through l,
// as structured records: every stream's end ("sse stream ended", at Info,
// at Warn when a write failed or stalled or the target failed, at Error
// with the stack when it panicked) and every request answered without a
// stream ("sse stream rejected", at Info for a 4xx answer, at Warn for a
// 5xx, at Error with the stack for a panic). Each record carries the
// reason, the adapter, the route, the framework's request id when there is
// one ([StreamInfo.RequestID]), and for ended streams the duration, events
// and bytes. The records are logged with the request's context, so a
// handler that adds trace ids to it finds them there. Logging is off unless
// this option is given.
func WithLogger(l *slog.Logger) Option { return WithObserver(logObserver{l}) }

// logObserver is the Observer of WithLogger.
type logObserver struct{ l *slog.Logger }

func (o logObserver) StreamStart(info StreamInfo) StreamObserver {
	return &logStream{l: o.l, info: info, start: time.Now()}
}

func (o logObserver) StreamRejected(info StreamInfo, reason EndReason, err error) {
	level := slog.LevelInfo
	status := StatusOf(err)
	switch {
	case reason == EndPanic:
		level = slog.LevelError
	case reason == EndHandlerError && status >= 500:
		level = slog.LevelWarn
	}
	attrs := append(requestAttrs(info, reason), slog.Int("status", status))
	attrs = appendErr(attrs, err)
	o.l.LogAttrs(ctxOf(info), level, "sse stream rejected", attrs...)
}

// logStream is the StreamObserver of WithLogger.
type logStream struct {
	l      *slog.Logger
	info   StreamInfo
	start  time.Time
	events int64
	bytes  int64
}

func (s *logStream) Wrote(events, bytes int) {
	s.events += int64(events)
	s.bytes += int64(bytes)
}

func (s *logStream) Heartbeat() {}

func (s *logStream) DispatchWaited(time.Duration) {}

func (s *logStream) End(reason EndReason, err error) {
	level := slog.LevelInfo
	switch reason {
	case EndClosed, EndClientGone, EndShutdown:
	case EndPanic:
		level = slog.LevelError
	default:
		level = slog.LevelWarn
	}
	attrs := append(requestAttrs(s.info, reason),
		slog.Duration("duration", time.Since(s.start)),
		slog.Int64("events", s.events),
		slog.Int64("bytes", s.bytes))
	attrs = appendErr(attrs, err)
	s.l.LogAttrs(ctxOf(s.info), level, "sse stream ended", attrs...)
}

// requestAttrs are the attributes every record has.
func requestAttrs(info StreamInfo, reason EndReason) []slog.Attr {
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs, slog.String("reason", string(reason)), slog.String("adapter", info.Adapter))
	if info.Route != "" {
		attrs = append(attrs, slog.String("route", info.Route))
	}
	if info.RequestID != "" {
		attrs = append(attrs, slog.String("request_id", info.RequestID))
	}
	return attrs
}

// appendErr adds err, and the stack of a panic.
func appendErr(attrs []slog.Attr, err error) []slog.Attr {
	if err == nil {
		return attrs
	}
	attrs = append(attrs, slog.String("error", err.Error()))
	if pe := asPanic(err); pe != nil {
		attrs = append(attrs, slog.String("stack", string(pe.Stack)))
	}
	return attrs
}

func ctxOf(info StreamInfo) context.Context {
	if info.Context != nil {
		return info.Context
	}
	return context.Background()
}
