package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// newBroker returns a broker shut down (bounded) when the test ends.
func newBroker(t testing.TB, o broker.Options) *broker.Broker {
	b := broker.New(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("broker Shutdown: %v", err)
		}
	})
	return b
}

// TestBrokerStalledSubscriber streams one topic to 500 fast HTTP clients and
// one that never reads. The fast ones must get every event, in order,
// promptly; the stalled one is disconnected with broker.ErrSlowSubscriber
// once its queue (32 events) overflows, without delaying the others; heap
// and goroutines stay bounded.
func TestBrokerStalledSubscriber(t *testing.T) {
	const (
		fast       = 500
		events     = 200
		batch      = 10
		queueLimit = 32
	)
	b := newBroker(t, broker.Options{QueueEvents: queueLimit})
	var mu sync.Mutex
	var stalledSub *broker.Subscription
	route := func(r request) (core.EventTarget, error) {
		s, err := b.Subscribe(r.Context, []string{"news"}, r.LastEventID)
		if err == nil && r.Query.Get("who") == "stalled" {
			mu.Lock()
			stalledSub = s
			mu.Unlock()
		}
		return s, err
	}
	// The write timeout is long: the queue must overflow first.
	// No heartbeat: a fast client that missed a wake-up would then wait
	// forever, not until the next heartbeat, and fail the batch wait below.
	base := serveNetHTTP(t, serverConfig{ReadHeaderTimeout: time.Second, SmallBuf: true}, route,
		core.WithWriteTimeout(20*time.Second), core.WithHeartbeat(-1))
	goroutines, heap := settle()
	t0 := time.Now()
	mark := func(what string) { t.Logf("%v: %s", time.Since(t0).Round(time.Millisecond), what) }

	// The stalled client: a raw connection that never reads.
	c := dialSmallWindow(t, base)
	if _, err := io.WriteString(c, "GET /sse?who=stalled HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: -1}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	// No deadline on the clients: each batch below is bounded instead. (A
	// deadline for the whole run, 45s, cancelled the clients mid-batch with
	// two suites running at once, and read as a lost wake-up.)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		ids []string
		err error
	}
	results := make(chan result, fast)
	var progress [fast]atomic.Int32        // events each fast client got
	var failed [fast]atomic.Pointer[error] // why a fast client stopped early
	// Connect in batches of 50 (a loopback listen backlog is small).
	for i := range fast {
		if i%50 == 0 {
			deadline := time.Now().Add(wait)
			for b.Len() < i+1 {
				if time.Now().After(deadline) {
					t.Fatalf("%d subscribers; want %d", b.Len(), i+1)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		go func() {
			got := &progress[i]
			var r result
			defer func() { results <- r }()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/sse", nil)
			resp, err := hc.Do(req)
			if err != nil {
				r.err = err
				failed[i].Store(&r.err)
				return
			}
			defer resp.Body.Close()
			p := client.NewParser(resp.Body)
			for len(r.ids) < events {
				ev, err := p.Next()
				if err != nil {
					r.err = fmt.Errorf("after %d events: %w", len(r.ids), err)
					failed[i].Store(&r.err)
					return
				}
				r.ids = append(r.ids, ev.LastEventID)
				got.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(wait)
	for b.Len() < fast+1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers; want %d", b.Len(), fast+1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mark("every client subscribed")
	data := strings.Repeat("n", kiB)
	// Publish in batches, each once every fast client has the previous one:
	// the fast clients are never more than a batch behind, however loaded the
	// machine, while the stalled one falls further behind with every batch.
	var ids []string
	var slowestBatch time.Duration
	for i := range events {
		id, err := b.Publish(context.Background(), "news", core.Message{Data: data})
		if err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
		ids = append(ids, id)
		if i%batch != batch-1 {
			continue
		}
		sent := time.Now()
		for j := range progress {
			for progress[j].Load() < int32(i+1) {
				if err := failed[j].Load(); err != nil {
					t.Fatalf("a fast client stopped: %v", *err)
				}
				// Twice the usual wait: with 500 clients under -race, two
				// suites at once took 9s just to subscribe them all.
				if time.Since(sent) > 2*wait {
					t.Fatalf("a fast client has %d events %v after event %d was published", progress[j].Load(), 2*wait, i+1)
				}
				time.Sleep(time.Millisecond)
			}
		}
		slowestBatch = max(slowestBatch, time.Since(sent))
	}
	mark("every event published")
	checkHeap(t, "with every event published", heap, uint64(fast+1)*128*kiB+events*kiB+32*miB)
	for range fast {
		r := <-results
		if r.err != nil {
			t.Fatalf("a fast client: %v", r.err)
		}
		for i := range ids {
			if r.ids[i] != ids[i] {
				t.Fatalf("a fast client got id %s at %d; want %s", r.ids[i], i, ids[i])
			}
		}
	}
	mark("every fast client got every event")
	mu.Lock()
	s := stalledSub
	mu.Unlock()
	if s == nil {
		t.Fatal("the stalled client's subscription was not made")
	}
	// The overflow ends the subscription at once (Err says so), while its
	// stream loop may still be blocked in a write until the write timeout.
	deadline = time.Now().Add(wait)
	for !errors.Is(s.Err(), broker.ErrSlowSubscriber) {
		if time.Now().After(deadline) {
			t.Fatalf("the stalled subscription reports %v %v after the last event; want broker.ErrSlowSubscriber", s.Err(), wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Once the stalled client goes (RST: it has unread data), the blocked
	// write fails and the stream ends.
	_ = c.Close()
	closed := time.Now()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-s.Done():
	case <-timer.C:
		t.Fatalf("the stalled subscription is still running %v after its client left", wait)
	}
	mark(fmt.Sprintf("the stalled stream ended %v after its client left", time.Since(closed).Round(time.Millisecond)))
	t.Logf("%d fast clients got all %d events; every batch of %d reached all of them within %v; stalled one ended with %v",
		fast, events, batch, slowestBatch.Round(time.Millisecond), s.Err())
	cancel()
	tr.CloseIdleConnections()
	deadline = time.Now().Add(wait)
	for b.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if b.Len() != 0 {
		t.Errorf("%d subscriptions left after every client left", b.Len())
	}
	mark("every subscription left")
	waitGoroutines(t, "after every client left", goroutines, 5, wait)
	mark("goroutines back")
}
