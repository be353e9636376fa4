package broker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/ssekit/ssekit/internal/brokertest"

	"github.com/ssekit/ssekit/core"
)

func TestBrokerPublishSubscribe(t *testing.T) {
	t.Parallel()
	b := memBroker(t, newClock(), Options{}, MemoryOptions{})
	news := subscribe(t, b, []string{"news"}, "")
	both := subscribe(t, b, []string{"news", "sport"}, "")

	publish(t, b, "news", core.Message{Event: "headline", Data: "one"})
	publish(t, b, "sport", core.Message{Data: map[string]int{"score": 2}})
	publish(t, b, "weather", core.Message{Data: "nobody listens"})

	select {
	case <-news.Ready():
	default:
		t.Fatal("Ready not signalled after Publish")
	}
	ev, end := drain(news)
	if end || len(ev) != 1 || ev[0].Type != "headline" || ev[0].Data != "one" || ev[0].LastEventID != "1700000000000-0" {
		t.Fatalf("news: got %+v end=%v; want one headline event with id 1700000000000-0", ev, end)
	}
	ev, _ = drain(both)
	equal(t, "both", datas(ev), []string{"one", `{"score":2}`})
	if ev, _ := drain(news); len(ev) != 0 {
		t.Fatalf("second Drain: got %+v; want nothing", ev)
	}
	if got := news.Topics(); !slices.Equal(got, []string{"news"}) {
		t.Fatalf("Topics: got %q", got)
	}
}

func TestBrokerPublishErrors(t *testing.T) {
	t.Parallel()
	b := memBroker(t, newClock(), Options{}, MemoryOptions{})
	ctx := context.Background()
	if _, err := b.Publish(ctx, "t", core.Message{Event: "a\nb"}); !errors.Is(err, core.ErrInvalidField) {
		t.Errorf("bad event: got %v; want ErrInvalidField", err)
	}
	if _, err := b.Publish(ctx, "t", core.Message{}); !errors.Is(err, core.ErrInvalidField) {
		t.Errorf("empty message: got %v; want ErrInvalidField", err)
	}
	if _, err := b.Publish(ctx, "t", core.Message{ID: "abc", Data: "x"}); !errors.Is(err, ErrInvalidID) {
		t.Errorf("bad id: got %v; want ErrInvalidID", err)
	}
	if _, err := b.Publish(ctx, "", core.Message{Data: "x"}); !errors.Is(err, ErrNoTopic) {
		t.Errorf("no topic: got %v; want ErrNoTopic", err)
	}
	if _, err := b.Publish(ctx, "t", core.Message{Data: func() {}}); err == nil {
		t.Error("unencodable data: got nil error")
	}
}

// Comment-only and retry-only messages become events with empty data, since
// every published message gets an id.
func TestBrokerPublishBareMessages(t *testing.T) {
	t.Parallel()
	b := memBroker(t, newClock(), Options{}, MemoryOptions{})
	s := subscribe(t, b, []string{"t"}, "")
	publish(t, b, "t", core.Message{Comment: "hi"})
	publish(t, b, "t", core.Message{Retry: 1500 * time.Millisecond})
	got, _ := s.Drain(nil)
	want := "id: 1700000000000-0\n: hi\ndata: \n\nid: 1700000000000-1\nretry: 1500\ndata: \n\n"
	if string(got) != want {
		t.Fatalf("got %q; want %q", got, want)
	}
}

// The event is encoded once: every subscriber queues the same bytes, and
// publishing allocates the same whatever the number of subscribers.
func TestBrokerEncodeOnce(t *testing.T) {
	b := memBroker(t, newClock(), Options{}, MemoryOptions{})
	s1 := subscribe(t, b, []string{"t"}, "")
	s2 := subscribe(t, b, []string{"t", "u"}, "")
	publish(t, b, "t", core.Message{Data: "shared"})
	s1.mu.Lock()
	s2.mu.Lock()
	p1, p2 := unsafe.SliceData(s1.q[0]), unsafe.SliceData(s2.q[0])
	s2.mu.Unlock()
	s1.mu.Unlock()
	if p1 != p2 {
		t.Fatalf("subscribers got different copies of the frame (%p, %p)", p1, p2)
	}

	allocs := func(n int) float64 {
		b := memBroker(t, newClock(), Options{}, MemoryOptions{MaxLen: 10})
		subs := make([]*Subscription, n)
		for i := range subs {
			subs[i] = subscribe(t, b, []string{"t"}, "")
		}
		buf := make([]byte, 0, 256)
		m := core.Message{Event: "e", Data: "payload"}
		return testing.AllocsPerRun(200, func() {
			publish(t, b, "t", m)
			for _, s := range subs {
				buf, _ = s.Drain(buf[:0])
			}
		})
	}
	one, many := allocs(1), allocs(500)
	if many != one {
		t.Fatalf("allocations per Publish: %v with 1 subscriber, %v with 500; want equal (encode once, nothing per subscriber)", one, many)
	}
}

