package nbiosse

import (
	"runtime"
	"sync"
)

// Stream wake-up reasons, OR-ed into stream.events.
const (
	evStart    uint32 = 1 << iota // the stream was just opened
	evReady                       // the target may have frames (its Notify)
	evWritable                    // enough pending bytes have left (see await)
	evTimer                       // the stream's timer fired (heartbeat, stall)
	evGone                        // the connection closed (client, engine)
	evDown                        // the stream's Group shut down
)

// workers runs ready streams on a bounded pool of goroutines, shared by
// every stream of the process: at most max run at once, and none is left
// when nothing is ready. A stream is queued at most once at a time (its
// sched count) and runs one step per turn, so a busy stream cannot starve
// the others.
type workers struct {
	mu      sync.Mutex
	q       []*stream
	head    int
	running int
	max     int
}

// pool is the process's worker pool.
var pool = workers{max: max(4, 2*runtime.GOMAXPROCS(0))}

// push queues s and starts a worker when fewer than max are running.
func (w *workers) push(s *stream) {
	w.mu.Lock()
	w.q = append(w.q, s)
	start := w.running < w.max
	if start {
		w.running++
	}
	w.mu.Unlock()
	if start {
		go w.work()
	}
}

// pop returns the next queued stream, or nil (and counts the worker out)
// when the queue is empty.
func (w *workers) pop() *stream {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.head == len(w.q) {
		w.q, w.head = w.q[:0], 0
		if cap(w.q) > 4096 {
			w.q = nil // a burst's queue is not kept
		}
		w.running--
		return nil
	}
	s := w.q[w.head]
	w.q[w.head] = nil
	w.head++
	return s
}

// work runs queued streams until the queue is empty.
func (w *workers) work() {
	for s := w.pop(); s != nil; s = w.pop() {
		n := s.sched.Load()
		s.run()
		if s.sched.Add(-n) != 0 {
			w.push(s) // woken meanwhile: another turn, behind the others
		}
	}
}

// runHere records ev and runs s on the calling goroutine, as a worker
// would, unless it is queued or running already (it then runs there).
func (s *stream) runHere(ev uint32) {
	s.events.Or(ev)
	if s.sched.Add(1) != 1 {
		return
	}
	n := s.sched.Load()
	s.run()
	if s.sched.Add(-n) != 0 {
		pool.push(s) // woken meanwhile
	}
}

// wake records ev and queues s unless it is queued or running already.
func (s *stream) wake(ev uint32) {
	s.events.Or(ev)
	if s.sched.Add(1) == 1 {
		pool.push(s)
	}
}
