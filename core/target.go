package core

import (
	"context"
	"math"
	"sync"
	"time"
)

// EventTarget is what a handler returns and the stream loop drains: a source of
// frames that are already encoded, so a broker can encode an event once and
// share the bytes with every subscriber. [Target] is the ready-made one; the
// broker's subscriptions are another.
//
// The whole contract:
//   - Producers may use a target from any goroutine while the loop drains it:
//     implementations must be safe for that. Ready and Drain are called by
//     the stream loop only, from one goroutine.
//   - Stop ends the target. The adapter calls it once for every target a
//     handler returns, whatever happens: the stream loop when the stream
//     ends, or the adapter itself when the stream never runs (the handler
//     also returned an error, the request was refused during shutdown). A
//     target may also be stopped by its own code (FromSeq does when its
//     sequence panics), so Stop must be safe to call more than once; only the
//     first call counts.
//   - A target that ends by itself (Drain reports end) may say why through an
//     optional method Err() error, as [Target] and broker subscriptions do:
//     the loop reports that error to OnEnd, where nil means a normal end.
//     Without the method, a target's own end is a normal end.
//   - For a *Target the loop takes the queued bytes directly instead of
//     calling Drain (no copy); what it writes is exactly what Drain would
//     return.
type EventTarget interface {
	// Ready returns a channel that receives (or is closed) whenever Drain may
	// have something new to return, including the end of the target.
	Ready() <-chan struct{}
	// Drain appends every frame queued now to dst without blocking, and reports
	// whether the target has ended: no frame will follow the ones returned.
	Drain(dst []byte) (buf []byte, end bool)
	// Stop ends the target with the reason the stream ended (nil when the
	// target itself ended it): the target then refuses new frames and wakes
	// every producer waiting on it. Later calls do nothing.
	Stop(err error)
}

// DefaultQueueBytes is the number of encoded bytes a [Target] queues, once
// its stream runs, before Dispatch waits for the client to catch up.
const DefaultQueueBytes = 1 << 20

// TargetOption configures a [Target].
type TargetOption func(*Target)

// KeepOpenOnClose makes a message whose Event is "close" an ordinary event:
// by default it is written and then the stream ends.
func KeepOpenOnClose() TargetOption {
	return func(t *Target) { t.closeEvent = "" }
}

// WithQueueBytes sets how many encoded bytes the target queues, once its
// stream runs, before Dispatch waits: zero means [DefaultQueueBytes],
// negative means no limit (Dispatch never waits; memory is then bounded only
// by what producers send). One message is always accepted into an empty
// queue, whatever its size. Before the stream starts the queue is not
// limited, so a handler may dispatch a backlog before it returns.
func WithQueueBytes(n int) TargetOption {
	return func(t *Target) {
		switch {
		case n > 0:
			t.limit = n
		case n < 0:
			t.limit = math.MaxInt
		default:
			t.limit = DefaultQueueBytes
		}
	}
}

// Target is the ready-made [EventTarget]: producers call Dispatch from any
// goroutine, at any time, including before the handler returns (nothing is
// lost), and Close to end the stream once everything dispatched is written.
type Target struct {
	mu         sync.Mutex
	queue      *[]byte // from bufPool while frames are queued, else nil
	limit      int
	closeEvent string
	started    bool // the loop has drained at least once
	closing    bool // no more frames: Close or a close event
	stopped    bool
	waiting    int            // producers waiting for space
	frames     int            // events in queue
	obs        StreamObserver // hears how long Dispatch waited; nil when unobserved
	err        error
	ready      chan struct{} // cap 1: frames or the end are waiting
	notify     func()        // replaces the send on ready (Notify)
	space      chan struct{} // cap 1: the queue drained below the limit
	done       chan struct{} // closed by Stop
	queueOnly  bool          // QueueOnly: never write on a producer's goroutine
	lent       *loop         // the stream's writer while its loop waits idle (direct.go)
	lentAt     time.Time     // the stream's last write, while lent
}

