package nbiosse

import (
	"runtime/debug"
	"time"

	"github.com/ssekit/ssekit/core"
)

// The direct step. Handing a lone event to a pooled worker means waking a
// parked goroutine, which costs more than the write; an event loop's writes
// never block (the connection keeps what the socket does not take). So when
// a *core.Target whose producers may write themselves (adapter.Direct)
// announces a frame on a stream that has written nothing for directIdle,
// with nothing pending on the connection, its producer does the step itself:
// drain and write. Anything else (the end, a failed write, a timer, a close,
// frames arriving meanwhile) is left to a worker, so that the target's Stop,
// OnEnd and the observer's end never run inside Dispatch or Close.

// directIdle is how long a stream must have written nothing before its
// producer may write: a busier producer's events go through a worker, which
// writes each batch at once (core's loop uses the same rule).
const directIdle = int64(100 * time.Microsecond)

// readyDirect is the Notify function of a target whose producers may write.
func (s *stream) readyDirect() {
	if w := s.wrote.Load(); w == 0 || mono()-w < directIdle || s.pending() > 0 {
		s.wake(evReady)
		return
	}
	s.events.Or(evReady)
	if s.sched.Add(1) != 1 {
		return // a worker has the stream: it will drain
	}
	n := s.sched.Load()
	if !s.direct() {
		s.events.Or(evReady) // the rest is a worker's
		s.sched.Add(1)
	}
	if s.sched.Add(-n) != 0 {
		pool.push(s)
	}
}

// direct does the step on the producer's goroutine, holding the stream as a
// worker does. It reports false when a worker must take over: any wake-up
// other than the target's, the end, or a failed write (recorded for it).
func (s *stream) direct() (done bool) {
	if s.state != stOpen || s.ended || s.failed != nil || !s.events.CompareAndSwap(evReady, 0) {
		return false
	}
	defer func() {
		if r := recover(); r != nil {
			s.failed, done = &core.PanicError{Value: r, Stack: debug.Stack()}, false
		}
	}()
	now := mono()
	s.track(now)
	n, end, err := s.drain(false)
	switch {
	case err != nil:
		s.failed = err
		return false
	case end:
		s.ended = true
		return false
	}
	if n > 0 {
		s.last = now
	}
	s.arm(now) // the stall clock, when some of it is still pending
	return true
}
