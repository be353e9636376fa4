package core_test

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssekit/ssekit/core"
)

// The Target and broker subscriptions implement core.Notifier.
var _ core.Notifier = (*core.Target)(nil)

// TestNotifyInsteadOfReady checks that a Notify function is called whenever
// Drain may return something new (the first frame of a queue, Close, Stop),
// and that Ready then stays silent.
func TestNotifyInsteadOfReady(t *testing.T) {
	t.Parallel()
	tg := core.NewTarget()
	if err := tg.Dispatch(core.Message{Data: "early"}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	tg.Notify(func() { calls.Add(1) })
	<-tg.Ready() // the early frame's signal, from before Notify
	if got := calls.Load(); got != 0 {
		t.Fatalf("Notify announced frames queued before it: %d calls; want 0", got)
	}
	b, end := tg.Drain(nil)
	if string(b) != "data: early\n\n" || end {
		t.Fatalf("Drain: got %q, %v", b, end)
	}
	step := func(what string, want int32) {
		t.Helper()
		if got := calls.Load(); got != want {
			t.Fatalf("after %s: %d calls; want %d", what, got, want)
		}
	}
	tg.Dispatch(core.Message{Data: "1"})
	step("the first frame", 1)
	tg.Dispatch(core.Message{Data: "2"})
	step("a second frame before Drain", 1) // the first call is still pending
	if b, _ := tg.Drain(nil); string(b) != "data: 1\n\ndata: 2\n\n" {
		t.Fatalf("Drain: got %q", b)
	}
	tg.Dispatch(core.Message{Data: "3"})
	step("a frame after Drain", 2)
	tg.Close()
	step("Close", 3)
	tg.Stop(nil)
	step("Stop", 4)
	tg.Stop(nil)
	step("a second Stop", 4)
	select {
	case <-tg.Ready():
		t.Fatal("Ready was signalled although Notify replaces it")
	default:
	}
}

// TestNotifyPanicStopsTarget checks that a panicking Notify function stops
// the target with a *core.PanicError (with its stack) and never reaches the
// producer, and that later dispatches fail with ErrClosed.
func TestNotifyPanicStopsTarget(t *testing.T) {
	t.Parallel()
	tg := core.NewTarget()
	var calls atomic.Int32
	tg.Notify(func() { calls.Add(1); panicInNotify() })
	if err := tg.Dispatch(core.Message{Data: "x"}); err != nil {
		t.Fatalf("Dispatch: got %v; want nil (the frame was queued before the panic)", err)
	}
	select {
	case <-tg.Done():
	default:
		t.Fatal("Done is not closed after the Notify function panicked")
	}
	var pe *core.PanicError
	if !errors.As(tg.Err(), &pe) || pe.Value != "notify" {
		t.Fatalf("Err: got %v; want the PanicError", tg.Err())
	}
	if !bytes.Contains(pe.Stack, []byte("panicInNotify")) {
		t.Fatalf("the stack does not show where it panicked:\n%s", pe.Stack)
	}
	// Stop called the function again (it panicked again, and was recovered).
	if got := calls.Load(); got != 2 {
		t.Fatalf("%d calls; want 2 (the frame, then Stop)", got)
	}
	if err := tg.Dispatch(core.Message{Data: "y"}); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Dispatch after the panic: got %v; want ErrClosed", err)
	}
	tg.Close() // no panic escapes Close either
}

func panicInNotify() { panic("notify") }

// TestNotifyRaces runs producers, Close and Stop against a drainer woken only
// by the Notify function, under the race detector: no frame is lost before
// the end, no wake-up is lost, and every producer returns.
func TestNotifyRaces(t *testing.T) {
	t.Parallel()
	for round := range 50 {
		tg := core.NewTarget(core.WithQueueBytes(64))
		kick := make(chan struct{}, 1)
		tg.Notify(func() {
			select {
			case kick <- struct{}{}:
			default:
			}
		})
		const producers, each = 4, 50
		var wg sync.WaitGroup
		var sent atomic.Int64
		for range producers {
			wg.Go(func() {
				for range each {
					if tg.Dispatch(core.Message{Data: "x"}) != nil {
						return
					}
					sent.Add(1)
				}
			})
		}
		stopEarly := round%2 == 1
		got := 0
		ended := make(chan struct{})
		go func() {
			defer close(ended)
			deadline := time.After(10 * time.Second)
			for {
				b, end := tg.Drain(nil)
				got += len(b) / len("data: x\n\n")
				if end {
					return
				}
				select {
				case <-kick:
				case <-deadline:
					t.Errorf("round %d: no wake-up for 10 s (lost?)", round)
					tg.Stop(errors.New("test timed out"))
					return
				}
			}
		}()
		if stopEarly {
			tg.Stop(core.ErrClientGone)
		}
		wg.Wait()
		tg.Close()
		<-ended
		if !stopEarly && int64(got) != sent.Load() {
			t.Fatalf("round %d: drained %d frames; want %d", round, got, sent.Load())
		}
		tg.Stop(nil)
	}
}
