package adapter

import (
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/hook"
)

// Join registers a stream in the options' Group, for an adapter that runs
// its streams without [Run] (an event-loop adapter, which keeps no goroutine
// per stream): down closes when the group shuts down; the adapter then writes
// what is queued and ends the stream with [core.ErrShutdown]. ok is false,
// and nothing is registered, once the group is shut down: answer with
// [Refusal]. Without a Group, down is nil and ok is true. Every stream Join
// registered calls [Leave] once, after its target is ended ([End]), so that
// Group.Shutdown returns only once every target is stopped.
func Join(o core.Options) (down <-chan struct{}, ok bool) { return hook.Join(o) }

// Leave unregisters a stream that [Join] registered. Without a Group it does
// nothing.
func Leave(o core.Options) { hook.Leave(o) }

// Start starts the options' Observer's view of a stream that an adapter runs
// without [Run] (see [Join]), as Run does: it calls its StreamStart and, for
// a *core.Target, has Dispatch report its waits for queue space. Call it
// once, after Join and before the stream's first write. It returns nil when
// nothing observes the stream; otherwise the adapter calls the returned
// observer's Wrote after each batch it writes (the first, with the headers,
// may carry none) and Heartbeat after each heartbeat. Such a stream is ended
// with [EndStarted], not [End].
func Start(t core.EventTarget, o core.Options) core.StreamObserver {
	so, _ := hook.Start(t, o).(core.StreamObserver)
	return so
}

// EndStarted is [End] for a stream that [Start] started, with what Start
// returned: the reason goes to so's End (when so is not nil), never to the
// Observer's StreamRejected.
func EndStarted(t core.EventTarget, o core.Options, err error, so core.StreamObserver) error {
	if isNil(t) {
		t = nil
	}
	return hook.EndStarted(t, o, err, so)
}
