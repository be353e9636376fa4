package broker

import (
	"sync"
)

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
func (s *Subscription) Drain(dst []byte) ([]byte, bool) {
	s.mu.Lock()
	for _, f := range s.q {
		dst = append(dst, f...)
	}
	if cap(s.q) > 64 {
		s.q = nil // do not pin a rare burst's queue
	} else {
		clear(s.q)
		s.q = s.q[:0]
	}
	s.qbytes = 0
	s.limit, s.bytes = s.b.limit, s.b.bytes
	end := s.ending || s.stopped
	s.mu.Unlock()
	return dst, end
}

// Stop implements [core.EventTarget]: it ends the subscription at once,
// dropping what is queued, records err as the reason unless one is already
// recorded, and leaves the broker. Only the first call has an effect; on a nil
// subscription it does nothing.
func (s *Subscription) Stop(err error) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	if s.err == nil {
		s.err = err
	}
	s.q, s.held = nil, nil
	if s.done != nil {
		close(s.done)
	}
	s.mu.Unlock()
	signal(s.ready)
	s.b.remove(s)
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
	s.mu.Lock()
	if s.ending || s.stopped {
		s.mu.Unlock()
		return
	}
	s.ending = true
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	signal(s.ready)
}

// deliver queues a live entry without blocking.
func (s *Subscription) deliver(e *Entry) {
	s.mu.Lock()
	if s.ending || s.stopped || e.ID.Compare(s.floor) <= 0 {
		s.mu.Unlock()
		return
	}
	if s.replaying {
		if len(s.held) >= s.b.limit {
			if s.b.overflow == Disconnect {
				s.overflowLocked()
				s.mu.Unlock()
				signal(s.ready)
				return
			}
			clear(s.held[:1])
			s.held = append(s.held[:0], s.held[1:]...)
		}
		s.held = append(s.held, *e)
		s.mu.Unlock()
		return
	}
	wake := s.pushLocked(e)
	s.mu.Unlock()
	if wake {
		signal(s.ready)
	}
}

// pushLocked queues a live entry, applying the overflow policy, and reports
// whether the stream loop needs a signal.
func (s *Subscription) pushLocked(e *Entry) bool {
	n := len(e.Frame)
	if len(s.q) >= s.limit || (s.bytes > 0 && len(s.q) > 0 && s.qbytes+n > s.bytes) {
		if s.b.overflow == Disconnect {
			s.overflowLocked()
			return true
		}
		k := 0 // DropOldest: drop the oldest frames until e fits
		for k < len(s.q) && (len(s.q)-k >= s.limit || (s.bytes > 0 && s.qbytes+n > s.bytes)) {
			s.qbytes -= len(s.q[k])
			k++
		}
		m := copy(s.q, s.q[k:])
		clear(s.q[m:])
		s.q = s.q[:m]
	}
	first := len(s.q) == 0
	s.q = append(s.q, e.Frame)
	s.qbytes += n
	s.floor = e.ID
	if e.Close && s.b.closeEnds {
		s.ending = true
		return true
	}
	return first // otherwise a signal is pending or the loop is draining
}

// overflowLocked ends the subscription under the Disconnect policy.
func (s *Subscription) overflowLocked() {
	s.ending = true
	if s.err == nil {
		s.err = ErrSlowSubscriber
	}
	s.q, s.held, s.qbytes = nil, nil, 0
}

// replay queues the signal (unless complete) and the logged entries after
// the client's id, then the live entries held meanwhile that the replay did
// not cover, and switches the subscription to live delivery.
func (s *Subscription) replay(entries []Entry, complete bool, after ID) {
	s.mu.Lock()
	held := s.held
	s.held, s.replaying = nil, false
	if s.ending || s.stopped {
		s.mu.Unlock()
		return
	}
	if !complete {
		s.q = append(s.q, resetFrame)
		s.qbytes += len(resetFrame)
	}
	s.floor = after
	for i := range entries {
		e := &entries[i]
		if e.ID.Compare(s.floor) <= 0 {
			continue
		}
		s.q = append(s.q, e.Frame)
		s.qbytes += len(e.Frame)
		s.floor = e.ID
		if e.Close && s.b.closeEnds {
			s.ending = true
			break
		}
	}
	// The replay never counts against the queue's bounds.
	s.limit = s.b.limit + len(s.q)
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
	wake := len(s.q) > 0 || s.ending
	s.mu.Unlock()
	if wake {
		signal(s.ready)
	}
}

// signal does a non-blocking send on a channel of capacity one.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
