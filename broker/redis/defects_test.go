package redisbroker

import (
	"context"
	"errors"

	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// A subscriber with an empty Last-Event-ID gets live events only, even when
// its instance already watched another topic: the new topic is not read
// from the reader's stale cursor.
func TestRedisLiveOnlyAfterAnotherTopic(t *testing.T) {
	t.Parallel()
	ro := Options{Prefix: testPrefix(t), Block: 200 * time.Millisecond}
	c := newClient(t, "")
	pub, inst := newBroker(t, c, broker.Options{}, ro), newBroker(t, c, broker.Options{}, ro)
	subscribe(t, inst, []string{"other"}, "") // the instance's reader runs
	for i := range 20 {
		publish(t, pub, "news", core.Message{Data: "old " + strconv.Itoa(i)})
	}
	time.Sleep(500 * time.Millisecond) // a few XREAD timeouts
	s := subscribe(t, inst, []string{"news"}, "")
	live := publish(t, pub, "news", core.Message{Data: "live"})
	ev, _ := collectUntil(t, s, func(ev []client.Event) bool {
		return len(ev) > 0 && ev[len(ev)-1].LastEventID == live
	})
	equal(t, "a live-only subscriber", idsOf(ev), []string{live})
}

// A Last-Event-ID beyond every id given gets the reset signal and live
// events, instead of heartbeats only.
func TestRedisFutureLastEventID(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	b := newBroker(t, c, broker.Options{}, Options{Prefix: testPrefix(t)})
	publish(t, b, "t", core.Message{Data: "before"})
	s := subscribe(t, b, []string{"t"}, "99999999999999-0")
	id := publish(t, b, "t", core.Message{Data: "live"})
	ev, _ := collect(t, s, 2)
	equal(t, "after a future Last-Event-ID", idsOf(ev), []string{"reset", id})
}

// Ids near the top of the range: sequences past 2^53 keep their precision,
// a sequence at its maximum carries into the millisecond, and past the
// greatest id Publish fails clearly.
func TestRedisIDsAtTheTop(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	b := newBroker(t, c, broker.Options{}, Options{Prefix: testPrefix(t), MaxAge: -1})
	max := strconv.FormatUint(math.MaxUint64, 10)
	const ms = "1800000000000" // ahead of the clock
	publish(t, b, "t", core.Message{ID: ms + "-9007199254740993", Data: "2^53+1"})
	if id := publish(t, b, "t", core.Message{Data: "next"}); id != ms+"-9007199254740994" {
		t.Fatalf("after %s-9007199254740993: %s; want %s-9007199254740994", ms, id, ms)
	}
	publish(t, b, "t", core.Message{ID: ms + "-" + max, Data: "seq at its maximum"})
	if id := publish(t, b, "t", core.Message{Data: "carried"}); id != "1800000000001-0" {
		t.Fatalf("after %s-%s: %s; want 1800000000001-0", ms, max, id)
	}
	publish(t, b, "t", core.Message{ID: max + "-" + max, Data: "top"})
	id, err := b.Publish(context.Background(), "t", core.Message{Data: "past the top"})
	if !errors.Is(err, broker.ErrIDSpace) {
		t.Fatalf("Publish past the greatest id: %q, %v; want ErrIDSpace", id, err)
	}
}

// One Publish appends its event once, even when go-redis sends the script
// again after a read timeout and Redis, paused meanwhile (SIGSTOP), runs
// every copy once it resumes.
func TestRedisAppendOnceUnderPause(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "redis")
	// Idle connections in the pool: go-redis retries on them (a new
	// connection's handshake would time out first, and that is not retried).
	rc := srv.client(&goredis.Options{ReadTimeout: time.Second, MaxRetries: 3, MinIdleConns: 24, PoolSize: 32,
		MinRetryBackoff: 50 * time.Millisecond, MaxRetryBackoff: 100 * time.Millisecond})
	var warm sync.WaitGroup
	for range 24 {
		warm.Go(func() { _ = rc.Ping(context.Background()).Err() })
	}
	warm.Wait()
	b := newBroker(t, rc, broker.Options{}, Options{Prefix: "p", Dedup: dedupForTest})
	publish(t, b, "t", core.Message{Data: "warm-up"}) // loads the script

	srv.signal(syscall.SIGSTOP)
	const n = 4
	type result struct {
		id  string
		err error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Each is sent again (a read timeout) while Redis is paused.
			time.Sleep(time.Duration(i) * 300 * time.Millisecond)
			id, err := b.Publish(context.Background(), "t", core.Message{Data: "p" + strconv.Itoa(i)})
			results[i] = result{id, err}
		})
	}
	time.Sleep(2500 * time.Millisecond)
	srv.signal(syscall.SIGCONT)
	wg.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	entries, err := srv.client(nil).XRange(ctx, "{p}:t:t", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	at := map[string][]string{} // payload -> ids
	for _, e := range entries {
		body, _ := e.Values["b"].(string)
		at[body] = append(at[body], e.ID)
	}
	oks := 0
	for i, r := range results {
		body := "data: p" + strconv.Itoa(i) + "\n\n"
		ids := at[body]
		if len(ids) > 1 {
			t.Errorf("publish %d (returned %q, %v) is in the stream %d times: %v", i, r.id, r.err, len(ids), ids)
		}
		if r.err == nil {
			oks++
			if len(ids) != 1 || ids[0] != r.id {
				t.Errorf("publish %d returned %s but the stream holds it under %v", i, r.id, ids)
			}
		}
	}
	t.Logf("%d of %d publishes returned success across a 2.5s pause; %d entries", oks, n, len(entries))
	for i, r := range results {
		t.Logf("publish %d: %q %v", i, r.id, r.err)
	}
}

