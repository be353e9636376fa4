package redisbroker

// Guards of what a retried append may do across a loss of Redis's data
// (restarts, snapshot restores), found by an attack on the first design.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// retryClient is a go-redis client as production would use it: retries on.
func retryClient(t testing.TB, addr string) *goredis.Client {
	rc := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: 3, DialTimeout: 10 * time.Second,
		ReadTimeout: 10 * time.Second, MinRetryBackoff: 50 * time.Millisecond, MaxRetryBackoff: 100 * time.Millisecond})
	t.Cleanup(func() { rc.Close() })
	return rc
}

type pubResult struct {
	id  string
	err error
}

// heldPublish publishes m on pub while px swallows Redis's replies, waits
// until the live subscriber got it, then takes the watcher's gate down (its
// reader stays away), kills Redis, lets replies through and restarts Redis
// (from its dump.rdb if any). It returns Publish's result and the id the
// live subscriber got.
func heldPublish(t *testing.T, srv *server, px *proxy, gate *proxy, pub *broker.Broker, live *broker.Subscription, m core.Message) (pubResult, string) {
	t.Helper()
	px.hold.Store(true)
	res := make(chan pubResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		id, err := pub.Publish(ctx, "t", m)
		res <- pubResult{id, err}
	}()
	// Events published before (live must not miss them, and may get one
	// published just before it subscribed) come first.
	want := fmt.Sprint(m.Data)
	ev, _ := collectUntil(t, live, func(ev []clientEvent) bool { return hasData(ev, want) })
	for len(ev) > 0 && ev[0].Data != want {
		ev = ev[1:]
	}
	if len(ev) == 0 {
		t.Fatalf("the live subscriber never got %q", want)
	}
	if gate != nil {
		gate.down()
	}
	srv.kill()
	px.hold.Store(false)
	srv.start()
	return <-res, ev[0].LastEventID
}

