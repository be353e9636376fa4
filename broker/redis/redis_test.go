package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// Two brokers on one Redis: an event published on either reaches the
// subscribers of both, with the same id.
func TestRedisBrokerTwoInstances(t *testing.T) {
	t.Parallel()
	ro := Options{Prefix: testPrefix(t)}
	c := newClient(t, "")
	a, b := newBroker(t, c, broker.Options{}, ro), newBroker(t, c, broker.Options{}, ro)
	onA, onB := subscribe(t, a, []string{"news"}, ""), subscribe(t, b, []string{"news", "sport"}, "")

	id1 := publish(t, a, "news", core.Message{Event: "headline", Data: "from A"})
	id2 := publish(t, b, "sport", core.Message{Data: "from B"})
	id3 := publish(t, b, "news", core.Message{Data: "from B too"})

	ev, _ := collect(t, onB, 3)
	equal(t, "on B", idsOf(ev), []string{id1, id2, id3})
	equal(t, "on B", datas(ev), []string{"from A", "from B", "from B too"})
	if ev[0].Type != "headline" {
		t.Fatalf("event type %q; want headline", ev[0].Type)
	}
	ev, _ = collect(t, onA, 2)
	equal(t, "on A", idsOf(ev), []string{id1, id3})
	increasing(t, []string{id1, id2, id3})

	// A third instance started now sees only what is published from now on.
	late := subscribe(t, newBroker(t, c, broker.Options{}, ro), []string{"news", "sport"}, "")
	id4 := publish(t, a, "sport", core.Message{Data: "later"})
	ev, _ = collect(t, late, 1)
	equal(t, "on a new instance", idsOf(ev), []string{id4})
}

// Subscribers on one instance at random points while another publishes:
// each gets a contiguous suffix of the events, no gap, no duplicate.
func TestRedisBrokerReplayConcurrent(t *testing.T) {
	t.Parallel()
	const n, subs = 400, 30
	ro := Options{Prefix: testPrefix(t), MaxLen: 2 * n}
	c := newClient(t, "")
	pub, sub := newBroker(t, c, broker.Options{}, ro), newBroker(t, c, broker.Options{QueueEvents: 2 * n}, ro)
	var (
		mu        sync.Mutex
		published []string
	)
	snapshot := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return published[:len(published):len(published)]
	}
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for i := range n {
			id, err := pub.Publish(context.Background(), "t", core.Message{Data: strconv.Itoa(i)})
			if err != nil {
				t.Errorf("Publish: %v", err)
				return
			}
			mu.Lock()
			published = append(published, id)
			mu.Unlock()
		}
	}()
	type result struct {
		s     *broker.Subscription
		last  string
		start int
	}
	results := make(chan result, subs)
	var wg sync.WaitGroup
	for i := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 3))
			for k := 0; k < 100 && len(snapshot()) < i*n/subs; k++ { // spread over the run
				if _, err := c.Ping(context.Background()).Result(); err != nil {
					t.Error(err)
					return
				}
			}
			seen := snapshot()
			last, start := "", 0
			if i%3 != 0 && len(seen) > 0 {
				j := rng.IntN(len(seen))
				last, start = seen[j], j+1
			}
			s, err := sub.Subscribe(context.Background(), []string{"t"}, last)
			if err != nil {
				t.Errorf("Subscribe: %v", err)
				return
			}
			t.Cleanup(func() { s.Stop(nil) })
			if last == "" {
				start = len(snapshot()) + 1
			}
			results <- result{s, last, start}
		}()
	}
	wg.Wait()
	close(results)
	<-pubDone
	all := snapshot()
	for r := range results {
		var got []string
		if r.last != "" {
			ev, _ := collect(t, r.s, n-r.start)
			got = idsOf(ev)
			equal(t, "after "+r.last, got, all[r.start:])
		} else {
			ev, _ := collectUntil(t, r.s, func(ev []client.Event) bool {
				return len(ev) > 0 && ev[len(ev)-1].LastEventID == all[n-1]
			})
			got = idsOf(ev)
			from := n - len(got)
			if from < 0 || from > r.start {
				t.Fatalf("live subscriber: first event #%d; want at most #%d", from, r.start)
			}
			equal(t, "live subscriber", got, all[from:])
		}
		r.s.Stop(nil)
	}
}