func TestBrokerIDs(t *testing.T) {
	t.Parallel()
	c := newClock()
	b := memBroker(t, c, Options{}, MemoryOptions{})
	var got []string
	for range 3 {
		got = append(got, publish(t, b, "a", core.Message{Data: "x"}))
	}
	c.Advance(1) // less than a millisecond: same ms
	got = append(got, publish(t, b, "b", core.Message{Data: "x"}))
	c.Advance(5_000_000) // 5 ms
	got = append(got, publish(t, b, "a", core.Message{Data: "x"}))
	c.Advance(-60_000_000_000) // the clock steps back a minute
	got = append(got, publish(t, b, "b", core.Message{Data: "x"}))
	for i := range 11 { // seq 10 must sort after seq 9
		got = append(got, publish(t, b, "a", core.Message{Data: strconv.Itoa(i)}))
	}
	equal(t, "ids", got[:6], []string{"1700000000000-0", "1700000000000-1", "1700000000000-2", "1700000000000-3", "1700000000005-0", "1700000000005-1"})
	for i := 1; i < len(got); i++ {
		a, _ := ParseID(got[i-1])
		z, err := ParseID(got[i])
		if err != nil || a.Compare(z) >= 0 {
			t.Fatalf("ids not increasing: %s then %s (%v)", got[i-1], got[i], err)
		}
	}

	// A given id is kept, in canonical form; it must be greater.
	if id := publish(t, b, "a", core.Message{ID: "1800000000000-7", Data: "x"}); id != "1800000000000-7" {
		t.Fatalf("given id: got %s; want 1800000000000-7", id)
	}
	if id := publish(t, b, "b", core.Message{ID: "1800000000001", Data: "x"}); id != "1800000000001-0" {
		t.Fatalf("given id: got %s; want 1800000000001-0", id)
	}
	if id := publish(t, b, "a", core.Message{Data: "x"}); id != "1800000000001-1" {
		t.Fatalf("after a given id: got %s; want 1800000000001-1", id)
	}
	if _, err := b.Publish(context.Background(), "a", core.Message{ID: "1800000000001-1", Data: "x"}); !errors.Is(err, ErrIDOrder) {
		t.Fatalf("repeated id: got %v; want ErrIDOrder", err)
	}
	s := subscribe(t, b, []string{"a"}, "1800000000000-7")
	ev, _ := drain(s)
	equal(t, "resume after a given id", idsOf(ev), []string{"1800000000001-1"})
}

func TestBrokerParseID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want ID
		ok   bool
	}{
		{"1-2", ID{1, 2}, true},
		{"1700000000000-0", ID{1700000000000, 0}, true},
		{"42", ID{42, 0}, true},
		{"18446744073709551615-18446744073709551615", ID{1<<64 - 1, 1<<64 - 1}, true},
		{"18446744073709551616-0", ID{}, false},
		{"", ID{}, false},
		{"-1", ID{}, false},
		{"1-", ID{}, false},
		{"1-+2", ID{}, false},
		{"a-1", ID{}, false},
		{"1-2-3", ID{}, false},
		{" 1-2", ID{}, false},
	} {
		got, err := ParseID(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseID(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidID) {
			t.Errorf("ParseID(%q) error %v does not match ErrInvalidID", tc.in, err)
		}
		if tc.ok && tc.in != "42" && got.String() != tc.in {
			t.Errorf("ParseID(%q).String() = %q", tc.in, got.String())
		}
	}
	ids := []ID{{2, 0}, {1, 10}, {1, 9}, {0, 0}, {10, 0}}
	slices.SortFunc(ids, ID.Compare)
	if !slices.Equal(ids, []ID{{0, 0}, {1, 9}, {1, 10}, {2, 0}, {10, 0}}) {
		t.Fatalf("sorted: got %v", ids)
	}
}

