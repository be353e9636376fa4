package broker

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ssekit/ssekit/internal/brokertest"

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

// idsOf lists the events' ids ("reset" for the signal), marking repeats.
func idsOf(events []client.Event) []string { return brokertest.IDs(events, ResetEvent) }

func newRecorder() *brokertest.Recorder { return brokertest.NewRecorder() }

func newStalled() *brokertest.Stalled { return brokertest.NewStalled() }

var (
	run   = brokertest.Run
	datas = brokertest.Datas
	equal = brokertest.Equal
)

func wait[T any](t testing.TB, c <-chan T, what string) T {
	t.Helper()
	return brokertest.Wait(t, c, what)
}