// Several topics published concurrently from two instances: a subscriber of
// all of them on a third sees strictly increasing ids, and one Last-Event-ID
// resumes every topic exactly.
func TestRedisBrokerMultiTopicResume(t *testing.T) {
	t.Parallel()
	const n = 150
	ro := Options{Prefix: testPrefix(t)}
	c := newClient(t, "")
	pubs := []*broker.Broker{newBroker(t, c, broker.Options{}, ro), newBroker(t, c, broker.Options{}, ro)}
	sub := newBroker(t, c, broker.Options{QueueEvents: 4 * n}, ro)
	topics := []string{"a", "b", "c"}
	live := subscribe(t, sub, topics, "")
	var wg sync.WaitGroup
	for i, topic := range topics {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range n {
				if _, err := pubs[i%2].Publish(context.Background(), topic, core.Message{Data: fmt.Sprint(topic, j)}); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	ev, _ := collect(t, live, 3*n)
	all := idsOf(ev)
	if len(all) != 3*n {
		t.Fatalf("live: got %d events; want %d", len(all), 3*n)
	}
	increasing(t, all)
	for _, k := range []int{0, 1, n, 2*n + 7, 3*n - 1} {
		s := subscribe(t, sub, topics, all[k])
		ev, _ := collect(t, s, 3*n-1-k)
		equal(t, "resumed after "+all[k], idsOf(ev), all[k+1:])
		s.Stop(nil)
	}
	// A subset of the topics resumes with an id from any topic.
	var want []string
	for k, e := range ev[n+1:] {
		if e.Data[0] == 'b' {
			want = append(want, all[n+1+k])
		}
	}
	s := subscribe(t, sub, []string{"b"}, all[n])
	got, _ := collect(t, s, len(want))
	equal(t, "topic b after "+all[n], idsOf(got), want)
}

// An instance restarts mid-stream: its client, reconnecting with
// Last-Event-ID to the new instance, loses nothing and receives nothing
// twice, including what was published while it was away.
func TestRedisBrokerResume(t *testing.T) {
	t.Parallel()
	ro := Options{Prefix: testPrefix(t)}
	c := newClient(t, "")
	pub := newBroker(t, c, broker.Options{}, ro)
	handler := func(b *broker.Broker) http.Handler {
		return nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
			return b.Subscribe(r.Context(), []string{"feed"}, nethttpsse.LastEventID(r))
		}, core.WithHeartbeat(-1))
	}
	get := func(url, last string) (*http.Response, *client.Parser) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET: %v %v", resp, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		p := client.NewParser(resp.Body)
		p.SetLastEventID(last)
		return resp, p
	}

	first := broker.New(broker.Options{Backend: New(c, ro)})
	srv1 := httptest.NewServer(handler(first))
	defer srv1.Close()
	_, p := get(srv1.URL, "")
	for i := range 100 {
		publish(t, pub, "feed", core.Message{Data: strconv.Itoa(i)})
	}
	var got []string
	for range 50 {
		ev, err := p.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Data)
	}
	// The instance goes down mid-stream: what it queued is written, then the
	// stream ends.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for {
		ev, err := p.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Data)
	}
	for i := 100; i < 150; i++ { // while the client is away
		publish(t, pub, "feed", core.Message{Data: strconv.Itoa(i)})
	}
	second := newBroker(t, c, broker.Options{}, ro)
	srv2 := httptest.NewServer(handler(second))
	defer srv2.Close()
	more := make(chan struct{})
	go func() { // and while it reconnects
		defer close(more)
		for i := 150; i < 200; i++ {
			if _, err := pub.Publish(context.Background(), "feed", core.Message{Data: strconv.Itoa(i)}); err != nil {
				t.Errorf("Publish: %v", err)
				return
			}
		}
	}()
	resp, p2 := get(srv2.URL, p.LastEventID())
	for len(got) < 200 {
		ev, err := p2.Next()
		if err != nil {
			t.Fatalf("after %d events: %v", len(got), err)
		}
		got = append(got, ev.Data)
	}
	<-more
	want := make([]string, 200)
	for i := range want {
		want[i] = strconv.Itoa(i)
	}
	equal(t, "events across the restart", got, want)
	resp.Body.Close()
	if err := second.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// The streams are trimmed by count (MAXLEN) and age (MINID), and a client
