package adapter_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssekit/ssekit/adapter"
	"github.com/ssekit/ssekit/core"
)

// deadlineLog is a adapter.DeadlineWriter that records every deadline it is
// given, in order.
type deadlineLog struct {
	mu        sync.Mutex
	deadlines []time.Time
	flushes   int
	loopOnly  bool     // an HTTP/2 writer: Run clears the deadline before it waits
	short     []string // writes made with no deadline, or one less than half an hour away
}

func (d *deadlineLog) LoopOnly() bool { return d.loopOnly }

func (d *deadlineLog) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := len(d.deadlines); n == 0 || time.Until(d.deadlines[n-1]) < 30*time.Minute {
		d.short = append(d.short, string(p))
	}
	return len(p), nil
}
func (d *deadlineLog) Flush() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.flushes++
	return nil
}
func (d *deadlineLog) SetWriteDeadline(t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.deadlines = append(d.deadlines, t)
	return nil
}
func (d *deadlineLog) last() (time.Time, int, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.deadlines) == 0 {
		return time.Time{}, 0, d.flushes
	}
	return d.deadlines[len(d.deadlines)-1], len(d.deadlines), d.flushes
}

// TestRunClearsDeadlineWhenIdle guards against an armed write deadline on an
// idle HTTP/2 stream (a LoopOnlyWriter): there it resets the stream when it
// fires, whether or not a write is pending, so a stream idle past the write
// timeout died.
func TestRunClearsDeadlineWhenIdle(t *testing.T) {
	t.Parallel()
	w := &deadlineLog{loopOnly: true}
	tg := core.NewTarget()
	done := run(tg, w, core.NewOptions(core.WithHeartbeat(-1), core.WithWriteTimeout(time.Hour)))
	for round := range 4 {
		// Round 0 is the headers' flush; each later round one event. The
		// loop flushes, then clears the deadline before it waits.
		if round > 0 {
			if err := tg.Dispatch(core.Message{Data: "x"}); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			last, n, flushes := w.last()
			if flushes >= round+1 && n > 0 && last.IsZero() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the loop waits with a write deadline armed (last %v, %d deadlines, %d flushes)", round, last, n, flushes)
			}
			time.Sleep(time.Millisecond)
		}
	}
	tg.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRunKeepsDeadlineWhenIdle: on a writer where a deadline passing while
