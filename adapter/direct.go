package adapter

import (
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/hook"
)

// Direct reports whether the producers of t may write a lone event on their
// own goroutine: t is a *core.Target made without core.QueueOnly. [Run]
// already does so for them (see [Writer]). An adapter that runs streams
// without Run, on a server whose writes never block (an event loop's), may
// likewise do a stream's Drain and write inside t's Notify function, on the
// producer's goroutine, when the stream is idle, instead of handing the work
// to another goroutine: the hand-off, waking a parked goroutine, costs more
// than the write. Broker subscriptions are never direct: a Publish must not
// pay for its subscribers' writes.
func Direct(t core.EventTarget) bool { return hook.Direct(t) }