// behind what was trimmed gets the reset signal.
func TestRedisBrokerTrim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("MaxLen", func(t *testing.T) {
		p := testPrefix(t)
		c := newClient(t, "")
		b := newBroker(t, c, broker.Options{}, Options{Prefix: p, MaxLen: 10})
		var ids []string
		for i := range 50 {
			ids = append(ids, publish(t, b, "t", core.Message{Data: strconv.Itoa(i)}))
		}
		if n := c.XLen(ctx, "{"+p+"}:t:t").Val(); n != 10 {
			t.Fatalf("XLEN: %d; want 10", n)
		}
		ev, _ := collect(t, subscribe(t, b, []string{"t"}, ids[5]), 11)
		equal(t, "behind the log", idsOf(ev), append([]string{"reset"}, ids[40:]...))
		ev, _ = collect(t, subscribe(t, b, []string{"t"}, ids[39]), 10)
		equal(t, "at the last trimmed id", idsOf(ev), ids[40:])
		ev, _ = collect(t, subscribe(t, b, []string{"t"}, "garbage"), 11)
		equal(t, "not an id", idsOf(ev), append([]string{"reset"}, ids[40:]...))
	})
	t.Run("MaxAge", func(t *testing.T) {
		p := testPrefix(t)
		c := newClient(t, "")
		b := newBroker(t, c, broker.Options{}, Options{Prefix: p, MaxAge: time.Minute})
		now := c.Time(ctx).Val().UnixMilli()
		e0 := publish(t, b, "t", core.Message{ID: strconv.FormatInt(now-120_000, 10) + "-0", Data: "e0"})
		e1 := publish(t, b, "t", core.Message{ID: strconv.FormatInt(now-119_000, 10) + "-0", Data: "e1"})
		e2 := publish(t, b, "t", core.Message{Data: "e2"})
		if n := c.XLen(ctx, "{"+p+"}:t:t").Val(); n != 1 {
			t.Fatalf("XLEN: %d; want 1 (entries older than MaxAge trimmed)", n)
		}
		ev, _ := collect(t, subscribe(t, b, []string{"t"}, e0), 2)
		equal(t, "behind the log", idsOf(ev), []string{"reset", e2})
		ev, _ = collect(t, subscribe(t, b, []string{"t"}, e1), 1)
		equal(t, "at the last trimmed id", idsOf(ev), []string{e2})

	})
	t.Run("MaxAgeIdle", func(t *testing.T) {
		// An idle topic ages too: replay trims it. Its entries are 300 ms
		// short of MaxAge.
		c := newClient(t, "")
		b := newBroker(t, c, broker.Options{}, Options{Prefix: testPrefix(t), MaxAge: time.Minute})
		young := strconv.FormatInt(c.Time(ctx).Val().UnixMilli()-time.Minute.Milliseconds()+300, 10)
		first := publish(t, b, "idle", core.Message{ID: young + "-0", Data: "x"})
		publish(t, b, "idle", core.Message{ID: young + "-1", Data: "y"})
		deadline := time.Now().Add(5 * time.Second)
		for i := 0; ; i++ {
			s := subscribe(t, b, []string{"idle"}, first)
			ev, _ := collect(t, s, 1)
			if i == 0 && ev[0].Data != "y" {
				t.Fatalf("before aging: got %+v; want y", ev[0])
			}
			s.Stop(nil)
			if ev[0].Type == broker.ResetEvent {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the idle topic's entry never aged out: %+v", ev)
			}
		}
	})
	t.Run("EmptyLog", func(t *testing.T) {
		// An id from before the log began (here: nothing was ever published
		// under this prefix) gets the signal.
		b := newBroker(t, newClient(t, ""), broker.Options{}, Options{Prefix: testPrefix(t)})
		s := subscribe(t, b, []string{"t"}, "1700000000000-0")
		ev, _ := collect(t, s, 1)
		equal(t, "before the log", idsOf(ev), []string{"reset"})
	})
}

func TestRedisBrokerIDs(t *testing.T) {
	t.Parallel()
	b := newBroker(t, newClient(t, ""), broker.Options{}, Options{Prefix: testPrefix(t)})
	a := publish(t, b, "a", core.Message{Data: "x"})
	z := publish(t, b, "b", core.Message{Data: "x"})
	increasing(t, []string{a, z})
	given := "99999999999999-5"
	if id := publish(t, b, "a", core.Message{ID: given, Data: "x"}); id != given {
		t.Fatalf("given id: got %s; want %s", id, given)
	}
	next := publish(t, b, "b", core.Message{Data: "x"})
	equal(t, "after a given id", []string{next}, []string{"99999999999999-6"})
	_, err := b.Publish(context.Background(), "a", core.Message{ID: given, Data: "x"})
	if !errors.Is(err, broker.ErrIDOrder) {
		t.Fatalf("repeated id: got %v; want ErrIDOrder", err)
	}
}

