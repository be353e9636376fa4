package faults

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssekit/ssekit/broker"
	redisbroker "github.com/ssekit/ssekit/broker/redis"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// item is what a resuming client saw: an event (id, data) or the reset
// signal.
type item struct {
	reset    bool
	id, data string
	at       time.Time
}

// resumingClient streams url until it sees the event with data "done",
// reconnecting with its Last-Event-ID after every failure, as EventSource
// does (and retrying a non-200 answer, as its error handler should).
type resumingClient struct {
	url        string
	items      []item
	last       string
	reconnects int
	ready      chan struct{} // closed once it saw the "start" event
}

func (c *resumingClient) run(ctx context.Context, hc *http.Client) {
	started := false
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
		if c.last != "" {
			req.Header.Set("Last-Event-ID", c.last)
		}
		resp, err := hc.Do(req)
		if err == nil && resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			err = errStatus
		}
		if err == nil {
			p := client.NewParser(resp.Body)
			for {
				ev, perr := p.Next()
				if perr != nil {
					break
				}
				if ev.Type == broker.ResetEvent {
					c.items = append(c.items, item{reset: true, at: time.Now()})
					continue
				}
				c.last = ev.LastEventID
				if ev.Data == "start" && !started {
					started = true
					close(c.ready)
					continue
				}
				if !started {
					continue
				}
				c.items = append(c.items, item{id: ev.LastEventID, data: ev.Data, at: time.Now()})
				if ev.Data == "done" {
					resp.Body.Close()
					return
				}
			}
			resp.Body.Close()
		}
		c.reconnects++
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

var errStatus = &statusErr{}

type statusErr struct{}

func (*statusErr) Error() string { return "non-200 answer" }

