package broker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/ssekit/ssekit/core"
)

// brokerRecorder is an Observer that records what it hears, as lines.
type brokerRecorder struct {
	mu    sync.Mutex
	lines []string
	panic bool
}

func (r *brokerRecorder) add(format string, args ...any) {
	r.mu.Lock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	if r.panic {
		panic("observer")
	}
}

func (r *brokerRecorder) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := strings.Join(r.lines, "|")
	r.lines = nil
	return s
}

func (r *brokerRecorder) Subscribed(topic string, n int)   { r.add("sub %s %d", topic, n) }
func (r *brokerRecorder) Unsubscribed(topic string, n int) { r.add("unsub %s %d", topic, n) }
func (r *brokerRecorder) Published(topic string, err error) {
	r.add("pub %s %v", topic, err != nil)
}
func (r *brokerRecorder) Delivered(topic string, delivered, dropped int) {
	r.add("deliver %s %d %d", topic, delivered, dropped)
}
func (r *brokerRecorder) Replayed(events int, reset bool) { r.add("replay %d %v", events, reset) }
func (r *brokerRecorder) FeedFailed(err error)            { r.add("fail %v", err) }
func (r *brokerRecorder) FeedRecovered()                  { r.add("recovered") }

func TestObserverBroker(t *testing.T) {
	t.Parallel()
	rec := &brokerRecorder{}
	h := &hookBackend{Memory: NewMemory(MemoryOptions{})}
	b := newBroker(t, Options{Backend: h, Observer: rec, QueueEvents: 2})
	s1 := subscribe(t, b, []string{"a"}, "")
	s2 := subscribe(t, b, []string{"a", "b"}, "")
	if got, want := rec.take(), "sub a 1|sub a 2|sub b 1"; got != want {
		t.Fatalf("subscribe: got %q; want %q", got, want)
	}
	if got := b.Presence(); !maps.Equal(got, map[string]int{"a": 2, "b": 1}) {
		t.Fatalf("Presence: got %v", got)
	}
	if got, err := b.ClusterPresence(context.Background()); err != nil || !maps.Equal(got, map[string]int{"a": 2, "b": 1}) {
		t.Fatalf("ClusterPresence on memory: got %v, %v; want Presence", got, err)
	}
	first := publish(t, b, "a", core.Message{Data: "1"})
	if got, want := rec.take(), "deliver a 2 0|pub a false"; got != want {
		t.Fatalf("publish: got %q; want %q", got, want)
	}
	if _, err := b.Publish(context.Background(), "a", core.Message{Event: "x\n"}); err == nil {
		t.Fatal("bad message published")
	}
	if got, want := rec.take(), "pub a true"; got != want {
		t.Fatalf("failed publish: got %q; want %q", got, want)
	}
	drain(s1)
	publish(t, b, "a", core.Message{Data: "2"}) // s2 holds 2 now: full
	publish(t, b, "a", core.Message{Data: "3"}) // s2 overflows
	if got, want := rec.take(), "deliver a 2 0|pub a false|deliver a 1 1|pub a false"; got != want {
		t.Fatalf("slow subscriber: got %q; want %q", got, want)
	}
	if _, end := drain(s2); !end || core.Reason(s2.Err()) != core.EndSlowSubscriber {
		t.Fatalf("s2: end=%v err=%v; want the end, classified slow_subscriber", end, s2.Err())
	}
	s2.Stop(s2.Err())
	if got, want := rec.take(), "unsub a 1|unsub b 0"; got != want {
		t.Fatalf("unsubscribe: got %q; want %q", got, want)
	}
	if got := b.Presence(); !maps.Equal(got, map[string]int{"a": 1}) {
		t.Fatalf("Presence: got %v", got)
	}
	s3 := subscribe(t, b, []string{"a"}, first)
	if got, want := rec.take(), "sub a 2|replay 2 false"; got != want {
		t.Fatalf("replay: got %q; want %q", got, want)
	}
	s3.Stop(nil)
	_ = subscribe(t, b, []string{"b"}, "1-0") // before the log began
	if got, want := rec.take(), "unsub a 1|sub b 1|replay 0 true"; got != want {
		t.Fatalf("reset: got %q; want %q", got, want)
	}
	boom := errors.New("feed broke")
	h.sink.Fail(boom)
	h.sink.(interface{ Recovered() }).Recovered()
	if got, want := rec.take(), "fail feed broke|recovered"; got != want {
		t.Fatalf("feed: got %q; want %q", got, want)
	}
	var fe *FeedError
	if _, end := drain(s1); !end || !errors.As(s1.Err(), &fe) || !errors.Is(s1.Err(), boom) || core.Reason(s1.Err()) != core.EndBackendError {
		t.Fatalf("s1: err=%v; want a FeedError wrapping the backend's, classified backend_error", s1.Err())
	}
}

// A panicking Observer wedges nothing: every call is made outside the
// broker's locks and its panic dropped.
func TestObserverBrokerPanics(t *testing.T) {
	t.Parallel()
	rec := &brokerRecorder{panic: true}
	b := newBroker(t, Options{Observer: rec})
	s := subscribe(t, b, []string{"a"}, "")
	publish(t, b, "a", core.Message{Data: "1"})
	s2 := subscribe(t, b, []string{"a"}, "1-0")
	if ev, _ := drain(s2); len(ev) != 2 {
		t.Fatalf("got %d events; want the reset and the replay", len(ev))
	}
	s.Stop(nil)
	s2.Stop(nil)
	if b.Len() != 0 {
		t.Fatalf("Len: %d; want 0", b.Len())
	}
	if got := rec.take(); strings.Count(got, "|") != 6 {
		t.Fatalf("got %q; want every call made despite the panics", got)
	}
}

func TestObserversBroker(t *testing.T) {
	t.Parallel()
	a, c := &brokerRecorder{}, &brokerRecorder{}
	b := newBroker(t, Options{Observer: Observers(a, nil, Observers(c))})
	s := subscribe(t, b, []string{"x"}, "")
	publish(t, b, "x", core.Message{Data: "1"})
	s.Stop(nil)
	for _, r := range []*brokerRecorder{a, c} {
		if got, want := r.take(), "sub x 1|deliver x 1 0|pub x false|unsub x 0"; got != want {
			t.Fatalf("got %q; want %q", got, want)
		}
	}
	if Observers(nil) != nil {
		t.Fatal("Observers of nothing is not nil")
	}
}