// A stalled subscriber overflows and is disconnected; a fast one on the same
// instance gets every event meanwhile.
func TestRedisBrokerStalledSubscriber(t *testing.T) {
	t.Parallel()
	const n = 100
	ro := Options{Prefix: testPrefix(t)}
	c := newClient(t, "")
	pub, b := newBroker(t, c, broker.Options{}, ro), newBroker(t, c, broker.Options{QueueEvents: 8}, ro)
	slow, fast := subscribe(t, b, []string{"t"}, ""), subscribe(t, b, []string{"t"}, "")
	stall, rec := newStalled(), newRecorder()
	slowDone, fastDone := run(slow, stall), run(fast, rec)
	publish(t, pub, "t", core.Message{Data: "0"})
	wait(t, stall.Blocked, "the slow stream's first write")
	for i := 1; i < n; i++ {
		publish(t, pub, "t", core.Message{Data: strconv.Itoa(i)})
		rec.WaitEvents(t, i+1)
	}
	if ev := rec.Events(); len(ev) != n {
		t.Fatalf("fast: %d events; want %d", len(ev), n)
	}
	if !errors.Is(slow.Err(), broker.ErrSlowSubscriber) {
		t.Fatalf("slow: Err %v; want ErrSlowSubscriber", slow.Err())
	}
	close(stall.Release)
	wait(t, slowDone, "the slow stream to end")
	publish(t, pub, "t", core.Message{Event: broker.CloseEvent, Data: "bye"})
	if err := wait(t, fastDone, "the close event to end the fast stream"); err != nil {
		t.Fatalf("fast stream: %v", err)
	}
}

