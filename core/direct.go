package core

import (
	"time"

	"github.com/ssekit/ssekit/internal/hook"
)

func init() {
	hook.Direct = func(t any) bool {
		q, ok := t.(*Target)
		return ok && !q.queueOnly
	}
}

// The direct path. Handing a lone event from its producer to the stream
// loop's goroutine means waking a parked goroutine, and on an idle machine
// often a parked thread: measured on 2 virtual cores, that wake-up cost
// several times the write itself. So while the loop of a *Target waits with
// nothing queued, and the stream has written nothing for directIdle, the loop
// lends its writer role (loop.role) to the next producer: Dispatch writes and
// flushes that one message on its own goroutine, under the write deadline,
// and gives the role back. Whatever is dispatched meanwhile is queued and
// written by the loop, after it, as a batch; heartbeats, the end and
// shutdown stay with the loop, which takes the role back before anything
// else once it wakes. Only a loop whose writer can bound writes lends
// (Options.WriteTimeout, adapter.DeadlineWriter), so a stalled client holds
// a producer no longer than the write timeout, and only where a deadline
// does end a held write: not over HTTP/2 (adapter.LoopOnlyWriter), where
// net/http queues the stream's reset behind the stalled bytes. Broker
// subscriptions and
// other EventTargets never write on their producers' goroutines.

// directIdle is how long a stream must have written nothing before Dispatch
// may write directly. A producer dispatching more often than that is busy:
// its events go through the loop, which coalesces them into one write per
// batch (a producer writing each event itself would be held to one write
// per event, the hand-written handler's rate).
const directIdle = 100 * time.Microsecond

// QueueOnly makes Dispatch always leave the write to the stream's goroutine,
// as broker subscriptions do: for a producer that feeds many targets in turn
// and must not wait for any one client. By default Dispatch on an idle stream
// writes the message itself (see [Target.Dispatch]).
func QueueOnly() TargetOption {
	return func(t *Target) { t.queueOnly = true }
}

// lendable reports, with t.mu held, whether the queue's only frame, just
// dispatched into an empty queue, may be written by its producer.
func (t *Target) lendable() bool {
	return t.lent != nil && time.Since(t.lentAt) >= directIdle && t.lent.role.TryLock()
}

// writeDirect writes bp for its producer, who holds the writer role of s, and
// gives the role back. A failed write (or a panic in the writer) ends the
// stream: the loop wakes and returns it.
func (t *Target) writeDirect(s *loop, bp *[]byte) {
	err := s.direct(*bp)
	putBuf(bp)
	t.mu.Lock()
	if err != nil {
		s.failed = err
		t.lent = nil // no more direct writes
	} else {
		t.lentAt = s.last
	}
	// Frames queued meanwhile (their producers signalled already), or the
	// end (a close event, Close, Stop): the loop has work.
	wake := err != nil || t.closing || t.stopped
	f := t.notify
	t.mu.Unlock()
	s.role.Unlock()
	if wake {
		t.wake(f)
	}
}

// lend lends s's writer role to producers while the loop waits, unless
// something is queued, the target is ending, or s cannot bound its writes.
// The loop holds the role; it keeps it when lend returns false.
func (t *Target) lend(s *loop) bool {
	if t.queueOnly || s.loopOnly || s.dw == nil || s.wt <= 0 {
		return false
	}
	t.mu.Lock()
	if t.queue != nil || t.closing || t.stopped {
		t.mu.Unlock()
		return false
	}
	t.lent, t.lentAt = s, s.last
	t.mu.Unlock()
	s.lent = true
	s.role.Unlock()
	return true
}

// reclaim takes s's writer role back for the loop, waiting for a direct write
// under way (bounded by the write deadline), and returns the error that ended
// a direct write, if one did.
func (t *Target) reclaim(s *loop) error {
	t.mu.Lock()
	t.lent = nil
	t.mu.Unlock()
	s.role.Lock()
	s.lent = false
	return s.failed
}

// direct writes b for a producer holding the role, as the loop would, then
// clears the deadline again since the loop is waiting. A panic in the writer
// ends the stream like a failed write, never the producer.
func (s *loop) direct(b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = newPanicError(r)
		}
	}()
	if err := s.send(b); err != nil {
		return err
	}
	s.idle()
	if s.so != nil {
		s.so.Wrote(1, len(b))
	}
	return nil
}

// role is the writer role of a stream: whoever holds it may write. It is a
// semaphore on a channel rather than a sync.Mutex so that the loop waiting for
// it can be woken by testing/synctest's clock (a producer's write held until
// its deadline).
type role chan struct{}

func newRole() role { return make(role, 1) }

func (r role) Lock()   { r <- struct{}{} }
func (r role) Unlock() { <-r }
func (r role) TryLock() bool {
	select {
	case r <- struct{}{}:
		return true
	default:
		return false
	}
}