// nothing is written is harmless (a net.Conn underneath), the loop leaves it
// armed while it waits, so that lone events do not add and remove a runtime
// timer each (a timer earlier than the poller's next wake-up wakes a parked
// thread); every write is still made under a deadline at least half the
// write timeout away.
func TestRunKeepsDeadlineWhenIdle(t *testing.T) {
	t.Parallel()
	w := &deadlineLog{}
	tg := core.NewTarget()
	done := run(tg, w, core.NewOptions(core.WithHeartbeat(-1), core.WithWriteTimeout(time.Hour)))
	for i := range 5 {
		if i > 0 {
			time.Sleep(time.Millisecond) // idle between events: producers may write directly
		}
		if err := tg.Dispatch(core.Message{Data: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	tg.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.short) > 0 {
		t.Errorf("writes without a deadline at least half the write timeout away: %q", w.short)
	}
	// The headers' flush arms the deadline; the end (finish) moves it once.
	var set, cleared int
	for _, d := range w.deadlines {
		if d.IsZero() {
			cleared++
		} else {
			set++
		}
	}
	if cleared > 0 || set > 2 {
		t.Errorf("%d deadlines set and %d cleared for 5 lone events; want 1 set for them all (plus the end's), none cleared", set, cleared)
	}
}

// TestOpenTypedNilTarget guards the handler's status when it returns a typed
// nil target beside its error: the target is not called into.
func TestOpenTypedNilTarget(t *testing.T) {
	t.Parallel()
	var o core.Options
	_, err := adapter.CallHandler(o, 1, func(int) (core.EventTarget, error) {
		var tg *core.Target
		return tg, core.Error(http.StatusUnauthorized, "login first")
	})
	if got := core.StatusOf(err); got != http.StatusUnauthorized {
		t.Fatalf("status: got %d (%v); want 401", got, err)
	}
	_, err = adapter.CallHandler(o, 1, func(int) (core.EventTarget, error) {
		var tg *core.Target
		return tg, nil
	})
	if !errors.Is(err, core.ErrNilTarget) {
		t.Fatalf("typed nil without an error: got %v; want ErrNilTarget", err)
	}
}

// TestPanicErrorStack checks that a panic keeps the stack where it happened.
func TestPanicErrorStack(t *testing.T) {
	t.Parallel()
	_, err := adapter.CallHandler(core.Options{}, 1, func(int) (core.EventTarget, error) { panicHere(); return nil, nil })
	var pe *core.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v; want a PanicError", err)
	}
	if !strings.Contains(string(pe.Stack), "panicHere") {
		t.Fatalf("the stack does not show where it panicked:\n%s", pe.Stack)
	}
}

func panicHere() { panic("boom") }

// TestOnEndForEveryRequest checks that OnEnd hears of handler failures too:
// a panic, an error beside a target, an error alone.
func TestOnEndForEveryRequest(t *testing.T) {
	t.Parallel()
	var got []error
	o := core.NewOptions(core.WithOnEnd(func(err error) { got = append(got, err) }))
	boom := errors.New("boom")
	_, _ = adapter.CallHandler(o, 1, func(int) (core.EventTarget, error) { panic("x") })
	_, _ = adapter.CallHandler(o, 1, func(int) (core.EventTarget, error) { return core.NewTarget(), boom })
	_, _ = adapter.CallHandler(o, 1, func(int) (core.EventTarget, error) { return nil, boom })
	if len(got) != 3 {
		t.Fatalf("OnEnd called %d times; want 3: %v", len(got), got)
	}
	var pe *core.PanicError
	if !errors.As(got[0], &pe) || got[1] != boom || got[2] != boom {
		t.Fatalf("OnEnd got %v", got)
	}
}

// stopPanics is a target whose Stop panics.
type stopPanics struct{ *core.Target }

func (stopPanics) Stop(error) { panic("stop") }

// TestRunOnEndAfterStopPanics checks that OnEnd is called, with the panic,
// when the target's Stop panics.
func TestRunOnEndAfterStopPanics(t *testing.T) {
	t.Parallel()
	tg := core.NewTarget()
	tg.Close()
	var ended []error
	err := adapter.Run(context.Background(), &deadlineLog{}, stopPanics{tg}, core.NewOptions(core.WithOnEnd(func(err error) { ended = append(ended, err) })))
	var pe *core.PanicError
	if !errors.As(err, &pe) || pe.Value != "stop" || len(pe.Stack) == 0 {
		t.Fatalf("Run: got %v; want the Stop panic with its stack", err)
	}
	if len(ended) != 1 || !errors.As(ended[0], &pe) {
		t.Fatalf("OnEnd: got %v; want one call with the panic", ended)
	}
}

// TestCloseWakesWaitingProducers guards against producers left waiting for
// queue space after Close, until a stalled write gave up.
func TestCloseWakesWaitingProducers(t *testing.T) {
	t.Parallel()
	tg := core.NewTarget(core.WithQueueBytes(16))
	tg.Drain(nil) // the stream has started: the limit applies
	if err := tg.Dispatch(core.Message{Data: strings.Repeat("x", 32)}); err != nil {
		t.Fatal(err)
	}
	const producers = 3
	errs := make(chan error, producers)
	for range producers {
		go func() { errs <- tg.Dispatch(core.Message{Data: "y"}) }()
	}
	time.Sleep(20 * time.Millisecond) // let them reach the wait (either way they must return)
	tg.Close()
	for range producers {
		select {
		case err := <-errs:
			if !errors.Is(err, core.ErrClosed) {
				t.Errorf("Dispatch: got %v; want ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a producer waiting for queue space was not woken by Close")
		}
	}
	tg.Stop(nil)
}
