package core

import "time"

// Defaults for [Options].
const (
	DefaultHeartbeat    = 15 * time.Second
	DefaultWriteTimeout = 10 * time.Second
)

// Options configures the stream loop. The zero value means the defaults.
type Options struct {
	// Heartbeat is how long a stream may stay idle before a ":" comment is
	// sent to keep proxies from closing it (and, on fasthttp connections the
	// adapters cannot watch, to notice a vanished client). Zero means
	// DefaultHeartbeat; negative disables it.
	Heartbeat time.Duration
	// WriteTimeout bounds each write and flush (each gets between half of it
	// and all of it), so a client that stops reading cannot hold the stream
	// forever. It replaces the server's own write
	// timeout, which would otherwise kill healthy long streams. Zero means
	// DefaultWriteTimeout; negative disables it.
	WriteTimeout time.Duration
	// Group, when set, lets the whole group of streams be shut down at once.
	Group *Group
	// Shutdown, when not nil, is a channel closed when the server shuts down.
	// The stream then ends as on a Group shutdown: it writes what is queued
	// and ends with ErrShutdown. It is for adapters whose framework has a
	// server-wide shutdown signal but no per-request cancellation (fasthttp's
	// RequestCtx.Done), which set it; users end streams with a Group.
	Shutdown <-chan struct{}
	// OnEnd, when set, is called once per stream with the reason it ended (nil
	// for a normal end), after the target is stopped. Use it to log.
	OnEnd func(err error)

	// clock, set by NewOptions, is the heartbeat clock shared by the streams
	// run with these Options; Run uses it while Heartbeat still matches it,
	// and a clock of the stream's own otherwise.
	clock *clock
}

// Option sets one field of [Options].
type Option func(*Options)

// WithHeartbeat sets [Options.Heartbeat].
func WithHeartbeat(d time.Duration) Option { return func(o *Options) { o.Heartbeat = d } }

// WithWriteTimeout sets [Options.WriteTimeout].
func WithWriteTimeout(d time.Duration) Option { return func(o *Options) { o.WriteTimeout = d } }

// WithGroup sets [Options.Group].
func WithGroup(g *Group) Option { return func(o *Options) { o.Group = g } }

// WithOnEnd sets [Options.OnEnd].
func WithOnEnd(f func(err error)) Option { return func(o *Options) { o.OnEnd = f } }

// NewOptions applies opts to the zero Options. Streams run with the result
// (or a copy) share one heartbeat clock instead of a timer each, which saves
// memory on idle streams; Options built otherwise give each stream a clock of
// its own. Either way a heartbeat leaves between Heartbeat and
// Heartbeat×17/16 after the last write, never earlier.
func NewOptions(opts ...Option) Options {
	var o Options
	for _, f := range opts {
		f(&o)
	}
	if hb := orDefault(o.Heartbeat, DefaultHeartbeat); hb > 0 {
		o.clock = newClock(hb)
	}
	return o
}

// Closing reports whether a stream started with o now would be refused: its
// Group is shut down or its Shutdown channel is closed. Adapters check it
// before they write the headers and then answer with [Refusal].
func (o Options) Closing() bool {
	if o.Group != nil && o.Group.closing() {
		return true
	}
	select {
	case <-o.Shutdown:
		return true
	default:
		return false
	}
}

func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}