func TestBrokerReplay(t *testing.T) {
	t.Parallel()
	b := memBroker(t, newClock(), Options{}, MemoryOptions{})
	var ids []string
	for i := range 5 {
		ids = append(ids, publish(t, b, "t", core.Message{Data: strconv.Itoa(i)}))
	}
	s := subscribe(t, b, []string{"t"}, ids[1])
	publish(t, b, "t", core.Message{Data: "5"})
	ev, _ := drain(s)
	equal(t, "resumed", datas(ev), []string{"2", "3", "4", "5"})

	// Resuming at the newest id: nothing to replay, live from there.
	s = subscribe(t, b, []string{"t"}, "1700000000000-5")
	if ev, _ := drain(s); len(ev) != 0 {
		t.Fatalf("at the head: got %+v; want nothing", ev)
	}
}

// Events published concurrently with subscribing, at random points, reach
// each subscriber as a contiguous suffix: no gap, no duplicate.
func TestBrokerReplayConcurrent(t *testing.T) {
	t.Parallel()
	const n, subs = 3000, 60
	b := memBroker(t, nil, Options{QueueEvents: 2 * n}, MemoryOptions{MaxLen: 2 * n})
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
			id, err := b.Publish(context.Background(), "t", core.Message{Data: strconv.Itoa(i)})
			if err != nil {
				t.Errorf("Publish: %v", err)
				return
			}
			mu.Lock()
			published = append(published, id)
			mu.Unlock()
		}
	}()
	type sub struct {
		s     *Subscription
		last  string // "" for live
		start int    // replay: index of the first expected event; live: latest allowed start
	}
	results := make(chan sub, subs)
	var wg sync.WaitGroup
	for i := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for k := rng.IntN(50); k > 0; k-- { // subscribe at a random point
				snapshot()
			}
			seen := snapshot()
			last, start := "", 0
			if i%3 != 0 && len(seen) > 0 {
				j := rng.IntN(len(seen))
				last, start = seen[j], j+1
			}
			s, err := b.Subscribe(context.Background(), []string{"t"}, last)
			if err != nil {
				t.Errorf("Subscribe: %v", err)
				return
			}
			t.Cleanup(func() { s.Stop(nil) })
			if last == "" {
				start = len(snapshot()) + 1 // the one in flight may be missed
			}
			results <- sub{s, last, start}
		}()
	}
	wg.Wait()
	close(results)
	<-pubDone
	all := snapshot()
	for r := range results {
		ev, _ := drain(r.s)
		r.s.Stop(nil)
		got := idsOf(ev)
		if r.last != "" {
			equal(t, "replayed after "+r.last, got, all[r.start:])
			continue
		}
		from := len(all) - len(got)
		if from > r.start {
			t.Fatalf("live subscriber: first event #%d; want at most #%d (events after Subscribe returned are never missed)", from, r.start)
		}
		equal(t, "live subscriber", got, all[from:])
	}
}

