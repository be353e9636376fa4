package redisbroker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/core"
)

// A Publish whose first copy ran on a Redis that then lost its data (killed
// and restarted empty) must not be appended again by go-redis's retry of the
// same script: subscribers that received the first copy live would get the
// event twice when they resume. The retry is refused (ErrHistoryChanged);
// the subscriber gets the reset signal, then only later events.
func TestRedisRetryAcrossRestartAppendsNothing(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "redis")
	px := newProxyTo(t, srv.addr())
	// go-redis as a production client would use it: retries on (the
	// script is sent again when the connection breaks before the reply).
	rc := goredis.NewClient(&goredis.Options{Addr: px.addr(), MaxRetries: 3, DialTimeout: 10 * time.Second,
		ReadTimeout: 10 * time.Second, MinRetryBackoff: 50 * time.Millisecond, MaxRetryBackoff: 100 * time.Millisecond})
	t.Cleanup(func() { rc.Close() })
	ro := Options{Prefix: "p", Block: 200 * time.Millisecond}
	pub := newBroker(t, rc, broker.Options{}, ro)
	// Another instance, on its own connections, with a live subscriber.
	watcher := newBroker(t, srv.client(&goredis.Options{MaxRetries: -1, DialTimeout: time.Second}), broker.Options{}, ro)
	live := subscribe(t, watcher, []string{"t"}, "")
	publish(t, pub, "t", core.Message{Data: "warm-up"})
	if ev, _ := collect(t, live, 1); len(ev) != 1 {
		t.Fatalf("the live subscriber got %d events; want the warm-up", len(ev))
	}

	// The next reply never reaches go-redis: Redis appends the event, the
	// live subscriber gets it, and Redis dies before the reply is read.
	px.hold.Store(true)
	type result struct {
		id  string
		err error
	}
	res := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		id, err := pub.Publish(ctx, "t", core.Message{Data: "once"})
		res <- result{id, err}
	}()
	ev, _ := collect(t, live, 1)
	if len(ev) != 1 || ev[0].Data != "once" {
		t.Fatalf("the live subscriber got %+v; want once", ev)
	}
	onceID := ev[0].LastEventID
	srv.kill() // the proxy closes go-redis's connection: go-redis sends the script again
	px.hold.Store(false)
	srv.start() // empty: no persistence
	r := <-res

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	entries, err := srv.client(nil).XRange(ctx, "{p}:t:t", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if b, _ := e.Values["b"].(string); strings.Contains(b, "once") {
			t.Errorf("the restarted Redis holds the event again, as %s (Publish returned %q, %v): a resuming subscriber gets it twice", e.ID, r.id, r.err)
		}
	}
	if r.err == nil {
		t.Fatalf("Publish returned %s, nil; want an error matching ErrHistoryChanged", r.id)
	}
	if !errors.Is(r.err, ErrHistoryChanged) {
		t.Fatalf("Publish returned %v; want an error matching ErrHistoryChanged", r.err)
	}
	t.Logf("Publish: %v", r.err)

	// The subscriber that saw "once" resumes: the reset, then what comes next.
	next := publish(t, pub, "t", core.Message{Data: "after"})
	resumed := subscribe(t, watcher, []string{"t"}, onceID)
	ev, _ = collect(t, resumed, 2)
	equal(t, "the resumed subscriber", idsOf(ev), []string{"reset", next})
}
