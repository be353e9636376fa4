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