// With several topics and publishers, one Last-Event-ID resumes every topic:
// ids are global, and each subscriber sees every id after its own, in order.
func TestBrokerMultiTopicConcurrent(t *testing.T) {
	t.Parallel()
	const n, subs = 1000, 40
	topics := []string{"a", "b", "c"}
	b := memBroker(t, nil, Options{QueueEvents: 4 * n}, MemoryOptions{MaxLen: 2 * n})
	var (
		mu        sync.Mutex
		published []ID
	)
	var pubs sync.WaitGroup
	for _, topic := range topics {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for i := range n {
				id, err := b.Publish(context.Background(), topic, core.Message{Data: topic + strconv.Itoa(i)})
				if err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
				pid, _ := ParseID(id)
				mu.Lock()
				published = append(published, pid)
				mu.Unlock()
			}
		}()
	}
	type sub struct {
		s      *Subscription
		after  ID
		topics []string
	}
	results := make(chan sub, subs)
	var wg sync.WaitGroup
	for i := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 9))
			mu.Lock()
			var after ID
			if len(published) > 0 {
				after = published[rng.IntN(len(published))]
			} else {
				after = ID{Ms: 1}
			}
			mu.Unlock()
			ts := topics[:1+i%3]
			s, err := b.Subscribe(context.Background(), ts, after.String())
			if err != nil {
				t.Errorf("Subscribe: %v", err)
				return
			}
			results <- sub{s, after, ts}
		}()
	}
	wg.Wait()
	close(results)
	pubs.Wait()
	// Every id, in order, with its topic.
	byID := map[ID]string{}
	for _, topic := range topics {
		s := subscribe(t, b, []string{topic}, "1")
		ev, _ := drain(s)
		for _, e := range ev {
			if e.Type == ResetEvent {
				continue
			}
			id, _ := ParseID(e.LastEventID)
			byID[id] = topic
		}
	}
	if len(byID) != len(topics)*n {
		t.Fatalf("log holds %d events; want %d", len(byID), len(topics)*n)
	}
	all := slices.SortedFunc(func(yield func(ID) bool) {
		for id := range byID {
			if !yield(id) {
				return
			}
		}
	}, ID.Compare)
	for r := range results {
		var want []string
		for _, id := range all {
			if id.Compare(r.after) > 0 && slices.Contains(r.topics, byID[id]) {
				want = append(want, id.String())
			}
		}
		ev, _ := drain(r.s)
		r.s.Stop(nil)
		got := idsOf(ev)
		if r.after == (ID{Ms: 1}) { // before the log began: the signal first
			want = append([]string{"reset"}, want...)
		}
		equal(t, fmt.Sprintf("%v after %v", r.topics, r.after), got, want)
	}
}

func TestBrokerTooOld(t *testing.T) {
	t.Parallel()
	c := newClock()
	b := memBroker(t, c, Options{}, MemoryOptions{MaxLen: 5})
	var ids []string
	for i := range 8 {
		ids = append(ids, publish(t, b, "t", core.Message{Data: strconv.Itoa(i)}))
	}
	for _, tc := range []struct {
		name, last string
		want       []string
	}{
		{"trimmed", ids[1], []string{"reset", "3", "4", "5", "6", "7"}},
		{"at the last dropped id", ids[2], []string{"3", "4", "5", "6", "7"}},
		{"retained", ids[4], []string{"5", "6", "7"}},
		{"not a broker id", "garbage", []string{"reset", "3", "4", "5", "6", "7"}},
		{"before the log began (an earlier process)", "1600000000000-3", []string{"reset", "3", "4", "5", "6", "7"}},
	} {
		s := subscribe(t, b, []string{"t"}, tc.last)
		ev, _ := drain(s)
		got := datas(ev)
		if len(ev) > 0 && ev[0].Type == ResetEvent {
			got[0] = "reset"
			if ev[0].Data != "" || ev[0].LastEventID != "" {
				t.Errorf("%s: reset signal %+v; want empty data and no id", tc.name, ev[0])
			}
		}
		equal(t, tc.name, got, tc.want)
	}
}

