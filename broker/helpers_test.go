package broker

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testClock is an injected clock that only moves when told.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock { return &testClock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newBroker returns a broker that is shut down when the test ends; the
// subscriptions the test made with subscribe are stopped before.
func newBroker(t *testing.T, o Options) *Broker {
	t.Helper()
	b := New(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return b
}

func memBroker(t *testing.T, c *testClock, o Options, mo MemoryOptions) *Broker {
	t.Helper()
	if c != nil {
		mo.Now = c.Now
	}
	o.Backend = NewMemory(mo)
	return newBroker(t, o)
}

// subscribe subscribes or fails the test; the subscription is stopped when
// the test ends.
func subscribe(t testing.TB, b *Broker, topics []string, last string) *Subscription {
	t.Helper()
	s, err := b.Subscribe(context.Background(), topics, last)
	if err != nil {
		t.Fatalf("Subscribe(%q, %q): %v", topics, last, err)
	}
	t.Cleanup(func() { s.Stop(nil) })
	return s
}

func publish(t testing.TB, b *Broker, topic string, m core.Message) string {
	t.Helper()
	id, err := b.Publish(context.Background(), topic, m)
	if err != nil {
		t.Fatalf("Publish(%q, %+v): %v", topic, m, err)
	}
	return id
}

// drain takes what s has queued and parses it as a client would.
func drain(s *Subscription) ([]client.Event, bool) {
	b, end := s.Drain(nil)
	return client.ParseAll(b), end
}

// ids returns the ids of events, "" for the reset signal.
func idsOf(events []client.Event) []string {
	out := make([]string, 0, len(events))
	prev := ""
	for _, e := range events {
		if e.Type == ResetEvent {
			out = append(out, "reset")
			continue
		}
		if e.LastEventID == prev {
			out = append(out, "dup-id:"+e.LastEventID)
		}
		prev = e.LastEventID
		out = append(out, e.LastEventID)
	}
	return out
}

func datas(events []client.Event) []string {
	out := make([]string, 0, len(events))
	for _, e := range events {
		out = append(out, e.Data)
	}
	return out
}

func equal(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %q; want %q", what, got, want)
	}
}

// recorder is a core.Writer that keeps what the stream loop writes and
// signals every flush.
type recorder struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	flushed chan struct{} // cap 1
}

func newRecorder() *recorder { return &recorder{flushed: make(chan struct{}, 1)} }

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *recorder) Flush() error {
	signal(r.flushed)
	return nil
}

func (r *recorder) events() []client.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return client.ParseAll(r.buf.Bytes())
}

// waitEvents waits until r holds n events, or fails after a deadline.
func (r *recorder) waitEvents(t testing.TB, n int) []client.Event {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		if ev := r.events(); len(ev) >= n {
			return ev
		}
		select {
		case <-r.flushed:
		case <-deadline.C:
			t.Fatalf("got %d events; want %d", len(r.events()), n)
		}
	}
}

// stalled is a core.Writer whose writes block until release is closed: a
// client that stopped reading.
type stalled struct {
	blocked chan struct{} // closed at the first blocked write
	release chan struct{}
	once    sync.Once
}

func newStalled() *stalled {
	return &stalled{blocked: make(chan struct{}), release: make(chan struct{})}
}

func (s *stalled) Write(p []byte) (int, error) {
	s.once.Do(func() { close(s.blocked) })
	<-s.release
	return 0, errors.New("stalled client gone")
}

func (s *stalled) Flush() error { return nil }

// run runs the stream loop for tgt on w in a goroutine; the returned channel
// gets its result.
func run(tgt core.EventTarget, w core.Writer, opts ...core.Option) <-chan error {
	o := core.NewOptions(append([]core.Option{core.WithHeartbeat(-1), core.WithWriteTimeout(-1)}, opts...)...)
	done := make(chan error, 1)
	go func() { done <- core.Run(context.Background(), w, tgt, o) }()
	return done
}

func wait[T any](t testing.TB, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
