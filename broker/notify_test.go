package broker

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssekit/ssekit/core"
)

var _ core.Notifier = (*Subscription)(nil)

// TestSubscriptionNotify checks that a subscription with a Notify function
// calls it (outside the broker's lock: the function may call the broker)
// instead of signalling Ready, for live events, the end and Stop.
func TestSubscriptionNotify(t *testing.T) {
	t.Parallel()
	b := memBroker(t, newClock(), Options{}, MemoryOptions{})
	s := subscribe(t, b, []string{"news"}, "")
	var calls, locked atomic.Int32
	s.Notify(func() {
		calls.Add(1)
		if !b.mu.TryLock() { // nothing else holds it in this test
			locked.Add(1)
			return
		}
		b.mu.Unlock()
	})
	step := func(what string, want int32) {
		t.Helper()
		if got := calls.Load(); got != want {
			t.Fatalf("after %s: %d calls; want %d", what, got, want)
		}
	}
	publish(t, b, "news", core.Message{Data: "1"})
	step("the first event", 1)
	publish(t, b, "news", core.Message{Data: "2"})
	step("a second event before Drain", 1)
	if ev, _ := drain(s); len(ev) != 2 {
		t.Fatalf("drained %d events; want 2", len(ev))
	}
	publish(t, b, "news", core.Message{Data: "3"})
	step("an event after Drain", 2)
	s.Stop(core.ErrClientGone)
	step("Stop", 3)
	if n := locked.Load(); n > 0 {
		t.Fatalf("the Notify function was called %d times under the broker's lock", n)
	}
	select {
	case <-s.Ready():
		t.Fatal("Ready was signalled although Notify replaces it")
	default:
	}
}

// TestSubscriptionNotifyPanic checks that a panicking Notify function stops
// the subscription with a *core.PanicError, takes it out of the broker, and
// never reaches the publisher.
func TestSubscriptionNotifyPanic(t *testing.T) {
	t.Parallel()
	b := memBroker(t, newClock(), Options{}, MemoryOptions{})
	s := subscribe(t, b, []string{"news"}, "")
	other := subscribe(t, b, []string{"news"}, "")
	s.Notify(func() { panic("notify") })
	publish(t, b, "news", core.Message{Data: "1"})
	var pe *core.PanicError
	if !errors.As(s.Err(), &pe) || pe.Value != "notify" || len(pe.Stack) == 0 {
		t.Fatalf("Err: got %v; want the PanicError with its stack", s.Err())
	}
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done is not closed after the Notify function panicked")
	}
	if n := b.Len(); n != 1 {
		t.Fatalf("Len: got %d; want 1 (the panicking subscription removed)", n)
	}
	if ev, _ := drain(other); len(ev) != 1 {
		t.Fatalf("the other subscriber got %d events; want 1", len(ev))
	}
}

// TestSubscriptionNotifyRaces publishes, ends and stops subscriptions woken
// only by their Notify functions, under the race detector: no wake-up is
// lost before the end.
func TestSubscriptionNotifyRaces(t *testing.T) {
	t.Parallel()
	b := memBroker(t, newClock(), Options{QueueEvents: 1 << 16}, MemoryOptions{})
	for round := range 20 {
		subs := make([]*Subscription, 8)
		var drainers sync.WaitGroup
		got := make([]int, len(subs))
		for i := range subs {
			s := subscribe(t, b, []string{"t"}, "")
			subs[i] = s
			kick := make(chan struct{}, 1)
			s.Notify(func() {
				select {
				case kick <- struct{}{}:
				default:
				}
			})
			drainers.Go(func() {
				deadline := time.After(10 * time.Second)
				for {
					ev, end := drain(s)
					got[i] += len(ev)
					if end {
						return
					}
					select {
					case <-kick:
					case <-deadline:
						t.Errorf("round %d: subscriber %d had no wake-up for 10 s", round, i)
						return
					}
				}
			})
		}
		const events = 100
		var pubs sync.WaitGroup
		pubs.Go(func() {
			for range events {
				publish(t, b, "t", core.Message{Data: "x"})
			}
		})
		pubs.Go(func() { subs[0].Stop(core.ErrClientGone) })
		pubs.Wait()
		publish(t, b, "t", core.Message{Event: "close", Data: "bye"})
		drainers.Wait()
		for i := 1; i < len(subs); i++ {
			if got[i] != events+1 {
				t.Fatalf("round %d: subscriber %d got %d events; want %d", round, i, got[i], events+1)
			}
			subs[i].Stop(nil)
		}
	}
}