// The log is bounded by count and by age (with an injected clock), and a
// topic whose entries all aged out is forgotten without hiding the loss.
func TestBrokerLogBounds(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := NewMemory(MemoryOptions{MaxLen: 5, MaxAge: time.Minute, Now: c.Now})
	b := newBroker(t, Options{Backend: m})
	for i := range 20 {
		publish(t, b, "count", core.Message{Data: strconv.Itoa(i)})
	}
	m.mu.Lock()
	n := len(m.logs["count"].entries)
	m.mu.Unlock()
	if n != 5 {
		t.Fatalf("log holds %d entries; want 5 (MaxLen)", n)
	}

	e0 := publish(t, b, "age", core.Message{Data: "e0"})
	e1 := publish(t, b, "age", core.Message{Data: "e1"})
	c.Advance(30 * time.Second)
	publish(t, b, "age", core.Message{Data: "e2"})
	c.Advance(40 * time.Second) // e0 and e1 are 70 s old, e2 is 40 s old
	ev, _ := drain(subscribe(t, b, []string{"age"}, e0))
	equal(t, "after e0", datas(ev), []string{"", "e2"})
	if ev[0].Type != ResetEvent {
		t.Fatalf("after e0: first event %+v; want the reset signal", ev[0])
	}
	ev, _ = drain(subscribe(t, b, []string{"age"}, e1))
	equal(t, "after e1", datas(ev), []string{"e2"})

	// "idle" ages out; a sweep forgets it, and a client behind it still gets
	// the signal.
	before := publish(t, b, "other", core.Message{Data: "x"})
	publish(t, b, "idle", core.Message{Data: "x"})
	c.Advance(2 * time.Minute)
	for range sweepEvery {
		publish(t, b, "busy", core.Message{Data: "x"})
	}
	m.mu.Lock()
	_, held := m.logs["idle"]
	m.mu.Unlock()
	if held {
		t.Fatal("a topic whose entries all aged out is still held after a sweep")
	}
	ev, _ = drain(subscribe(t, b, []string{"idle"}, before))
	if len(ev) != 1 || ev[0].Type != ResetEvent {
		t.Fatalf("forgotten topic: got %+v; want the reset signal", ev)
	}
}

func TestBrokerRestartedProcessSignals(t *testing.T) {
	t.Parallel()
	c := newClock()
	old := memBroker(t, c, Options{}, MemoryOptions{})
	last := publish(t, old, "t", core.Message{Data: "before the restart"})
	c.Advance(time.Second)
	restarted := memBroker(t, c, Options{}, MemoryOptions{})
	ev, _ := drain(subscribe(t, restarted, []string{"t"}, last))
	if len(ev) != 1 || ev[0].Type != ResetEvent {
		t.Fatalf("got %+v; want the reset signal: what the old process published after the id is lost", ev)
	}
}

func TestBrokerCloseEvent(t *testing.T) {
	t.Parallel()
	b := memBroker(t, newClock(), Options{}, MemoryOptions{})
	s := subscribe(t, b, []string{"t"}, "")
	publish(t, b, "t", core.Message{Data: "a"})
	publish(t, b, "t", core.Message{Event: CloseEvent, Data: "bye"})
	publish(t, b, "t", core.Message{Data: "after"})
	ev, end := drain(s)
	if !end || len(ev) != 2 || ev[1].Type != "close" {
		t.Fatalf("got %+v end=%v; want a, close, then the end", ev, end)
	}
	if s.Err() != nil {
		t.Fatalf("Err: %v; want nil (normal end)", s.Err())
	}

	// Resuming from before the close event replays it and ends again.
	s = subscribe(t, b, []string{"t"}, "1700000000000-0")
	ev, end = drain(s)
	if !end || len(ev) != 1 || ev[0].Type != "close" {
		t.Fatalf("replay: got %+v end=%v; want close then the end", ev, end)
	}

	keep := memBroker(t, newClock(), Options{KeepOpenOnClose: true}, MemoryOptions{})
	s = subscribe(t, keep, []string{"t"}, "")
	publish(t, keep, "t", core.Message{Event: CloseEvent, Data: "bye"})
	publish(t, keep, "t", core.Message{Data: "after"})
	ev, end = drain(s)
	if end || len(ev) != 2 {
		t.Fatalf("KeepOpenOnClose: got %+v end=%v; want both events and no end", ev, end)
	}
}

