package redisbroker

import (
	"context"
	"net/http"
	"net/http/httptest"

	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// startSentinel starts redis-server in Sentinel mode monitoring the primary
// "m" at primary, with a quorum of 2 and a 1 s down-after.
func startSentinel(t testing.TB, name string, primary *server) *server {
	t.Helper()
	s := &server{t: t, name: name, port: freePort(t), dir: t.TempDir()}
	s.write([]string{
		"bind 127.0.0.1",
		"port " + strconv.Itoa(s.port),
		"dir " + s.dir,
		"protected-mode no",
		"logfile " + filepath.Join(s.dir, "log"),
		"sentinel monitor m 127.0.0.1 " + strconv.Itoa(primary.port) + " 2",
		"sentinel down-after-milliseconds m 1000",
		"sentinel failover-timeout m 10000",
		"sentinel parallel-syncs m 1",
	})
	s.args = []string{filepath.Join(s.dir, "redis.conf"), "--sentinel"}
	s.start()
	t.Cleanup(s.kill)
	return s
}

// waitFor polls cond every 50 ms until it holds, failing after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Sentinel: a primary, one replica, three sentinels, two broker instances
// publishing through a FailoverClient with Replicas 1 (WAIT) and a Go
// EventSource on each instance. The primary is SIGKILLed mid-stream while
// publishing goes on: every event whose Publish succeeded reaches both
// clients exactly once, in order (or they get the reset signal), and no id
// is given to two different events.
func TestRedisSentinelFailover(t *testing.T) {
	t.Parallel()
	primary := startServer(t, "primary")
	replica := startServer(t, "replica", "replicaof 127.0.0.1 "+strconv.Itoa(primary.port))
	rc := replica.client(nil)
	waitFor(t, 15*time.Second, "the replica to sync", func() bool {
		info, err := rc.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	var addrs []string
	for i := range 3 {
		addrs = append(addrs, startSentinel(t, "sentinel"+strconv.Itoa(i), primary).addr())
	}
	sc := goredis.NewSentinelClient(&goredis.Options{Addr: addrs[0], MaxRetries: -1})
	t.Cleanup(func() { sc.Close() })
	waitFor(t, 20*time.Second, "the sentinels to know the replica and each other", func() bool {
		m, err := sc.Master(context.Background(), "m").Result()
		return err == nil && m["num-slaves"] == "1" && m["num-other-sentinels"] == "2"
	})

	newFailover := func() *goredis.Client {
		c := goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: "m", SentinelAddrs: addrs,
			DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second})
		t.Cleanup(func() { c.Close() })
		return c
	}
	ro := Options{Prefix: "p", Block: time.Second, Replicas: 1, ReplicaTimeout: time.Second}
	pubA := newBroker(t, newFailover(), broker.Options{}, ro)
	pubB := newBroker(t, newFailover(), broker.Options{}, ro)
	start := publish(t, pubA, "t", core.Message{Data: "before"})

	type received struct {
		events []client.Event
		resets int
	}
	results := make([]received, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var readers sync.WaitGroup
	for i, b := range []*broker.Broker{pubA, pubB} {
		hs := httptest.NewServer(nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
			return b.Subscribe(r.Context(), []string{"t"}, nethttpsse.LastEventID(r))
		}))
		t.Cleanup(hs.Close)
		es := client.NewEventSource(hs.URL, client.Options{LastEventID: start, Retry: 100 * time.Millisecond, MaxRetry: time.Second})
		readers.Go(func() {
			for ev, err := range es.Events(ctx) {
				if err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				if ev.Type == broker.ResetEvent {
					results[i].resets++
				}
				results[i].events = append(results[i].events, ev)
				if ev.Data == "end" {
					return
				}
			}
		})
	}

	// Publish every 10 ms, alternating instances; kill the primary after 100.
	acked := map[string]string{} // id -> data, of every successful Publish
	var order []string
	var killed, recovered time.Time
	failures, restarted := 0, false
	var lastErr error
	for i := 0; ; i++ {
		if i == 100 && killed.IsZero() {
			primary.kill()
			killed = time.Now()
		}
		b := pubA
		if i%2 == 1 {
			b = pubB
		}
		data := strconv.Itoa(i)
		done := !recovered.IsZero() && i >= 300
		if done {
			data = "end"
		}
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		id, err := b.Publish(pctx, "t", core.Message{Data: data})
		pcancel()
		if err != nil {
			failures++
			lastErr = err
			if !restarted && time.Since(killed) > 1500*time.Millisecond {
				// Its supervisor restarts the old primary: the sentinels make
				// it a replica of the new one, so WAIT 1 can succeed again.
				restarted = true
				primary.start()
			}
			if killed.IsZero() || time.Since(killed) > 30*time.Second {
				t.Fatalf("Publish %d: %v", i, err)
			}
			time.Sleep(50 * time.Millisecond)
			i-- // the same event again, under a new id once acknowledged
			continue
		}
		if prev, ok := acked[id]; ok {
			t.Fatalf("id %s acknowledged twice: %q and %q", id, prev, data)
		}
		acked[id] = data
		order = append(order, id)
		if !killed.IsZero() && recovered.IsZero() {
			recovered = time.Now()
		}
		if done {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	readers.Wait()

	for i, r := range results {
		ids := idsOf(r.events)
		got := map[string]string{}
		var real []string
		for _, ev := range r.events {
			if ev.Type == broker.ResetEvent {
				continue
			}
			if prev, ok := got[ev.LastEventID]; ok {
				t.Fatalf("client %d: id %s received twice (%q, %q)", i, ev.LastEventID, prev, ev.Data)
			}
			got[ev.LastEventID] = ev.Data
			real = append(real, ev.LastEventID)
			if d, ok := acked[ev.LastEventID]; ok && d != ev.Data {
				t.Fatalf("client %d: id %s carried %q, but it was acknowledged for %q", i, ev.LastEventID, ev.Data, d)
			}
		}
		increasing(t, real)
		lost := 0
		for _, id := range order {
			if _, ok := got[id]; !ok {
				lost++
			}
		}
		if lost > 0 && r.resets == 0 {
			t.Fatalf("client %d: %d acknowledged events never arrived and no reset signal (ids %v)", i, lost, ids)
		}
		t.Logf("client %d: %d events received, %d acknowledged events missing, %d resets", i, len(real), lost, r.resets)
	}
	t.Logf("primary SIGKILLed; publishing failed for %v (%d failed attempts, the last: %v) until the failover and the old primary's return as a replica; %d events acknowledged",
		recovered.Sub(killed).Round(time.Millisecond), failures, lastErr, len(order))
}

// Cluster: three primaries and three replicas; the backend works through a
// ClusterClient (one slot per prefix), WAIT included.
func TestRedisCluster(t *testing.T) {
	t.Parallel()
	var addrs []string
	for i := range 6 {
		s := startServer(t, "node"+strconv.Itoa(i), "cluster-enabled yes", "cluster-config-file nodes.conf",
			"cluster-node-timeout 2000")
		addrs = append(addrs, s.addr())
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli is not installed (Debian's redis-tools, with redis-server)")
	}
	out, err := exec.Command(cli, append(append([]string{"--cluster", "create"}, addrs...),
		"--cluster-replicas", "1", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs, MaxRetries: 5})
	t.Cleanup(func() { cc.Close() })
	waitFor(t, 20*time.Second, "the cluster to be ok", func() bool {
		info, err := cc.ClusterInfo(context.Background()).Result()
		return err == nil && strings.Contains(info, "cluster_state:ok")
	})
	waitFor(t, 20*time.Second, "every primary to have a replica in sync", func() bool {
		var bad atomic.Bool // ForEachMaster runs on every primary at once
		err := cc.ForEachMaster(context.Background(), func(ctx context.Context, c *goredis.Client) error {
			info, err := c.Info(ctx, "replication").Result()
			if err != nil || !strings.Contains(info, "connected_slaves:1") || !strings.Contains(info, "state=online") {
				bad.Store(true)
			}
			return nil
		})
		return err == nil && !bad.Load()
	})
	ro := Options{Prefix: "c", Replicas: 1, ReplicaTimeout: 2 * time.Second}
	a := newBroker(t, cc, broker.Options{}, ro)
	b := newBroker(t, cc, broker.Options{}, ro)
	live := subscribe(t, b, []string{"x", "y"}, "")
	var ids []string
	for i := range 20 {
		topic := "x"
		if i%2 == 1 {
			topic = "y"
		}
		ids = append(ids, publish(t, a, topic, core.Message{Data: strconv.Itoa(i)}))
	}
	ev, _ := collect(t, live, 20)
	equal(t, "live on the other instance", idsOf(ev), ids)
	ev, _ = collect(t, subscribe(t, b, []string{"x", "y"}, ids[9]), 10)
	equal(t, "resumed", idsOf(ev), ids[10:])

}