// Redis restored from an older snapshot: a client whose Last-Event-ID is
// beyond what Redis holds, or behind events the snapshot lost, gets the
// reset signal, and no id is given twice.
func TestRedisRestoredSnapshotSignals(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "redis")
	ctx := context.Background()
	rc := srv.client(nil)
	ro := Options{Prefix: "p"}
	b := newBroker(t, rc, broker.Options{}, ro)
	var ids []string
	for i := range 10 {
		ids = append(ids, publish(t, b, "t", core.Message{Data: strconv.Itoa(i)}))
		if i == 4 {
			if err := rc.Save(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Redis dies and comes back from the snapshot: events 5..9, acknowledged,
	// are gone.
	srv.kill()
	srv.start()

	fresh := newBroker(t, srv.client(nil), broker.Options{}, ro) // an instance that saw nothing
	ahead := subscribe(t, fresh, []string{"t"}, ids[9])
	// The instance that published the lost events publishes again: it sees
	// that Redis holds less than it handed out. (A first copy is never
	// refused: only a copy sent again may duplicate one lost with its token.)
	next := publish(t, b, "t", core.Message{Data: "after"})
	if a, _ := broker.ParseID(next); a.Compare(mustID(t, ids[9])) <= 0 {
		t.Fatalf("id %s given after the restore is not after %s, given before", next, ids[9])
	}
	ev, _ := collect(t, ahead, 2)
	equal(t, "a client ahead of the snapshot", idsOf(ev), []string{"reset", next})

	behind := subscribe(t, fresh, []string{"t"}, ids[2])
	ev, _ = collect(t, behind, 4)
	equal(t, "a client behind the lost events", idsOf(ev), []string{"reset", ids[3], ids[4], next})
}

func mustID(t testing.TB, s string) broker.ID {
	t.Helper()
	id, err := broker.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// A Go EventSource (which, like a browser's, gives up on any non-200
// answer) survives Redis being killed and restarted: while Redis is down,
// Subscribe is answered with 200 and a short retry, and once it is back the
// client resumes with its Last-Event-ID and gets every acknowledged event
// exactly once, in order.
func TestRedisOutageEventSource(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "redis", "appendonly yes", "appendfsync always")
	rc := srv.client(&goredis.Options{MaxRetries: -1, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second})
	b := newBroker(t, rc, broker.Options{}, Options{Prefix: "p", Block: time.Second})
	hs := httptest.NewServer(nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return b.Subscribe(r.Context(), []string{"t"}, nethttpsse.LastEventID(r))
	}))
	t.Cleanup(hs.Close)

	start := publish(t, b, "t", core.Message{Data: "before"})
	var acked []string
	var refusals, reconnects int
	es := client.NewEventSource(hs.URL, client.Options{LastEventID: start, Retry: 100 * time.Millisecond,
		MaxRetry: 2 * time.Second,
		OnComment: func(text string) {
			if text == " shutting down" {
				refusals++
			}
		},
		OnReconnect: func(error, time.Duration) { reconnects++ }})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	var (
		mu      sync.Mutex
		done    = make(chan struct{})
		outage  time.Duration
		stopped = make(chan struct{})
	)
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stopped:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if i == 50 {
				srv.kill()
				down := time.Now()
				time.Sleep(time.Second)
				srv.start()
				mu.Lock()
				outage = time.Since(down)
				mu.Unlock()
			}
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			id, err := b.Publish(pctx, "t", core.Message{Data: strconv.Itoa(i)})
			pcancel()
			if err == nil {
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
			if i >= 150 {
				// The last event ends the client's loop; it is retried until
				// acknowledged.
				for range 100 {
					if id, err := b.Publish(ctx, "t", core.Message{Data: "end"}); err == nil {
						mu.Lock()
						acked = append(acked, id)
						mu.Unlock()
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
				t.Errorf("the last event was never acknowledged")
				return
			}
		}
	}()

	var got []client.Event
	for ev, err := range es.Events(ctx) {
		if err != nil {
			t.Fatalf("EventSource ended: %v (after %d events)", err, len(got))
		}
		got = append(got, ev)
		if ev.Data == "end" {
			break
		}
	}
	close(stopped)
	<-done
	mu.Lock()
	defer mu.Unlock()
	ids := idsOf(got)
	increasing(t, ids) // no reset, no repeat: AOF with fsync always lost nothing
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	for _, id := range acked {
		if !seen[id] {
			t.Fatalf("acknowledged event %s never arrived (got %d events, %d acknowledged)", id, len(ids), len(acked))
		}
	}
	t.Logf("Redis down %v; %d acknowledged events, %d received (none lost, none twice); %d reconnections, %d refusals while down",
		outage.Round(time.Millisecond), len(acked), len(ids), reconnects, refusals)
	if reconnects == 0 {
		t.Fatalf("the client never reconnected: the outage was not exercised")
	}
}

// dedupForTest is Options.Dedup in TestRedisAppendOnceUnderPause; -1 shows
// the duplicates without deduplication.
var dedupForTest time.Duration
