package core

// Notifier is an optional interface of an [EventTarget], for stream loops that
// keep no goroutine per stream (an event-loop server's adapter): instead of a
// send on Ready, the target calls a function. [Target] and broker
// subscriptions implement it; the goroutine-per-stream adapters never call it,
// so for them nothing changes.
type Notifier interface {
	EventTarget
	// Notify makes the target call f, instead of sending on Ready, whenever
	// Drain may have something new to return, including the end of the target
	// and its Stop. f runs on the goroutine that made it so (a producer, Close,
	// Stop, a broker's fan-out), without the target's locks held: it must
	// return quickly and must not call the target's other methods; it
	// schedules a Drain. (An adapter whose writes never block may instead
	// Drain and write at once, for a target whose producers may write
	// themselves: see adapter.Direct.) A panic in f stops the target with a [*PanicError] and does not
	// reach the producer. Frames queued before Notify are not announced
	// (Ready may still hold their signal): Drain once after it. Call it at
	// most once, before the stream starts.
	Notify(f func())
}

// Notify implements [Notifier].
func (t *Target) Notify(f func()) {
	t.mu.Lock()
	t.notify = f
	t.mu.Unlock()
}

// wake announces new frames or the end: a call to the Notify function, or a
// send on Ready without one. f is the Notify function read under t.mu.
func (t *Target) wake(f func()) {
	if f == nil {
		signal(t.ready)
		return
	}
	defer func() {
		if r := recover(); r != nil {
			t.Stop(newPanicError(r)) // its own wake finds t stopped: no loop
		}
	}()
	f()
}