// A subscriber that stops reading overflows and is disconnected; a fast one,
// running concurrently, gets every event without waiting for it.
func TestBrokerSlowSubscriber(t *testing.T) {
	t.Parallel()
	const n = 300
	b := memBroker(t, nil, Options{QueueEvents: 16}, MemoryOptions{})
	slow, fast := subscribe(t, b, []string{"t"}, ""), subscribe(t, b, []string{"t"}, "")
	stall, rec := newStalled(), newRecorder()
	slowDone, fastDone := run(slow, stall), run(fast, rec)

	publish(t, b, "t", core.Message{Data: "0"})
	wait(t, stall.Blocked, "the slow stream's first write")
	rec.WaitEvents(t, 1)
	for i := 1; i < n; i++ {
		publish(t, b, "t", core.Message{Data: strconv.Itoa(i)})
		rec.WaitEvents(t, i+1) // each event reaches the fast client while the slow one stalls
	}
	ev := rec.Events()
	if len(ev) != n || ev[n-1].Data != strconv.Itoa(n-1) {
		t.Fatalf("fast subscriber: got %d events; want %d", len(ev), n)
	}
	if err := slow.Err(); !errors.Is(err, ErrSlowSubscriber) {
		t.Fatalf("slow subscriber Err: %v; want ErrSlowSubscriber", err)
	}
	close(stall.Release) // the stalled write fails; the stream ends
	if err := wait(t, slowDone, "the slow stream to end"); !errors.Is(err, core.ErrWrite) {
		t.Fatalf("slow stream ended with %v; want ErrWrite", err)
	}
	publish(t, b, "t", core.Message{Event: CloseEvent})
	if err := wait(t, fastDone, "the fast stream to end"); err != nil {
		t.Fatalf("fast stream ended with %v; want nil", err)
	}
	if b.Len() != 0 {
		t.Fatalf("Len after both ended: %d", b.Len())
	}
}

func TestBrokerOverflowPolicies(t *testing.T) {
	t.Parallel()
	t.Run("Disconnect", func(t *testing.T) {
		b := memBroker(t, newClock(), Options{QueueEvents: 3}, MemoryOptions{})
		s := subscribe(t, b, []string{"t"}, "")
		for i := range 4 {
			publish(t, b, "t", core.Message{Data: strconv.Itoa(i)})
		}
		ev, end := drain(s)
		if !end || len(ev) != 0 || !errors.Is(s.Err(), ErrSlowSubscriber) {
			t.Fatalf("got %+v end=%v err=%v; want nothing more, the end, ErrSlowSubscriber", ev, end, s.Err())
		}
	})
	t.Run("DropOldest", func(t *testing.T) {
		b := memBroker(t, newClock(), Options{QueueEvents: 3, Overflow: DropOldest}, MemoryOptions{})
		s := subscribe(t, b, []string{"t"}, "")
		for i := range 5 {
			publish(t, b, "t", core.Message{Data: strconv.Itoa(i)})
		}
		ev, end := drain(s)
		equal(t, "kept", datas(ev), []string{"2", "3", "4"})
		if end || s.Err() != nil {
			t.Fatalf("end=%v err=%v; want the stream to go on", end, s.Err())
		}
	})
	t.Run("Bytes", func(t *testing.T) {
		b := memBroker(t, newClock(), Options{QueueBytes: 100}, MemoryOptions{})
		s := subscribe(t, b, []string{"t"}, "")
		big := string(make([]byte, 500))
		publish(t, b, "t", core.Message{Data: big}) // alone in an empty queue: accepted
		ev, end := drain(s)
		if end || len(ev) != 1 {
			t.Fatalf("big event: got %d events end=%v; want it delivered", len(ev), end)
		}
		publish(t, b, "t", core.Message{Data: "small"})
		publish(t, b, "t", core.Message{Data: big})
		if _, end := drain(s); !end || !errors.Is(s.Err(), ErrSlowSubscriber) {
			t.Fatalf("over the byte bound: end=%v err=%v; want disconnected", end, s.Err())
		}
	})
	t.Run("ReplayDoesNotCount", func(t *testing.T) {
		b := memBroker(t, newClock(), Options{QueueEvents: 2}, MemoryOptions{})
		for i := range 5 {
			publish(t, b, "t", core.Message{Data: strconv.Itoa(i)})
		}
		s := subscribe(t, b, []string{"t"}, "1700000000000-0")
		publish(t, b, "t", core.Message{Data: "5"})
		publish(t, b, "t", core.Message{Data: "6"})
		ev, end := drain(s)
		equal(t, "replay then live", datas(ev), []string{"1", "2", "3", "4", "5", "6"})
		if end {
			t.Fatal("ended; want the replay not to count against QueueEvents")
		}
	})
}

// hookBackend runs a hook before each Read, to act while a subscriber is
// between registering and replaying.
type hookBackend struct {
	*Memory
	beforeRead func()
	sink       Sink
}

func (h *hookBackend) Start(s Sink) { h.sink = s; h.Memory.Start(s) }

