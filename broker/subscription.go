package broker

import (
	"runtime/debug"
	"sync"

	"github.com/ssekit/ssekit/core"
)

// maxIdleQueue is the largest queue capacity a subscription keeps once
// drained (at most 1.5 KiB of slice headers; the frames themselves are
// released): a rarer burst's larger queue is released. Keeping fewer slots
// makes every burst between two drains regrow the queue: at 16, bursts of
// 32 events to 100 subscribers published 5 to 10 times slower.
const maxIdleQueue = 64

// resetFrame is the encoded [ResetEvent] signal.
var resetFrame = []byte("event: " + ResetEvent + "\ndata: \n\n")

// Subscription is one subscriber's view of its topics: a [core.EventTarget]
// fed by the broker. It has no goroutine of its own: the broker's fan-out
// queues references to the shared encoded frames, and the stream loop that
// runs it takes them with Drain.
//
// Create it with [Broker.Subscribe]; the stream loop stops it. The methods
// are safe for concurrent use.
type Subscription struct {
	b      *Broker
	topics []string
	ready  chan struct{} // cap 1: frames or the end are waiting
	notify func()        // replaces the send on ready (Notify); guarded by mu
	done   chan struct{} // closed by Stop; made by Done on demand, guarded by mu

	idx        []int // index in each topic's set; guarded by b.mu
	registered bool  // guarded by b.mu
	watched    int   // topics[:watched] are watched; set before Subscribe returns

	mu        sync.Mutex
	q         [][]byte // queued frames, shared read-only
	qbytes    int
	limit     int     // frames allowed in q; raised while a replay is queued
	bytes     int     // bytes allowed in q, 0 for none; raised likewise
	held      []Entry // live entries that arrived during the replay
	heldBytes int
	replaying bool
	floor     ID   // entries up to this id are already queued or seen
	ending    bool // no more frames: Drain reports the end once q is empty
	stopped   bool
	err       error
}

// Topics returns the topics subscribed to, without duplicates.
func (s *Subscription) Topics() []string { return append([]string(nil), s.topics...) }

// Ready implements [core.EventTarget].
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Drain implements [core.EventTarget]: it appends every queued frame to dst.
// A queue that grew past a few slots in a burst is released, so an idle
// subscription keeps no large buffer.
func (s *Subscription) Drain(dst []byte) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.q {
		dst = append(dst, f...)
	}
	if cap(s.q) > maxIdleQueue {
		s.q = nil
	} else {
		clear(s.q)
		s.q = s.q[:0]
	}
	s.qbytes = 0
	s.limit, s.bytes = s.b.limit, s.b.bytes
	return dst, s.ending || s.stopped
}

// Stop implements [core.EventTarget]: it ends the subscription at once,
// dropping what is queued, records err as the reason unless one is already
// recorded, and leaves the broker. Only the first call has an effect; on a nil
// subscription it does nothing.
func (s *Subscription) Stop(err error) {
	if s == nil || !s.stop(err) {
		return
	}
	s.wake(s.notifier())
	s.b.remove(s)
}

// stop marks s stopped; false if it already was.
func (s *Subscription) stop(err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.stopped = true
	if s.err == nil {
		s.err = err
	}
	s.q, s.held, s.qbytes, s.heldBytes = nil, nil, 0, 0
	if s.done != nil {
		close(s.done)
	}
	return true
}

// Done returns a channel that is closed when the subscription has stopped.
func (s *Subscription) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		if s.stopped {
			return closedDone
		}
		s.done = make(chan struct{}) // on demand: most subscriptions are never asked
	}
	return s.done
}

// closedDone is the Done channel of a subscription stopped before anyone
// asked for it.
var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Err reports why the subscription ended or is ending: nil while it runs and
// when it ended normally (a "close" event, or its stream ended without
// error); otherwise the reason, such as [ErrSlowSubscriber],
// [core.ErrShutdown], [core.ErrClientGone] or a backend error.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// end makes the stream end after what is queued, with reason err.
func (s *Subscription) end(err error) {
	if s.endLocked(err) {
		s.wake(s.notifier())
	}
}

// endLocked marks s ending; false if it already was, or stopped.
func (s *Subscription) endLocked(err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ending || s.stopped {
		return false
	}
	s.ending = true
	if s.err == nil {
		s.err = err
	}
	return true
}

// outcome is what deliver did with an entry.
type outcome uint8

const (
	skipped    outcome = iota // ended, stopped, or already queued or seen
	taken                     // queued or held back
	overflowed                // the queue was full: the subscription ended or dropped older events
)

// deliver queues a live entry without blocking; while the replay is read it
// holds it back instead, within the same bounds. It signals Ready at once,
// but returns a Notify function to call instead, which the broker calls once
// it has released its own lock, and what it did with e.
func (s *Subscription) deliver(e *Entry) (func(), outcome) {
	wake, f, out := s.push(e)
	if !wake {
		return nil, out
	}
	if f == nil {
		signal(s.ready)
	}
	return f, out
}

// push queues or holds e and reports whether the stream loop needs a signal,
// the Notify function, if any, and what it did with e.
func (s *Subscription) push(e *Entry) (bool, func(), outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ending || s.stopped || e.ID.Compare(s.floor) <= 0 {
		return false, nil, skipped
	}
	var sig bool
	var out outcome
	if s.replaying {
		sig, out = s.holdLocked(e)
	} else {
		sig, out = s.pushLocked(e)
	}
	return sig, s.notify, out
}