// TestRedisRestart streams a topic from two brokers sharing one Redis
// (persisting with appendfsync always) to four clients over net/http while
// events are published continuously through both brokers; Redis is killed
// (SIGKILL) and restarted on the same port mid-stream, and publishing goes
// on. Every client resuming with its Last-Event-ID must get every event whose
// Publish succeeded, exactly once and in order, or the reset signal where
// some are missing: never a silent gap or a duplicate.
func TestRedisRestart(t *testing.T) {
	const (
		before  = 1500 * time.Millisecond // publishing before the kill
		down    = time.Second             // how long Redis stays down
		after   = 2 * time.Second         // publishing after it answers again
		clients = 4
	)
	r := startRedis(t)
	brokers := make([]*broker.Broker, 2)
	bases := make([]string, 2)
	for i := range brokers {
		rc := newRedisClient(t, r)
		b := newBroker(t, broker.Options{Backend: redisbroker.New(rc, redisbroker.Options{Prefix: "restart", Block: 500 * time.Millisecond})})
		brokers[i] = b
		bases[i] = serveNetHTTP(t, serverConfig{ReadHeaderTimeout: time.Second}, func(r request) (core.EventTarget, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return b.Subscribe(ctx, []string{"t"}, r.LastEventID)
		}, core.WithWriteTimeout(2*time.Second))
	}
	goroutines, heap := settle()
	start := time.Now()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	cs := make([]*resumingClient, clients)
	var wg sync.WaitGroup
	for i := range cs {
		cs[i] = &resumingClient{url: bases[i%2] + "/sse", ready: make(chan struct{})}
		wg.Add(1)
		go func() { defer wg.Done(); cs[i].run(ctx, hc) }()
	}
	// Every client has its first id once it saw "start".
	startCtx, startCancel := context.WithTimeout(ctx, wait)
	for _, c := range cs {
		for {
			pctx, pcancel := context.WithTimeout(startCtx, time.Second)
			_, err := brokers[0].Publish(pctx, "t", core.Message{Data: "start"})
			pcancel()
			if err != nil && startCtx.Err() != nil {
				t.Fatalf("publishing start: %v", err)
			}
			if err != nil { // a busy machine: the setup tries again
				t.Logf("publishing start: %v", err)
				continue
			}
			select {
			case <-c.ready:
			case <-time.After(100 * time.Millisecond):
				continue
			case <-startCtx.Done():
				t.Fatal("a client never saw the start event")
			}
			break
		}
	}
	startCancel()

	// Publish continuously through both brokers; kill and restart Redis.
	type acked struct{ id, data string }
	var (
		mu                   sync.Mutex
		acks                 []acked
		failures             int
		killedAt, firstAfter time.Time
		restarted            atomic.Bool
	)
	stop := make(chan struct{})
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
			id, err := brokers[i%2].Publish(pctx, "t", core.Message{Data: strconv.Itoa(i)})
			pcancel()
			mu.Lock()
			if err == nil {
				acks = append(acks, acked{id, strconv.Itoa(i)})
				if restarted.Load() && firstAfter.IsZero() {
					firstAfter = time.Now()
				}
			} else {
				failures++
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	time.Sleep(before)
	mu.Lock()
	killedAt = time.Now()
	ackedBefore := len(acks)
	mu.Unlock()
	r.kill()
	time.Sleep(down)
	r.start()
	restarted.Store(true)
	time.Sleep(after)
	close(stop)
	<-published
	// The last event, published until it succeeds.
	var doneID string
	for doneID == "" {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		id, err := brokers[1].Publish(pctx, "t", core.Message{Data: "done"})
		pcancel()
		if err == nil {
			doneID = id
		} else if ctx.Err() != nil {
			t.Fatalf("publishing done: %v", err)
		}
	}
	acks = append(acks, acked{doneID, "done"})
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
		cancel()
		<-finished
		t.Fatalf("a client did not get the done event within the test's 25s")
	}
	outage := firstAfter.Sub(killedAt)
	t.Logf("published %d events (%d before the kill), %d Publish calls failed; Publish outage %v (Redis down %v); done in %v",
		len(acks), ackedBefore, failures, outage.Round(time.Millisecond), down, time.Since(start).Round(time.Millisecond))

	ackedIDs := make(map[string]string, len(acks))
	for _, a := range acks {
		ackedIDs[a.id] = a.data
	}
	for n, c := range cs {
		var got []string
		pos := map[string]int{}
		var prev broker.ID
		resets := 0
		var longest time.Duration
		lastAt := time.Time{}
		ghosts := 0
		for i, it := range c.items {
			if !lastAt.IsZero() {
				longest = max(longest, it.at.Sub(lastAt))
			}
			lastAt = it.at
			if it.reset {
				resets++
				continue
			}
			if it.data == "start" { // another client's start event
				continue
			}
			id, err := broker.ParseID(it.id)
			if err != nil {
				t.Fatalf("client %d: event id %q: %v", n, it.id, err)
			}
			if id.Compare(prev) <= 0 {
				t.Errorf("client %d: id %s after %s: a duplicate or out of order", n, it.id, prev)
			}
			prev = id
			if d, ok := ackedIDs[it.id]; !ok {
				ghosts++ // a Publish that reported failure but took effect
			} else if d != it.data {
				t.Errorf("client %d: event %s has data %q; want %q", n, it.id, it.data, d)
			}
			got = append(got, it.id)
			pos[it.id] = i
		}
		// Every acknowledged event arrived, or a reset signal stands
		// where it is missing.
		missing := 0
		for _, a := range acks {
			if _, ok := pos[a.id]; ok {
				continue
			}
			missing++
			aid, _ := broker.ParseID(a.id)
			signalled := false
			for _, it := range c.items {
				if it.reset {
					signalled = true
					continue
				}
				if id, _ := broker.ParseID(it.id); id.Compare(aid) > 0 {
					break
				}
				signalled = false
			}
			if !signalled {
				t.Errorf("client %d: acknowledged event %s (data %s) is missing with no reset signal before the next event", n, a.id, a.data)
				break
			}
		}
		t.Logf("client %d: %d events, %d reset signals, %d missing, %d from failed Publish calls, %d reconnects, longest silence %v",
			n, len(got), resets, missing, ghosts, c.reconnects, longest.Round(time.Millisecond))
	}
	cancel()
	tr.CloseIdleConnections()
	checkHeap(t, "after the restart", heap, 32*miB)
	waitGoroutines(t, "after the restart", goroutines, 8, wait)
}
