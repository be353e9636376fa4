// Package hook lets package adapter (the adapter author's kit) reach the
// stream loop, which lives in core beside the Target it drains without
// copying, without core exporting it to users. Core sets the hooks in its init.
package hook

import "context"

// Writer is the response body the loop writes to (adapter.Writer).
type Writer interface {
	Write(p []byte) (int, error)
	Flush() error
}

// Run runs the stream loop; t is a core.EventTarget and o a core.Options.
// shutdown, when not nil, ends the stream as a Group shutdown does.
var Run func(ctx context.Context, w Writer, t, o any, shutdown <-chan struct{}) error

// End stops t (a core.EventTarget, or nil) with err and reports err to the
// OnEnd of o (a core.Options); see adapter.End.
var End func(t, o any, err error) error

// Refusal returns the body answering a stream asked for during shutdown.
var Refusal func() []byte

// Describe records info (a *core.StreamInfo) in o (a *core.Options) for its
// Observer; see adapter.Describe.
var Describe func(o, info any)

// Join registers a stream in the Group of o (a core.Options) for an adapter
// that runs the stream without Run; see adapter.Join.
var Join func(o any) (down <-chan struct{}, ok bool)

// Leave unregisters a stream Join registered; see adapter.Leave.
var Leave func(o any)

// Start starts observing a stream run without Run: t is a core.EventTarget,
// o a core.Options; it returns a core.StreamObserver or nil. See
// adapter.Start.
var Start func(t, o any) any

// EndStarted is End for a stream Start started; so is what Start returned.
// See adapter.EndStarted.
var EndStarted func(t, o any, err error, so any) error

// Direct reports whether t (a core.EventTarget) is a *core.Target whose
// producers may write a lone event themselves (not QueueOnly); see
// adapter.Direct.
var Direct func(t any) bool