func (h *hookBackend) Read(ctx context.Context, topics []string, after ID) ([]Entry, bool, error) {
	if h.beforeRead != nil {
		h.beforeRead()
	}
	return h.Memory.Read(ctx, topics, after)
}

// Live events that arrive between registering and the replay are held, and
// those the replay already holds are dropped: no gap, no duplicate.
func TestBrokerSubscribeBeforeReplay(t *testing.T) {
	t.Parallel()
	h := &hookBackend{Memory: NewMemory(MemoryOptions{Now: newClock().Now})}
	b := newBroker(t, Options{Backend: h})
	publish(t, b, "t", core.Message{Data: "0"})
	h.beforeRead = func() {
		for i := 1; i <= 3; i++ {
			publish(t, b, "t", core.Message{Data: strconv.Itoa(i)})
		}
	}
	s := subscribe(t, b, []string{"t"}, "1700000000000-0")
	h.beforeRead = nil
	publish(t, b, "t", core.Message{Data: "4"})
	ev, _ := drain(s)
	equal(t, "events", datas(ev), []string{"1", "2", "3", "4"})

	// A feed that lags (Redis) may deliver, after the replay, an entry the
	// replay already covered: it is dropped.
	s = subscribe(t, b, []string{"t"}, "1700000000000-0")
	old, _, _ := h.Read(context.Background(), []string{"t"}, ID{Ms: 1700000000000, Seq: 2})
	h.sink.Deliver(old[0])
	publish(t, b, "t", core.Message{Data: "5"})
	ev, _ = drain(s)
	equal(t, "after a late delivery", datas(ev), []string{"1", "2", "3", "4", "5"})

	// Held events overflow like queued ones.
	b2 := newBroker(t, Options{Backend: &hookBackend{Memory: NewMemory(MemoryOptions{}), beforeRead: nil}, QueueEvents: 2})
	h2 := b2.backend.(*hookBackend)
	h2.beforeRead = func() {
		for i := range 3 {
			publish(t, b2, "t", core.Message{Data: strconv.Itoa(i)})
		}
	}
	s = subscribe(t, b2, []string{"t"}, "1")
	if _, end := drain(s); !end || !errors.Is(s.Err(), ErrSlowSubscriber) {
		t.Fatalf("overflow while replaying: end=%v err=%v; want ErrSlowSubscriber", end, s.Err())
	}
}

// A backend whose feed breaks ends every subscription with its error.
func TestBrokerBackendFailure(t *testing.T) {
	t.Parallel()
	h := &hookBackend{Memory: NewMemory(MemoryOptions{})}
	b := newBroker(t, Options{Backend: h})
	s1, s2 := subscribe(t, b, []string{"a"}, ""), subscribe(t, b, []string{"a", "b"}, "")
	publish(t, b, "b", core.Message{Data: "queued"})
	boom := errors.New("feed broke")
	h.sink.Fail(boom)
	for _, s := range []*Subscription{s1, s2} {
		if _, end := drain(s); !end || !errors.Is(s.Err(), boom) {
			t.Fatalf("end=%v err=%v; want the end with the backend's error", end, s.Err())
		}
	}
}

func TestBrokerAuthorize(t *testing.T) {
	t.Parallel()
	denied := errors.New("user 7 may not read secret")
	b := memBroker(t, nil, Options{Authorize: func(ctx context.Context, topic string) error {
		switch topic {
		case "secret":
			return denied
		case "login":
			return core.Error(http.StatusUnauthorized, "log in first")
		}
		return nil
	}}, MemoryOptions{})
	_, err := b.Subscribe(context.Background(), []string{"public", "secret"}, "")
	if core.StatusOf(err) != http.StatusForbidden || !errors.Is(err, ErrForbidden) || !errors.Is(err, denied) {
		t.Fatalf("got %v (status %d); want 403 matching ErrForbidden and the hook's error", err, core.StatusOf(err))
	}
	if core.ErrorText(err) != "ssekit: forbidden" {
		t.Fatalf("error text %q leaks the hook's error", core.ErrorText(err))
	}
	_, err = b.Subscribe(context.Background(), []string{"login"}, "")
	if core.StatusOf(err) != http.StatusUnauthorized {
		t.Fatalf("got %v; want the hook's own 401", err)
	}
	subscribe(t, b, []string{"public"}, "")
	if b.Len() != 1 {
		t.Fatalf("Len: %d; want 1 (refused subscriptions are not registered)", b.Len())
	}
	_, err = b.Subscribe(context.Background(), []string{"", ""}, "")
	if core.StatusOf(err) != http.StatusBadRequest || !errors.Is(err, ErrNoTopic) {
		t.Fatalf("no topic: got %v; want 400 ErrNoTopic", err)
	}
	s := subscribe(t, b, []string{"a", "", "a", "b"}, "")
	equal(t, "topics", s.Topics(), []string{"a", "b"})
}