// NewTarget returns an empty, open target.
func NewTarget(opts ...TargetOption) *Target {
	t := &Target{
		limit:      DefaultQueueBytes,
		closeEvent: "close",
		ready:      make(chan struct{}, 1),
		space:      make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
	for _, o := range opts {
		o(t)
	}
	return t
}

// Dispatch encodes m and queues it for the stream. It returns an error
// matching [ErrInvalidField] (or the JSON error) for a message that cannot be
// sent, and [ErrClosed] once the stream has ended or a close event or Close
// ended it. While the client is slower than the producer and the queue is full
// it waits, but never beyond the end of the stream.
//
// When the stream is idle (nothing queued, no write under way, nothing
// written for a short while), Dispatch writes and flushes m itself, on the
// caller's goroutine, and returns once it is flushed: a lone event then
// reaches the socket without waking the stream's goroutine. Such a write is
// bounded by the stream's write timeout (Options.WriteTimeout), so a client
// that stopped reading holds the caller no longer than that; ctx does not cut
// it short. If it fails, the stream ends with the failure (see [Target.Err])
// and Dispatch still returns nil, as it does for a queued message that a
// later write loses: nil means accepted, not delivered. Messages dispatched
// meanwhile, and bursts, are queued and written by the stream as one batch.
// Streams whose writes cannot be bounded (HTTP/2 among them, where net/http
// does not end a write held by a stalled connection at its deadline), and
// targets made with [QueueOnly], never write on the caller's goroutine.
func (t *Target) Dispatch(m Message) error {
	return t.DispatchContext(context.Background(), m)
}

// DispatchContext is Dispatch that also gives up waiting for queue space when
// ctx is done, returning ctx.Err().
func (t *Target) DispatchContext(ctx context.Context, m Message) error {
	// The data's MarshalJSON runs here, on the producer's goroutine and
	// outside the target's lock: a panic in it reaches the producer only.
	m, err := m.marshalled()
	if err != nil {
		return err
	}
	for {
		t.mu.Lock()
		if t.stopped || t.closing {
			next := t.waiting > 0
			t.mu.Unlock()
			if next {
				signal(t.space) // pass the wake-up on: they fail too
			}
			return ErrClosed
		}
		if t.queue == nil || !t.started || len(*t.queue) < t.limit {
			// A queue that already holds frames has a wake-up pending.
			fresh := t.queue == nil // the frame will be the queue's only one
			wake := fresh
			if wake {
				t.queue = getBuf()
			} else {
				t.queue = grow(t.queue, t.limit)
			}
			q, err := AppendMessage(*t.queue, m)
			if err != nil {
				if len(q) == 0 {
					putBuf(t.queue)
					t.queue = nil
				}
				t.mu.Unlock()
				return err
			}
			*t.queue = q
			t.frames++
			if t.closeEvent != "" && m.Event == t.closeEvent {
				t.closing = true
				wake = true
			}
			if fresh && t.lendable() {
				// The stream is idle: write the frame here (direct.go).
				bp, s := t.queue, t.lent
				t.queue, t.frames = nil, 0
				next := t.waiting > 0
				t.mu.Unlock()
				if next {
					signal(t.space)
				}
				t.writeDirect(s, bp)
				return nil
			}
			next := t.waiting > 0 && len(q) < t.limit
			f := t.notify
			t.mu.Unlock()
			if wake {
				t.wake(f)
			}
			if next {
				signal(t.space) // let the next waiting producer in
			}
			return nil
		}
		t.waiting++
		obs := t.obs
		t.mu.Unlock()
		var since time.Time
		if obs != nil {
			since = time.Now()
		}
		var err error
		select {
		case <-t.space:
		case <-t.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		t.mu.Lock()
		t.waiting--
		t.mu.Unlock()
		if obs != nil {
			callWaited(obs, time.Since(since))
		}
		if err != nil {
			return err
		}
	}
}

// Close ends the stream once everything already dispatched is written. Later
// dispatches fail with [ErrClosed]. It does not wait.
func (t *Target) Close() {
	t.mu.Lock()
	t.closing = true
	waiting := t.waiting > 0
	f := t.notify
	t.mu.Unlock()
	t.wake(f)
	if waiting {
		signal(t.space) // producers waiting for space fail at once
	}
}

// Done returns a channel that is closed when the stream has ended, for any
// reason: the client went away, a close event or Close, a failed write, or
// shutdown. Producers select on it to stop.
func (t *Target) Done() <-chan struct{} { return t.done }

// Err reports why the stream ended: nil while it runs and when it ended
// normally (close event, Close), otherwise the reason, such as [ErrClientGone].
func (t *Target) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Ready implements [EventTarget].
func (t *Target) Ready() <-chan struct{} { return t.ready }

// Drain implements [EventTarget].
func (t *Target) Drain(dst []byte) ([]byte, bool) {
	bp, _, end := t.take()
	if bp != nil {
		dst = append(dst, *bp...)
		putBuf(bp)
	}
	return dst, end
}

// take hands the queued frames over without copying them: the stream loop
// writes them and puts the buffer back in the pool, so an idle target holds
// no buffer. It returns nil when nothing is queued, and the number of events.
func (t *Target) take() (*[]byte, int, bool) {
	t.mu.Lock()
	t.started = true
	bp, n := t.queue, t.frames
	t.queue, t.frames = nil, 0
	end := t.closing || t.stopped
	waiting := t.waiting > 0
	t.mu.Unlock()
	if waiting {
		signal(t.space)
	}
	return bp, n, end
}

// observe makes Dispatch report its waits for queue space to so.
func (t *Target) observe(so StreamObserver) {
	t.mu.Lock()
	t.obs = so
	t.mu.Unlock()
}

// Stop implements [EventTarget]: it ends the target at once, dropping anything
// not yet drained, records err as the reason, and closes Done. Only the first
// call has an effect. Handlers normally use Close instead.
func (t *Target) Stop(err error) {
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		return
	}
	t.stopped = true
	t.err = err
	if t.queue != nil {
		putBuf(t.queue)
		t.queue = nil
	}
	t.frames = 0
	close(t.done)
	f := t.notify
	t.mu.Unlock()
	t.wake(f)
}

// signal does a non-blocking send on a channel of capacity one.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