// When the broker's client is closed under it, its streams end with the
// error, Publish and Subscribe fail, and Shutdown still returns with no
// goroutine left (TestMain checks).
func TestRedisBrokerClientClosed(t *testing.T) {
	t.Parallel()
	ro := Options{Prefix: testPrefix(t)}
	c := goredis.NewClient(&goredis.Options{Addr: redisAddr(), MaxRetries: -1})
	newClient(t, "") // fails the test clearly when Redis is down
	b := broker.New(broker.Options{Backend: New(c, ro)})
	s := subscribe(t, b, []string{"t"}, "")
	rec := newRecorder()
	done := run(s, rec)
	publish(t, b, "t", core.Message{Data: "before"})
	rec.WaitEvents(t, 1)
	c.Close()
	if err := wait(t, done, "the stream to end"); err == nil || err != s.Err() {
		t.Fatalf("stream ended with %v; want the subscription's Err, the backend's error (got %v)", err, s.Err())
	}
	if _, err := b.Publish(context.Background(), "t", core.Message{Data: "x"}); err == nil {
		t.Fatal("Publish on a closed client succeeded")
	}
	_, err := b.Subscribe(context.Background(), []string{"t"}, "")
	if core.StatusOf(err) != http.StatusServiceUnavailable {
		t.Fatalf("Subscribe: %v; want 503", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// When the connections to Redis drop, the streams end (clients resume with
// Last-Event-ID) and the broker recovers: a new subscription gets events
// again, resuming exactly.
func TestRedisBrokerConnectionDrop(t *testing.T) {
	t.Parallel()
	ro := Options{Prefix: testPrefix(t)}
	px := newProxy(t)
	viaProxy := newClient(t, px.addr())
	b := newBroker(t, viaProxy, broker.Options{}, ro)
	pub := newBroker(t, newClient(t, ""), broker.Options{}, ro)

	s := subscribe(t, b, []string{"t"}, "")
	rec := newRecorder()
	done := run(s, rec)
	publish(t, pub, "t", core.Message{Data: "0"})
	ev := rec.WaitEvents(t, 1)
	// Down, not only cut: a reader between two XREADs would take a fresh
	// connection from the pool and never fail.
	px.down()
	if err := wait(t, done, "the stream to end"); err == nil || err != s.Err() {
		t.Fatalf("stream ended with %v; want the subscription's Err, the connection error (got %v)", err, s.Err())
	}
	px.up()
	publish(t, pub, "t", core.Message{Data: "1"}) // while the client is away
	var s2 *broker.Subscription
	for attempt := 0; ; attempt++ { // the first attempts may meet the broken pool
		var err error
		s2, err = b.Subscribe(context.Background(), []string{"t"}, ev[0].LastEventID)
		if err == nil {
			break
		}
		if attempt == 20 {
			t.Fatalf("Subscribe never recovered: %v", err)
		}
	}
	defer s2.Stop(nil)
	publish(t, pub, "t", core.Message{Data: "2"})
	got, _ := collect(t, s2, 2)
	equal(t, "after recovery", datas(got), []string{"1", "2"})
}

func TestRedisBrokerCloseEvent(t *testing.T) {
	t.Parallel()
	ro := Options{Prefix: testPrefix(t)}
	c := newClient(t, "")
	a, b := newBroker(t, c, broker.Options{}, ro), newBroker(t, c, broker.Options{KeepOpenOnClose: true}, ro)
	sa, sb := subscribe(t, a, []string{"t"}, ""), subscribe(t, b, []string{"t"}, "")
	publish(t, a, "t", core.Message{Event: broker.CloseEvent, Data: "bye"})
	publish(t, a, "t", core.Message{Data: "after"})
	ev, end := collect(t, sa, 2)
	if !end || len(ev) != 1 || ev[0].Type != "close" {
		t.Fatalf("default: got %+v end=%v; want close then the end", ev, end)
	}
	ev, end = collect(t, sb, 2)
	if end || len(ev) != 2 {
		t.Fatalf("KeepOpenOnClose: got %+v end=%v; want both events", ev, end)
	}
}

// Shutdown ends the streams, stops the reader and deletes the wake stream.
func TestRedisBrokerShutdown(t *testing.T) {
	t.Parallel()
	p := testPrefix(t)
	c := newClient(t, "")
	be := New(c, Options{Prefix: p})
	b := broker.New(broker.Options{Backend: be})
	s, err := b.Subscribe(context.Background(), []string{"t"}, "")
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	done := run(s, rec)
	publish(t, b, "t", core.Message{Data: "x"})
	rec.WaitEvents(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := wait(t, done, "the stream to end"); !errors.Is(err, core.ErrShutdown) {
		t.Fatalf("stream ended with %v; want ErrShutdown", err)
	}
	if n := c.Exists(ctx, be.keyWake).Val(); n != 0 {
		t.Fatal("the wake stream is left behind")
	}
	if _, err := b.Publish(ctx, "t", core.Message{Data: "x"}); !errors.Is(err, core.ErrShutdown) {
		t.Fatalf("Publish after Shutdown: %v", err)
	}
}

// fakeSink records deliveries.
type fakeSink struct{ got []broker.Entry }

func (f *fakeSink) Deliver(e broker.Entry) { f.got = append(f.got, e) }
func (f *fakeSink) Fail(error)             {}

// A reply in which a stream filled Count delivers only up to that stream's
// last entry, in id order, so that the next XREAD keeps the global order.
func TestRedisDispatchTruncated(t *testing.T) {
	t.Parallel()
	be := New(nil, Options{Prefix: "p", Count: 2})
	sink := &fakeSink{}
	be.sink = sink
	msg := func(id string) goredis.XMessage {
		return goredis.XMessage{ID: id, Values: map[string]any{"b": "data: " + id + "\n\n", "c": "0"}}
	}
	res := []goredis.XStream{
		{Stream: "{p}:t:a", Messages: []goredis.XMessage{msg("1-0"), msg("5-0")}}, // full: may have more
		{Stream: "{p}:t:b", Messages: []goredis.XMessage{msg("2-0"), msg("4-0")}}, // full too
		{Stream: "{p}:t:c", Messages: []goredis.XMessage{msg("3-0")}},
		{Stream: be.keyWake, Messages: []goredis.XMessage{{ID: "9-0"}}},
	}
	wakeID := "0-0"
	cursor := be.dispatch(res, broker.ID{}, &wakeID)
	var got []string
	for _, e := range sink.got {
		got = append(got, e.Topic+":"+e.ID.String())
	}
	equal(t, "delivered", got, []string{"a:1-0", "b:2-0", "c:3-0", "b:4-0"})
	if cursor != (broker.ID{Ms: 4}) || wakeID != "9-0" {
		t.Fatalf("cursor %v wake %s; want 4-0 and 9-0", cursor, wakeID)
	}
	if string(sink.got[0].Frame) != "id: 1-0\ndata: 1-0\n\n" {
		t.Fatalf("frame %q", sink.got[0].Frame)
	}
}