func TestBrokerShutdown(t *testing.T) {
	t.Parallel()
	b := New(Options{})
	var (
		recs  []*brokertest.Recorder
		dones []<-chan error
		subs  []*Subscription
	)
	for i := range 5 {
		s, err := b.Subscribe(context.Background(), []string{"t", strconv.Itoa(i)}, "")
		if err != nil {
			t.Fatal(err)
		}
		r := newRecorder()
		subs, recs, dones = append(subs, s), append(recs, r), append(dones, run(s, r))
	}
	publish(t, b, "t", core.Message{Data: "last words"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for i := range subs {
		if err := wait(t, dones[i], "a stream to end"); !errors.Is(err, core.ErrShutdown) {
			t.Fatalf("stream %d ended with %v; want ErrShutdown", i, err)
		}
		if !errors.Is(subs[i].Err(), core.ErrShutdown) {
			t.Fatalf("Err: %v; want ErrShutdown", subs[i].Err())
		}
		if ev := recs[i].Events(); len(ev) != 1 || ev[0].Data != "last words" {
			t.Fatalf("stream %d wrote %+v; want what was queued", i, ev)
		}
	}
	if _, err := b.Publish(context.Background(), "t", core.Message{Data: "x"}); !errors.Is(err, core.ErrShutdown) {
		t.Fatalf("Publish after Shutdown: %v; want ErrShutdown", err)
	}
	_, err := b.Subscribe(context.Background(), []string{"t"}, "")
	if core.StatusOf(err) != http.StatusServiceUnavailable || !errors.Is(err, core.ErrShutdown) {
		t.Fatalf("Subscribe after Shutdown: %v; want 503 ErrShutdown", err)
	}
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// Shutdown gives up when ctx ends, still closing the backend; a
// subscription nobody runs is what it waits for.
func TestBrokerShutdownTimeout(t *testing.T) {
	t.Parallel()
	b := New(Options{})
	s, err := b.Subscribe(context.Background(), []string{"t"}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: %v; want context.Canceled", err)
	}
	if _, end := s.Drain(nil); !end {
		t.Fatal("the subscription was not told to end")
	}
	s.Stop(nil)
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown once all ended: %v", err)
	}
}

// Subscribing, stopping and publishing all at once (run with -race).
func TestBrokerConcurrentChurn(t *testing.T) {
	t.Parallel()
	b := memBroker(t, nil, Options{QueueEvents: 8}, MemoryOptions{MaxLen: 50})
	topics := []string{"a", "b", "c", "d"}
	stop := make(chan struct{})
	var pubs, subs sync.WaitGroup
	for _, topic := range topics {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for i := 0; i < 5000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := b.Publish(context.Background(), topic, core.Message{Data: "x"}); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		}()
	}
	for g := range 8 {
		subs.Add(1)
		go func() {
			defer subs.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			last := ""
			for range 300 {
				ts := []string{topics[rng.IntN(4)], topics[rng.IntN(4)]}
				s, err := b.Subscribe(context.Background(), ts, last)
				if err != nil {
					t.Errorf("Subscribe: %v", err)
					return
				}
				ev, _ := drain(s)
				if len(ev) > 0 {
					last = ev[len(ev)-1].LastEventID
				}
				s.Stop(nil)
			}
		}()
	}
	subs.Wait()
	close(stop)
	pubs.Wait()
	if b.Len() != 0 {
		t.Fatalf("Len: %d; want 0", b.Len())
	}
	b.mu.RLock()
	left := len(b.topics)
	b.mu.RUnlock()
	if left != 0 {
		t.Fatalf("%d topic sets left; want 0", left)
	}
}
