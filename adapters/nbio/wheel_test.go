package nbiosse

import (
	"testing"
	"time"
)

// TestWheel checks the timing wheel on its own: entries fire once, not
// before their time and within a few ticks of it, in any slot and beyond one
// revolution; a moved entry fires at its new time only; a removed one never;
// and the ticking goroutine ends once the wheel is empty (goleak).
func TestWheel(t *testing.T) {
	var w wheel
	mk := func() *stream {
		s := &stream{wslot: -1}
		s.sched.Store(1) // queued already: wake only records, never runs
		return s
	}
	// wake records evTimer; watch for it with a bounded poll.
	waitFire := func(s *stream, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for s.events.Load()&evTimer == 0 {
			if time.Since(start) > within {
				t.Fatalf("entry did not fire within %v", within)
			}
			time.Sleep(time.Millisecond)
		}
		return time.Since(start)
	}
	now := mono()
	a, b, c := mk(), mk(), mk()
	w.set(a, now+int64(30*time.Millisecond))
	w.set(b, now+int64(time.Hour)) // beyond a revolution
	w.set(c, now+int64(20*time.Millisecond))
	w.set(c, now+int64(60*time.Millisecond)) // moved later
	if d := waitFire(a, 5*time.Second); d < 30*time.Millisecond-tick {
		t.Fatalf("a fired after %v; want no earlier than 30ms", d)
	}
	if c.events.Load() != 0 {
		t.Fatal("c fired at its old time after it was moved")
	}
	waitFire(c, 5*time.Second)
	if b.events.Load() != 0 {
		t.Fatal("b, due in an hour, fired")
	}
	w.remove(b)
	w.mu.Lock()
	n := w.n
	w.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d entries left; want 0", n)
	}
	// The goroutine notices the empty wheel at its next tick.
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		running := w.running
		w.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the wheel's goroutine still runs with no entry")
		}
		time.Sleep(time.Millisecond)
	}
}
