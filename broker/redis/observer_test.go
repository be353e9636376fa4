package redisbroker

import (
	"context"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/core"
)

// Presence across instances: each reports its counts every interval, and
// ClusterPresence sums them with its own; an instance that shuts down takes
// its counts back.
func TestRedisClusterPresence(t *testing.T) {
	t.Parallel()
	ro := Options{Prefix: testPrefix(t), PresenceInterval: 50 * time.Millisecond}
	a := newBroker(t, newClient(t, ""), broker.Options{}, ro)
	bc := newClient(t, "")
	b := broker.New(broker.Options{Backend: New(bc, ro)})
	var once sync.Once
	stopB := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := b.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
	defer stopB()
	subscribe(t, a, []string{"x"}, "")
	subscribe(t, a, []string{"x", "z"}, "")
	sb := subscribe(t, b, []string{"x", "y"}, "")
	want := map[string]int{"x": 3, "y": 1, "z": 1}
	waitPresence(t, a, want)
	waitPresence(t, b, want)
	sb.Stop(nil) // a subscription nobody runs: Shutdown would wait for it
	stopB()
	got, err := a.ClusterPresence(context.Background())
	if err != nil || !maps.Equal(got, map[string]int{"x": 2, "z": 1}) {
		t.Fatalf("after the other instance shut down: got %v, %v; want only this one's", got, err)
	}
}

// waitPresence polls ClusterPresence until it reports want (bounded).
func waitPresence(t *testing.T, b *broker.Broker, want map[string]int) {
	t.Helper()
	var got map[string]int
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got, err = b.ClusterPresence(context.Background()); err == nil && maps.Equal(got, want) {
			return
		}
	}
	t.Fatalf("ClusterPresence: got %v, %v; want %v", got, err, want)
}

// feedRecorder is a broker.Observer that signals the feed's failures and
// recoveries.
type feedRecorder struct {
	mu        sync.Mutex
	fails     int
	failed    chan struct{}
	recovered chan struct{}
}

func (*feedRecorder) Subscribed(string, int)     {}
func (*feedRecorder) Unsubscribed(string, int)   {}
func (*feedRecorder) Published(string, error)    {}
func (*feedRecorder) Delivered(string, int, int) {}
func (*feedRecorder) Replayed(int, bool)         {}
func (r *feedRecorder) FeedFailed(error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fails++; r.fails == 1 {
		close(r.failed)
	}
}
func (r *feedRecorder) FeedRecovered() {
	select {
	case <-r.recovered:
	default:
		close(r.recovered)
	}
}

// The Observer hears of the Redis feed failing when the connection drops,
// and recovering once it reads again.
func TestRedisObserverFeed(t *testing.T) {
	t.Parallel()
	ro := Options{Prefix: testPrefix(t)}
	px := newProxy(t)
	obs := &feedRecorder{failed: make(chan struct{}), recovered: make(chan struct{})}
	b := newBroker(t, newClient(t, px.addr()), broker.Options{Observer: obs}, ro)
	pub := newBroker(t, newClient(t, ""), broker.Options{}, ro)
	s := subscribe(t, b, []string{"t"}, "")
	rec := newRecorder()
	done := run(s, rec)
	publish(t, pub, "t", core.Message{Data: "0"})
	rec.WaitEvents(t, 1)
	px.down() // a reader between two XREADs would otherwise take a fresh connection
	wait(t, obs.failed, "FeedFailed")
	wait(t, done, "the stream to end")
	select {
	case <-obs.recovered:
		t.Fatal("FeedRecovered before any read succeeded again")
	default:
	}
	px.up()
	var s2 *broker.Subscription
	for attempt := 0; s2 == nil && attempt < 100; attempt++ { // the pool may hand out broken connections first
		s2, _ = b.Subscribe(context.Background(), []string{"t"}, "")
		if s2 == nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if s2 == nil {
		t.Fatal("no subscription after the connection came back")
	}
	defer s2.Stop(nil)
	wait(t, obs.recovered, "FeedRecovered")
}