// holdsAgain reports the ids under which Redis holds an event whose body
// contains data.
func holdsAgain(t *testing.T, srv *server, data string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	entries, err := srv.client(nil).XRange(ctx, "{p}:t:t", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		if b, _ := e.Values["b"].(string); strings.Contains(b, data) {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// subscribeRetry subscribes, retrying while the instance's feed recovers.
func subscribeRetry(t *testing.T, b *broker.Broker, topics []string, last string) *broker.Subscription {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s, err := b.Subscribe(context.Background(), topics, last)
		if err == nil {
			t.Cleanup(func() { s.Stop(nil) })
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("Subscribe: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rig is a publishing instance whose connections go through px (which can
// hold Redis's replies) and a watching instance, through gate when asked
// for, with a live subscriber of "t" that got a warm-up event.
type rig struct {
	srv          *server
	px, gate     *proxy
	pub, watcher *broker.Broker
	live         *broker.Subscription
}

func newRig(t *testing.T, gated bool) *rig {
	t.Helper()
	g := &rig{srv: startServer(t, "redis")}
	g.px = newProxyTo(t, g.srv.addr())
	ro := Options{Prefix: "p", Block: 200 * time.Millisecond}
	g.pub = newBroker(t, retryClient(t, g.px.addr()), broker.Options{}, ro)
	wo := &goredis.Options{MaxRetries: -1, DialTimeout: time.Second}
	if gated {
		g.gate = newProxyTo(t, g.srv.addr())
		wo.Addr = g.gate.addr()
		g.watcher = newBroker(t, goredis.NewClient(wo), broker.Options{}, ro)
	} else {
		g.watcher = newBroker(t, g.srv.client(wo), broker.Options{}, ro)
	}
	g.live = subscribe(t, g.watcher, []string{"t"}, "")
	publish(t, g.pub, "t", core.Message{Data: "warm-up"})
	if ev, _ := collect(t, g.live, 1); len(ev) != 1 {
		t.Fatalf("the live subscriber got %d events; want the warm-up", len(ev))
	}
	return g
}

// resumeOnce resumes on b after onceID, the id under which a subscriber got
// "once" live, publishes "after" on pub, and fails the test when the
// resumed subscription gets "once" again before "after".
func resumeOnce(t *testing.T, b, pub *broker.Broker, onceID string) {
	t.Helper()
	resumed := subscribeRetry(t, b, []string{"t"}, onceID)
	publish(t, pub, "t", core.Message{Data: "after"})
	ev, _ := collectUntil(t, resumed, func(ev []clientEvent) bool { return hasData(ev, "after") })
	t.Logf("resumed after %s: ids %v data %v", onceID, idsOf(ev), datas(ev))
	if n := countData(ev, "once"); n > 0 {
		t.Errorf("the subscriber that got \"once\" live (%s) gets it %d more time(s) on resume (reset: %v)", onceID, n, hasReset(ev))
	}
}

// A brand-new deployment: the very first publish ever, its instance having
// seen nothing (no floor to find a loss with). When Redis restarts empty
// after running its first copy, the copy Append sends again is refused (the
// run id changed): with a generation derived from the floor it was appended
// again.
func TestRedisRetryOfFirstPublishAcrossRestart(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "redis")
	px := newProxyTo(t, srv.addr())
	gate := newProxyTo(t, srv.addr())
	ro := Options{Prefix: "p", Block: 200 * time.Millisecond}
	rc := retryClient(t, px.addr())
	pub := newBroker(t, rc, broker.Options{}, ro)
	// The publishing instance serves a subscriber of another topic: its
	// reader has learned the generation (lastScript), so the publish below
	// is one script.
	subscribe(t, pub, []string{"other"}, "")
	watcher := newBroker(t, goredis.NewClient(&goredis.Options{Addr: gate.addr(), MaxRetries: -1, DialTimeout: time.Second}), broker.Options{}, ro)
	live := subscribe(t, watcher, []string{"t"}, "")
	// Another deployment (its own prefix) on the same Redis has published:
	// the append script is cached, so the publish below runs at once
	// (EVALSHA), as it would on any Redis already in use.
	publish(t, newBroker(t, srv.client(nil), broker.Options{}, Options{Prefix: "another-app"}), "x", core.Message{Data: "x"})

	// An idle pooled connection (a busy instance has some): the publish
	// below is sent at once, without a new connection's handshake.
	if err := rc.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}

	r, onceID := heldPublish(t, srv, px, gate, pub, live, core.Message{Data: "once"})
	again := holdsAgain(t, srv, "once")
	gate.up()
	if len(again) > 0 {
		t.Errorf("the first event ever, delivered live as %s, is appended again after an empty restart as %v (Publish returned %q, %v)", onceID, again, r.id, r.err)
	}
	resumeOnce(t, watcher, pub, onceID)
}

// A second loss right after a first: the instance that found the first loss
// carries a floor equal to Redis's last id, so its retried copy finds
// nothing to settle. It is refused all the same (the run id changed).
func TestRedisRetryAcrossSecondLoss(t *testing.T) {
	t.Parallel()
	g := newRig(t, true)
	srv, px, gate, pub, watcher := g.srv, g.px, g.gate, g.pub, g.watcher

	// Loss 1: Redis restarts empty. The publisher finds it (its next publish settles).
	srv.kill()
	srv.start()
	publish(t, pub, "t", core.Message{Data: "first copy after the loss"}) // never refused
	live := subscribeRetry(t, watcher, []string{"t"}, "")

	// Loss 2, while the next publish's reply is on its way.
	r, onceID := heldPublish(t, srv, px, gate, pub, live, core.Message{Data: "once"})
	again := holdsAgain(t, srv, "once")
	gate.up()
	if len(again) > 0 {
		t.Errorf("an event delivered live as %s is appended again after the second loss as %v (Publish returned %q, %v)", onceID, again, r.id, r.err)
	}
	resumeOnce(t, watcher, pub, onceID)
}

// Redis restarts from a snapshot that holds everything the publishing
// instance had seen (its floor), but not the event it was publishing: the
// retried copy finds nothing to settle and the generation is the
// snapshot's. It is refused (the run id changed); appended, a subscriber
// that got the first copy live would get it twice with no reset.
func TestRedisRetryAcrossSnapshotRestore(t *testing.T) {
	t.Parallel()
	g := newRig(t, true)
	srv, px, gate, pub, watcher, live := g.srv, g.px, g.gate, g.pub, g.watcher, g.live
	// A snapshot (as "save 60 1" or BGSAVE would write) holds the warm-up.
	if err := srv.client(nil).Save(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}

	r, onceID := heldPublish(t, srv, px, gate, pub, live, core.Message{Data: "once"})
	again := holdsAgain(t, srv, "once")
	gate.up()
	if len(again) > 0 {
		t.Errorf("an event delivered live as %s is appended again after a restore from a snapshot as %v (Publish returned %q, %v)", onceID, again, r.id, r.err)
	}
	resumeOnce(t, watcher, pub, onceID)
}

// The second loss without the gate: the watcher's reader reconnects with its
// own backoff, as in production.
func TestRedisRetryAcrossSecondLossNoGate(t *testing.T) {
	t.Parallel()
	g := newRig(t, false)
	srv, px, pub, watcher := g.srv, g.px, g.pub, g.watcher
	srv.kill()
	srv.start()
	publish(t, pub, "t", core.Message{Data: "first copy after the loss"}) // never refused
	live := subscribeRetry(t, watcher, []string{"t"}, "")
	r, onceID := heldPublish(t, srv, px, nil, pub, live, core.Message{Data: "once"})
	if again := holdsAgain(t, srv, "once"); len(again) > 0 {
		t.Errorf("an event delivered live as %s is appended again after the second loss as %v (Publish returned %q, %v)", onceID, again, r.id, r.err)
	}
}

// The snapshot restore, with the instance whose subscriber got the event
// live gone with Redis's host (it never reconnects); the client resumes on
// another instance. No floor can find the loss; the run id still refuses
// the retried copy.
func TestRedisRetryAcrossSnapshotRestoreWatcherGone(t *testing.T) {
	t.Parallel()
	g := newRig(t, true)
	srv, px, gate, pub, live := g.srv, g.px, g.gate, g.pub, g.live
	if err := srv.client(nil).Save(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	r, onceID := heldPublish(t, srv, px, gate, pub, live, core.Message{Data: "once"})
	// The watcher's host is gone for good (its gate stays down).
	other := newBroker(t, srv.client(nil), broker.Options{}, Options{Prefix: "p", Block: 200 * time.Millisecond})
	t.Logf("Publish returned %q, %v", r.id, r.err)
	resumeOnce(t, other, pub, onceID)
}

// No loss at all: concurrent publishers on three instances, subscribers on
// each, and one instance's connections cut again and again (feed
// reconnects, retried publishes). No publish may be refused, no event
// delivered twice.
func TestRedisNoLossNeverRefused(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "redis")
	ro := Options{Prefix: "p", Block: 100 * time.Millisecond}
	gate := newProxyTo(t, srv.addr())
	cutc := goredis.NewClient(&goredis.Options{Addr: gate.addr(), MaxRetries: -1, DialTimeout: time.Second,
		MinRetryBackoff: 5 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond})
	t.Cleanup(func() { cutc.Close() })
	bs := []*broker.Broker{
		newBroker(t, cutc, broker.Options{}, ro),
		newBroker(t, retryClient(t, srv.addr()), broker.Options{}, ro),
		newBroker(t, retryClient(t, srv.addr()), broker.Options{}, ro),
	}
	stop, stopCuts := make(chan struct{}), make(chan struct{})
	var cuts sync.WaitGroup
	cuts.Add(1)
	go func() {
		defer cuts.Done()
		for {
			select {
			case <-stopCuts:
				return
			case <-time.After(40 * time.Millisecond):
				gate.cut()
			}
		}
	}()
	// A resuming reader on the cut instance, from a first event on: a
	// reader with no Last-Event-ID yet resumes live only, and rightly
	// misses what came while it was away.
	startID := publish(t, bs[1], "t", core.Message{Data: "start"})
	var mu sync.Mutex // guards got
	var got []string
	var subs atomic.Int64
	done := make(chan struct{})
	first := make(chan struct{})
	var firstOnce sync.Once
	go func() {
		defer close(done)
		last := startID
		for {
			select {
			case <-stop:
				return
			default:
			}
			s, err := bs[0].Subscribe(context.Background(), []string{"t"}, last)
			if err != nil {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			subs.Add(1)
			firstOnce.Do(func() { close(first) })
			var buf []byte
			flush := func() {
				mu.Lock()
				defer mu.Unlock()
				for _, e := range parseAll(buf) {
					if e.Type == broker.ResetEvent {
						got = append(got, "reset")
						continue
					}
					got = append(got, e.Data)
					last = e.LastEventID
				}
			}
			for {
				var end bool
				buf, end = s.Drain(buf)
				if end {
					break
				}
				select {
				case <-s.Ready():
					continue
				case <-stop:
				case <-time.After(200 * time.Millisecond):
					// Idle: hand what arrived over and resume from it.
				}
				break
			}
			flush()
			s.Stop(nil)
		}
	}()
	<-first
	// Subscribers that resubscribe with their Last-Event-ID whenever their
	// stream ends (feed failures).
	var refused, other atomic.Int64
	var acked sync.Map
	var wg sync.WaitGroup
	const per = 150
	for i, b := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range per {
				_, err := b.Publish(context.Background(), "t", core.Message{Data: fmt.Sprintf("%d-%d", i, j)})
				switch {
				case errors.Is(err, ErrHistoryChanged):
					refused.Add(1)
					t.Errorf("instance %d publish %d refused without any loss: %v", i, j, err)
				case err != nil:
					other.Add(1)
				default:
					acked.Store(fmt.Sprintf("%d-%d", i, j), true)
				}
			}
		}()
	}
	wg.Wait()
	close(stopCuts)
	cuts.Wait()
	// The reader resumes until it has every acknowledged event (its feed may
	// be in a backoff of up to 2 s after the last cut; generous for a busy
	// machine).
	missing := func() (out []string) {
		mu.Lock()
		defer mu.Unlock()
		if slices.Contains(got, "reset") {
			return nil
		}
		acked.Range(func(k, _ any) bool {
			if !slices.Contains(got, k.(string)) {
				out = append(out, k.(string))
			}
			return true
		})
		return out
	}
	for deadline := time.Now().Add(30 * time.Second); len(missing()) > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	<-done
	for _, d := range missing() {
		t.Errorf("never delivered, no reset: %s", d)
	}
	seen := map[string]int{}
	for _, d := range got {
		seen[d]++
		if d != "reset" && seen[d] == 2 {
			t.Errorf("delivered twice: %s", d)
		}
	}
	t.Logf("refused %d, other errors %d, delivered %d (resets %d) of %d over %d subscriptions", refused.Load(), other.Load(), len(got), seen["reset"], 3*per, subs.Load())
}

// The generation key vanishes (evicted, deleted) while instances know a
// generation: publishing goes on (first copies are never refused).
func TestRedisGenerationKeyMissing(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "redis")
	ro := Options{Prefix: "p"}
	rc := srv.client(nil)
	b := newBroker(t, rc, broker.Options{}, ro)
	publish(t, b, "t", core.Message{Data: "a"})
	srv.kill()
	srv.start()
	publish(t, b, "t", core.Message{Data: "b"})
	if g, _ := rc.Get(context.Background(), "{p}:gen").Result(); g == "" {
		t.Fatal("no generation after a loss")
	}
	if err := rc.Del(context.Background(), "{p}:gen").Err(); err != nil {
		t.Fatal(err)
	}
	publish(t, b, "t", core.Message{Data: "c"})
	publish(t, b, "t", core.Message{Data: "d"})
	publish(t, b, "t", core.Message{Data: "e"})
}

// Brokers with Dedup on and off share a prefix (the token key is optional,
// after the generation key): across a loss each appends; every event appears
// once.
func TestRedisDedupOffSharedPrefix(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "redis")
	on := newBroker(t, srv.client(nil), broker.Options{}, Options{Prefix: "p"})
	off := newBroker(t, srv.client(nil), broker.Options{}, Options{Prefix: "p", Dedup: -1})
	sub := newBroker(t, srv.client(nil), broker.Options{}, Options{Prefix: "p"})
	publish(t, on, "t", core.Message{Data: "on-1"})
	publish(t, off, "t", core.Message{Data: "off-1"})
	srv.kill()
	srv.start()
	live := subscribeRetry(t, sub, []string{"t"}, "")
	publish(t, off, "t", core.Message{Data: "off-2"})
	publish(t, on, "t", core.Message{Data: "on-2"})
	publish(t, off, "t", core.Message{Data: "off-3"})
	publish(t, on, "t", core.Message{Data: "on-3"})
	ev, _ := collect(t, live, 4)
	equal(t, "live", datas(ev), []string{"off-2", "on-2", "off-3", "on-3"})
	n, _ := srv.client(nil).Keys(context.Background(), "{p}:tok:*").Result()
	if len(n) != 2 {
		t.Errorf("%d token keys; want 2 (the dedup instance's appends after the restart)", len(n))
	}
}

// Instances with different floors find one loss one after the other: none
// of their publishes (first copies) is refused.
func TestRedisFirstCopiesNotRefusedAfterLoss(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "redis")
	ro := Options{Prefix: "p"}
	var bs []*broker.Broker
	for range 4 {
		bs = append(bs, newBroker(t, srv.client(nil), broker.Options{}, ro))
	}
	// Increasing floors: instance i saw i+1 publishes' ids (its own).
	for i, b := range bs {
		for j := 0; j <= i; j++ {
			publish(t, b, "t", core.Message{Data: "x"})
		}
	}
	srv.kill()
	srv.start()
	refusals := make([]int, len(bs))
	// Round-robin: each instance tries once per round.
	okAll := false
	for round := 0; round < 10 && !okAll; round++ {
		okAll = true
		for i, b := range bs {
			_, err := b.Publish(context.Background(), "t", core.Message{Data: "y"})
			if errors.Is(err, ErrHistoryChanged) {
				refusals[i]++
				okAll = false
			} else if err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("refusals per instance: %v", refusals)
	for i, n := range refusals {
		if n > 0 {
			t.Errorf("instance %d refused %d times after one loss; a first copy is never refused", i, n)
		}
	}
}

// TestRedisRetryAcrossRestartAppendsNothing with Options.Replicas: the
// append and WAIT go in one pipeline, which go-redis sends again; after the
// restart the script cache is empty (NOSCRIPT, loaded, sent again) and the
// copy must still be refused.
func TestRedisReplicatedRetryAcrossRestart(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "redis")
	startServer(t, "replica", "replicaof 127.0.0.1 "+strconv.Itoa(srv.port))
	waitFor(t, 10*time.Second, "the replica online", func() bool {
		info, _ := srv.client(nil).Info(context.Background(), "replication").Result()
		return strings.Contains(info, "state=online")
	})
	px := newProxyTo(t, srv.addr())
	ro := Options{Prefix: "p", Block: 200 * time.Millisecond, Replicas: 1, ReplicaTimeout: 2 * time.Second}
	pub := newBroker(t, retryClient(t, px.addr()), broker.Options{}, ro)
	watcher := newBroker(t, srv.client(&goredis.Options{MaxRetries: -1, DialTimeout: time.Second}), broker.Options{}, Options{Prefix: "p", Block: 200 * time.Millisecond})
	live := subscribe(t, watcher, []string{"t"}, "")
	publish(t, pub, "t", core.Message{Data: "warm-up"})
	if ev, _ := collect(t, live, 1); len(ev) != 1 {
		t.Fatalf("the live subscriber got %d events; want the warm-up", len(ev))
	}
	r, onceID := heldPublish(t, srv, px, nil, pub, live, core.Message{Data: "once"})
	if again := holdsAgain(t, srv, "once"); len(again) > 0 {
		t.Errorf("an event delivered live as %s is appended again as %v (Publish returned %q, %v)", onceID, again, r.id, r.err)
	}
	t.Logf("Publish: %q, %v", r.id, r.err)
	if !errors.Is(r.err, ErrHistoryChanged) {
		t.Errorf("Publish returned %v; want ErrHistoryChanged", r.err)
	}
	// Then it publishes again (the replica resyncs: allow ErrNotReplicated).
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := pub.Publish(context.Background(), "t", core.Message{Data: "after"})
		if err == nil {
			break
		}
		t.Logf("after: %v", err)
		if errors.Is(err, ErrNotReplicated) {
			break
		}
		if !errors.Is(err, ErrHistoryChanged) || time.Now().After(deadline) {
			t.Fatalf("Publish after the loss: %v", err)
		}
	}
}

type clientEvent = client.Event

func hasData(ev []client.Event, d string) bool { return countData(ev, d) > 0 }

func countData(ev []client.Event, d string) int {
	n := 0
	for _, e := range ev {
		if e.Type != broker.ResetEvent && strings.Contains(e.Data, d) {
			n++
		}
	}
	return n
}

func hasReset(ev []client.Event) bool {
	for _, e := range ev {
		if e.Type == broker.ResetEvent {
			return true
		}
	}
	return false
}

func parseAll(b []byte) []client.Event { return client.ParseAll(b) }
