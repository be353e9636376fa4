package core

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// A clock belongs to the Options value NewOptions made; a clock used in a
// synctest bubble holds that bubble's timer and channels while it runs, so
// each test makes its own Options inside its bubble.

// timedWriter records when each write happened and signals heartbeats.
type timedWriter struct {
	mu     sync.Mutex
	writes []timedWrite
	beat   chan struct{} // cap 1, when not nil: a heartbeat was written
}

type timedWrite struct {
	at   time.Time
	beat bool
}

func (w *timedWriter) Write(p []byte) (int, error) {
	isBeat := string(p) == string(heartbeat)
	w.mu.Lock()
	w.writes = append(w.writes, timedWrite{time.Now(), isBeat})
	w.mu.Unlock()
	if isBeat && w.beat != nil {
		select {
		case w.beat <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func (w *timedWriter) Flush() error { return nil }

func (w *timedWriter) snapshot() []timedWrite {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]timedWrite(nil), w.writes...)
}

// checkBeats checks that every heartbeat came at least hb after the write
// before it (or start) and that no write followed the one before it (or
// start) by more than hb×17/16, up to end.
func checkBeats(t *testing.T, ws []timedWrite, start, end time.Time, hb time.Duration) (beats int) {
	t.Helper()
	limit := hb + hb/16
	prev := start
	for i, w := range ws {
		gap := w.at.Sub(prev)
		if w.beat {
			beats++
			if gap < hb {
				t.Errorf("write %d: heartbeat %v after the last write; want at least %v", i, gap, hb)
			}
		}
		if gap > limit {
			t.Errorf("write %d (heartbeat %v): %v after the last write; want a heartbeat by %v", i, w.beat, gap, limit)
		}
		prev = w.at
	}
	if gap := end.Sub(prev); gap > limit {
		t.Errorf("at the end: %v since the last write; want a heartbeat by %v", gap, limit)
	}
	return beats
}

// clockState reports a clock's registered streams and whether it ticks.
func clockState(c *clock) (streams int, ticking bool, ticks uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streams, c.timer != nil, c.n
}

func startRun(tg *Target, w Writer, o Options) chan error {
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), w, tg, o) }()
	return done
}

func TestClockHeartbeatBounds(t *testing.T) {
	for _, hb := range []time.Duration{1600 * time.Millisecond, 999_999_999, 17 * time.Second} {
		t.Run(hb.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o := NewOptions(WithHeartbeat(hb))
				if o.clock == nil || o.clock.d != hb {
					t.Fatalf("NewOptions attached clock %v; want one of %v", o.clock, hb)
				}
				tg := NewTarget()
				w := &timedWriter{}
				start := time.Now()
				done := startRun(tg, w, o)
				synctest.Wait()
				if n, ticking, _ := clockState(o.clock); n != 1 || !ticking {
					t.Fatalf("clock: %d streams, ticking %v; want 1, true", n, ticking)
				}
				// Events at uneven offsets land at every phase of the wheel.
				for i := range 60 {
					time.Sleep(time.Duration(i*7919%97) * hb / 50)
					tg.Dispatch(Message{Data: "x"})
					synctest.Wait()
				}
				time.Sleep(5 * hb)
				synctest.Wait()
				end := time.Now()
				tg.Close()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				if beats := checkBeats(t, w.snapshot(), start, end, hb); beats < 5 {
					t.Errorf("%d heartbeats; want at least 5", beats)
				}
			})
		})
	}
}

func TestClockSharedAndStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const hb = 1800 * time.Millisecond
		o := NewOptions(WithHeartbeat(hb))
		if o2 := NewOptions(WithHeartbeat(hb)); o2.clock == o.clock || o2.clock == nil {
			t.Fatal("two NewOptions share a clock; want one each")
		}
		const streams = 100
		starts := make([]time.Time, streams)
		tgs := make([]*Target, streams)
		ws := make([]*timedWriter, streams)
		dones := make([]chan error, streams)
		for i := range streams {
			tgs[i], ws[i], starts[i] = NewTarget(), &timedWriter{}, time.Now()
			dones[i] = startRun(tgs[i], ws[i], o)
			if i%10 == 0 {
				time.Sleep(hb / 7) // streams start at different phases
			}
		}
		synctest.Wait()
		if n, ticking, _ := clockState(o.clock); n != streams || !ticking {
			t.Fatalf("clock: %d streams, ticking %v; want %d, true", n, ticking, streams)
		}
		for i := range 40 {
			time.Sleep(hb / 3)
			tgs[i*7%streams].Dispatch(Message{Data: "x"})
			synctest.Wait()
		}
		time.Sleep(3 * hb)
		synctest.Wait()
		end := time.Now()
		for i := range streams {
			tgs[i].Close()
			if err := <-dones[i]; err != nil {
				t.Fatal(err)
			}
			checkBeats(t, ws[i].snapshot(), starts[i], end, hb)
		}
		n, ticking, ticks := clockState(o.clock)
		if n != 0 || ticking {
			t.Fatalf("clock after the streams ended: %d streams, ticking %v; want 0, false", n, ticking)
		}
		time.Sleep(10 * hb)
		synctest.Wait()
		if _, _, now := clockState(o.clock); now != ticks {
			t.Fatalf("the clock ticked %d times with no stream", now-ticks)
		}

		// It starts again for the next stream.
		tg, w := NewTarget(), &timedWriter{}
		start := time.Now()
		done := startRun(tg, w, o)
		time.Sleep(3*hb + hb/2)
		synctest.Wait()
		end = time.Now()
		tg.Close()
		<-done
		if beats := checkBeats(t, w.snapshot(), start, end, hb); beats != 3 {
			t.Fatalf("%d heartbeats after a restart; want 3", beats)
		}
		if n, ticking, _ := clockState(o.clock); n != 0 || ticking {
			t.Fatalf("clock after the stream ended: %d streams, ticking %v; want 0, false", n, ticking)
		}
	})
}

func TestClockNotUsedWhenHeartbeatChanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := NewOptions(WithHeartbeat(1900 * time.Millisecond))
		o.Heartbeat = time.Second // no longer the clock's interval: a clock of its own
		tg, w := NewTarget(), &timedWriter{}
		start := time.Now()
		done := startRun(tg, w, o)
		time.Sleep(time.Second)
		synctest.Wait()
		if n, _, _ := clockState(o.clock); n != 0 {
			t.Fatalf("the clock of another interval has %d streams; want 0", n)
		}
		tg.Close()
		<-done
		ws := w.snapshot()
		if len(ws) != 1 || !ws[0].beat || ws[0].at.Sub(start) != time.Second {
			t.Fatalf("writes %v; want one heartbeat after exactly 1s", ws)
		}
	})

	if o := NewOptions(WithHeartbeat(-1)); o.clock != nil {
		t.Fatal("NewOptions attached a clock with the heartbeat disabled")
	}
}

// TestClockConcurrentStreams runs many streams at once, in real time, with
// one Options value and events arriving meanwhile (for the race detector).
func TestClockConcurrentStreams(t *testing.T) {
	t.Parallel()
	const hb = 10*time.Millisecond + 3 // an interval no other test uses
	o := NewOptions(WithHeartbeat(hb), WithWriteTimeout(-1))
	const streams, rounds = 32, 3
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, streams*rounds)
	for i := range streams {
		wg.Go(func() {
			for r := range rounds {
				tg, w := NewTarget(), &timedWriter{beat: make(chan struct{}, 1)}
				done := startRun(tg, w, o)
				tg.Dispatch(Message{Data: "x"})
				for range 2 { // two heartbeats
					select {
					case <-w.beat:
					case <-ctx.Done():
						t.Errorf("stream %d round %d: no heartbeat within 30s", i, r)
					}
					tg.Dispatch(Message{Data: "y"})
				}
				tg.Close()
				errs <- <-done
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, ticking, _ := clockState(o.clock); n != 0 || ticking {
		t.Fatalf("clock after the streams ended: %d streams, ticking %v; want 0, false", n, ticking)
	}
}
