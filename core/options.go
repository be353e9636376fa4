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
	// OnEnd, when set, is called once for every request an adapter handles,
	// with why it ended: nil for a normal end (the target's Close, a close
	// event), ErrClientGone, an error matching ErrWrite, ErrShutdown, the
	// handler's error, or a *PanicError. It runs after the target is stopped.
	// Use it to log.
	OnEnd func(err error)
	// Observer, when set, hears of every stream's start, writes, heartbeats
	// and end, and of every request answered without a stream: metrics,
	// logs, hooks. See [Observer]. Set it with [WithObserver] or
	// [WithLogger], which add to it.
	Observer Observer
	// Route labels the streams of this handler for the Observer
	// ([StreamInfo.Route]); empty means the route pattern the framework
	// matched, when the adapter knows it.
	Route string

	info *StreamInfo // set by adapters (adapter.Describe) for the Observer
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

// WithObserver adds obs to [Options.Observer]: several are all called, in
// the order they were added.
func WithObserver(obs Observer) Option {
	return func(o *Options) { o.Observer = Observers(o.Observer, obs) }
}

// WithRoute sets [Options.Route].
func WithRoute(route string) Option { return func(o *Options) { o.Route = route } }

// NewOptions applies opts to the zero Options; a literal Options value works
// the same way.
func NewOptions(opts ...Option) Options {
	var o Options
	for _, f := range opts {
		f(&o)
	}
	return o
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
