package core

import (
	"sync"
	"time"
)

// A clock is the heartbeat timing shared by every stream run with one
// [Options] value made by [NewOptions] (an adapter's Handle makes one per
// handler), so that an idle stream costs no timer of its own: streams would
// otherwise hold one time.Timer each.
//
// It is a small timing wheel. While streams are registered, one
// time.AfterFunc ticks every step (the interval / 16); there is no goroutine
// per clock, and the AfterFunc is stopped when the last stream leaves. A
// stream that wants to wake at a time asks [clock.at] for the channel of the
// first tick expected at or after it; each tick closes its slot's channel.
// Ticks are never early, so a stream wakes no earlier than it asked; Run
// checks the idle time again on waking anyway. A heartbeat thus leaves between
// Heartbeat and Heartbeat + step after the last write (plus the timer's own
// lateness), and an idle stream wakes about once per Heartbeat.
type clock struct {
	d, step time.Duration

	mu      sync.Mutex
	streams int                       // registered streams
	timer   *time.Timer               // the AfterFunc; nil while no stream is registered
	gen     uint64                    // the timer generation; a stale callback does nothing
	n       uint64                    // ticks so far
	at0     time.Time                 // when tick n happened (or the clock started)
	slots   [wheelSlots]chan struct{} // slot i closes at the next tick t with t%wheelSlots == i; made on demand
}

// wheelSlots bounds how many ticks ahead a stream can wait: a stream waits at
// most 16 or 17 ticks (Heartbeat / step, plus the part of a step already
// gone); a longer wait is cut short and the stream waits again.
const wheelSlots = 32

// newClock returns a clock of interval d (> 0). NewOptions makes one per
// call, so handlers built separately (or tests in separate synctest bubbles)
// share nothing.
func newClock(d time.Duration) *clock {
	return &clock{d: d, step: max(d/16, 1)}
}

// join registers a stream, starting the ticks if it is the first.
func (c *clock) join() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.streams++
	if c.timer == nil {
		c.gen++
		g := c.gen
		c.at0 = time.Now()
		c.timer = time.AfterFunc(c.step, func() { c.tick(g) })
	}
}

// leave unregisters a stream, stopping the ticks if it was the last.
func (c *clock) leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.streams--; c.streams == 0 {
		c.timer.Stop()
		c.timer = nil
		c.gen++ // a callback already running returns without ticking
		// Nobody waits now: drop the channels, leaving the slots
		// consistent with n (every slot's tick is in the future).
		clear(c.slots[:])
	}
}

// tick is the AfterFunc: it closes the current slot and re-arms itself.
func (c *clock) tick(g uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g != c.gen {
		return
	}
	c.n++
	c.at0 = time.Now()
	i := c.n % wheelSlots
	if ch := c.slots[i]; ch != nil {
		close(ch)
		c.slots[i] = nil
	}
	c.timer.Reset(c.step)
}

// at returns a channel closed at the first tick expected at or after t, or
// earlier if t is more than wheelSlots-1 ticks away. The caller is
// registered.
func (c *clock) at(t time.Time) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Tick n+k comes no earlier than at0 + k*step.
	k := uint64(1)
	if wait := t.Sub(c.at0); wait > c.step {
		k = uint64((wait + c.step - 1) / c.step)
	}
	k = min(k, wheelSlots-1)
	i := (c.n + k) % wheelSlots
	ch := c.slots[i]
	if ch == nil {
		ch = make(chan struct{})
		c.slots[i] = ch
	}
	return ch
}
