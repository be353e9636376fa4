package faults

import (
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssekit/ssekit/core"
)

// TestFastProducerStalledClient runs producers that dispatch far more than
// their stalled clients can read (each tries 64 MiB in 1 KiB events): every
// Dispatch must block once the queue limit is reached, so that what was
// accepted stays near the limit (plus socket buffers) and the heap is bounded
// by the limits; once the write timeout ends each stream, the blocked
// Dispatch returns core.ErrClosed, in bounded time.
func TestFastProducerStalledClient(t *testing.T) {
	const (
		streams    = 20
		queueLimit = 64 * kiB
		attempt    = 64 * miB
		writeLimit = 2 * time.Second // long enough to look at the blocked producers
	)
	for _, name := range []string{"nethttp", "fiber", "nbio"} {
		t.Run(name, func(t *testing.T) {
			type producer struct {
				tg       *core.Target
				accepted atomic.Int64 // bytes Dispatch accepted
				lastErr  atomic.Value
				done     chan struct{}
			}
			var mu sync.Mutex
			var prods []*producer
			event := strings.Repeat("z", kiB)
			route := func(request) (core.EventTarget, error) {
				p := &producer{tg: core.NewTarget(core.WithQueueBytes(queueLimit)), done: make(chan struct{})}
				mu.Lock()
				prods = append(prods, p)
				mu.Unlock()
				go func() {
					defer close(p.done)
					for p.accepted.Load() < attempt {
						if err := p.tg.Dispatch(core.Message{Data: event}); err != nil {
							p.lastErr.Store(err)
							return
						}
						p.accepted.Add(int64(len(event)))
					}
				}()
				return p.tg, nil
			}
			var g core.Group
			base := adapterNamed(name).serve(t, serverConfig{ReadHeaderTimeout: time.Second, SmallBuf: true}, route,
				core.WithWriteTimeout(writeLimit), core.WithGroup(&g))
			goroutines, heap := settle()
			start := time.Now()
			for range streams {
				c := dial(t, base)
				_ = c.SetReadBuffer(4 * kiB)
				if _, err := io.WriteString(c, "GET /sse HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
			}
			// Wait until every producer is blocked: its count has not moved
			// for 200ms while its stream still runs.
			deadline := time.Now().Add(wait)
			for {
				mu.Lock()
				ps := append([]*producer(nil), prods...)
				mu.Unlock()
				before := make([]int64, len(ps))
				for i, p := range ps {
					before[i] = p.accepted.Load()
				}
				time.Sleep(200 * time.Millisecond)
				still := len(ps) == streams
				for i, p := range ps {
					still = still && p.accepted.Load() == before[i]
				}
				if still {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d producers never blocked (or %d of %d streams started)", len(ps), len(ps), streams)
				}
			}
			blockedAt := time.Since(start)
			var maxAccepted int64
			for _, p := range prods {
				maxAccepted = max(maxAccepted, p.accepted.Load())
				select {
				case <-p.tg.Done():
					t.Logf("a stream had already ended when its producer was seen blocked: %v", p.tg.Err())
				default:
				}
			}
			// The queue, plus what the kernel buffers on both ends (small,
			// but loopback may keep more than asked): far below the attempt.
			if maxAccepted > queueLimit+4*miB {
				t.Errorf("a producer got %d KiB accepted by a stalled client; want about the %d KiB queue limit", maxAccepted/kiB, queueLimit/kiB)
			}
			// The queued bytes of every stream, a generous allowance per
			// stream for its connection and loop, and a fixed slack.
			heapBound := uint64(streams*(queueLimit+256*kiB)) + 16*miB
			heapGrew := int64(heapInuse()) - int64(heap)
			// The write timeout ends every stream and releases its producer.
			for _, p := range prods {
				timer := time.NewTimer(writeLimit + wait)
				select {
				case <-p.done:
				case <-timer.C:
					t.Fatalf("a producer is still blocked in Dispatch %v after its client stalled", time.Since(start))
				}
				timer.Stop()
				if err, _ := p.lastErr.Load().(error); !errors.Is(err, core.ErrClosed) {
					t.Errorf("the blocked Dispatch returned %v; want core.ErrClosed", err)
				}
				if !errors.Is(p.tg.Err(), core.ErrWrite) {
					t.Errorf("stream ended with %v; want core.ErrWrite", p.tg.Err())
				}
			}
			t.Logf("%d producers blocked after %v at most %d KiB accepted each (queue limit %d KiB, tried %d MiB); all released by %v",
				streams, blockedAt.Round(time.Millisecond), maxAccepted/kiB, queueLimit/kiB, attempt/miB, time.Since(start).Round(time.Millisecond))
			deadline = time.Now().Add(wait)
			for g.Len() > 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if g.Len() != 0 {
				t.Errorf("%d streams still in the group", g.Len())
			}
			waitGoroutines(t, "after the stalls", goroutines, 5+streams, wait) // the clients' connections are still open
			t.Logf("heap with every producer blocked: %+.1f MiB over the baseline (%.0f KiB per stream; bound %+.0f MiB)",
				float64(heapGrew)/miB, float64(heapGrew)/streams/kiB, float64(heapBound)/miB)
			if heapGrew > int64(heapBound) {
				t.Errorf("a stalled stream holds about %d KiB with a %d KiB queue limit; want at most the bound", heapGrew/streams/kiB, queueLimit/kiB)
			}
		})
	}
}