// full reports whether a queue of n items holding total bytes has no room
// for one more of size bytes under s's bounds. One item always fits into an
// empty queue, whatever its size.
func (s *Subscription) full(n, total, size int) bool {
	return (s.limit > 0 && n >= s.limit) || (s.bytes > 0 && n > 0 && total+size > s.bytes)
}

// makeRoom drops the oldest items of q until one more of size bytes fits
// within limit items and bytes (0: no bound) and returns what is left
// and its new byte total.
func makeRoom[T any](q []T, total, size, limit, bytes int, sizeOf func(*T) int) ([]T, int) {
	k := 0
	for k < len(q) && ((limit > 0 && len(q)-k >= limit) || (bytes > 0 && total+size > bytes)) {
		total -= sizeOf(&q[k])
		k++
	}
	m := copy(q, q[k:])
	clear(q[m:])
	return q[:m], total
}

func frameSize(f *[]byte) int { return len(*f) }

func entrySize(e *Entry) int { return len(e.Frame) }

// holdLocked holds back a live entry that arrived while the replay is read,
// under the bounds and overflow policy of the queue, and reports whether the
// stream loop needs a signal.
func (s *Subscription) holdLocked(e *Entry) (bool, outcome) {
	n := len(e.Frame)
	out := taken
	if s.full(len(s.held), s.heldBytes, n) {
		if s.b.overflow == Disconnect {
			s.overflowLocked()
			return true, overflowed
		}
		s.held, s.heldBytes = makeRoom(s.held, s.heldBytes, n, s.limit, s.bytes, entrySize)
		out = overflowed
	}
	s.held = append(s.held, *e)
	s.heldBytes += n
	return false, out
}

// pushLocked queues a live entry, applying the overflow policy, and reports
// whether the stream loop needs a signal.
func (s *Subscription) pushLocked(e *Entry) (bool, outcome) {
	n := len(e.Frame)
	out := taken
	if s.full(len(s.q), s.qbytes, n) {
		if s.b.overflow == Disconnect {
			s.overflowLocked()
			return true, overflowed
		}
		s.q, s.qbytes = makeRoom(s.q, s.qbytes, n, s.limit, s.bytes, frameSize)
		out = overflowed
	}
	first := len(s.q) == 0
	s.q = append(s.q, e.Frame)
	s.qbytes += n
	s.floor = e.ID
	if e.Close && s.b.closeEnds {
		s.ending = true
		return true, out
	}
	return first, out // otherwise a signal is pending or the loop is draining
}

// overflowLocked ends the subscription under the Disconnect policy.
func (s *Subscription) overflowLocked() {
	s.ending = true
	if s.err == nil {
		s.err = ErrSlowSubscriber
	}
	s.q, s.held, s.qbytes, s.heldBytes = nil, nil, 0, 0
}

// replay queues the signal (unless complete) and the logged entries after
// the client's id, then the live entries held meanwhile that the replay did
// not cover, and switches the subscription to live delivery. It returns the
// number of logged entries queued and whether the signal was.
func (s *Subscription) replay(entries []Entry, complete bool, after ID) (int, bool) {
	sig, n, reset := s.replayLocked(entries, complete, after)
	if sig {
		s.wake(s.notifier())
	}
	return n, reset
}

// replayLocked does replay's work under s.mu and reports whether the stream
// loop needs a signal, and what replay returns.
func (s *Subscription) replayLocked(entries []Entry, complete bool, after ID) (sig bool, n int, reset bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held := s.held
	s.held, s.heldBytes, s.replaying = nil, 0, false
	if s.ending || s.stopped {
		return false, 0, false
	}
	s.floor = after
	if !complete {
		reset = true
		s.q = append(s.q, resetFrame)
		s.qbytes += len(resetFrame)
		if len(entries) == 0 {
			// Nothing logged after the client's id, which may be beyond
			// every id the backend holds (a restart with the clock behind, a
			// restore that lost acknowledged events, a forged id): live
			// events must not be held to it.
			s.floor = ID{}
		}
	}
	for i := range entries {
		e := &entries[i]
		if e.ID.Compare(s.floor) <= 0 {
			continue
		}
		s.q = append(s.q, e.Frame)
		s.qbytes += len(e.Frame)
		s.floor = e.ID
		n++
		if e.Close && s.b.closeEnds {
			s.ending = true
			break
		}
	}
	// The replay never counts against the queue's bounds.
	if s.limit = s.b.limit; s.limit > 0 {
		s.limit += len(s.q)
	}
	if s.bytes = s.b.bytes; s.bytes > 0 {
		s.bytes += s.qbytes
	}
	for i := range held {
		if s.ending {
			break
		}
		if held[i].ID.Compare(s.floor) > 0 {
			s.pushLocked(&held[i])
		}
	}
	return len(s.q) > 0 || s.ending, n, reset
}

// Notify implements [core.Notifier]: f is called instead of a send on Ready
// (see there for the contract). The broker calls it after releasing its own
// locks.
func (s *Subscription) Notify(f func()) {
	s.mu.Lock()
	s.notify = f
	s.mu.Unlock()
}

// notifier returns the Notify function, nil when there is none.
func (s *Subscription) notifier() func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notify
}

// wake announces new frames or the end: a call to f (the Notify function),
// or a send on Ready when f is nil. A panic in f stops s with it.
func (s *Subscription) wake(f func()) {
	if f == nil {
		signal(s.ready)
		return
	}
	defer func() {
		if r := recover(); r != nil {
			s.Stop(&core.PanicError{Value: r, Stack: debug.Stack()}) // its own wake finds s stopped
		}
	}()
	f()
}

// signal does a non-blocking send on a channel of capacity one.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
