package redisbroker

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/core"
)

// Cluster failover with Options.Replicas: the append and its WAIT go to the
// slot's primary in one pipeline, outside the ClusterClient's redirect
// handling. After the primary is SIGKILLed and its replica promoted,
// Publish must follow the slot to the new primary within seconds, not
// answer MOVED until go-redis's periodic state reload (60 s by default).
func TestRedisClusterFailoverPublish(t *testing.T) {
	t.Parallel()
	var nodes []*server
	var addrs []string
	for i := range 6 {
		s := startServer(t, "node"+strconv.Itoa(i), "cluster-enabled yes", "cluster-config-file nodes.conf",
			"cluster-node-timeout 1000")
		nodes = append(nodes, s)
		addrs = append(addrs, s.addr())
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli is not installed (Debian's redis-tools, with redis-server)")
	}
	if out, err := exec.Command(cli, append(append([]string{"--cluster", "create"}, addrs...),
		"--cluster-replicas", "1", "--cluster-yes")...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { cc.Close() })
	slot, err := cc.ClusterKeySlot(context.Background(), "{f}:last").Result()
	if err != nil {
		t.Fatal(err)
	}
	// primary returns the node serving the prefix's slot, asked of a node
	// that is up.
	primary := func(except *server) *server {
		for _, n := range nodes {
			if n == except {
				continue
			}
			c := n.client(&goredis.Options{MaxRetries: -1, DialTimeout: 500 * time.Millisecond})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			shards, err := c.ClusterShards(ctx).Result()
			cancel()
			if err != nil {
				continue
			}
			for _, sh := range shards {
				for _, r := range sh.Slots {
					if r.Start <= slot && slot <= r.End {
						for _, nd := range sh.Nodes {
							if nd.Role == "master" && nd.Health == "online" {
								for _, m := range nodes {
									if int64(m.port) == nd.Port {
										return m
									}
								}
							}
						}
					}
				}
			}
		}
		return nil
	}
	waitFor(t, 30*time.Second, "the cluster to serve the slot with a replica in sync", func() bool {
		p := primary(nil)
		if p == nil {
			return false
		}
		info, err := p.client(nil).Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "connected_slaves:1") && strings.Contains(info, "state=online")
	})
	b := newBroker(t, cc, broker.Options{}, Options{Prefix: "f", Replicas: 1, ReplicaTimeout: time.Second})
	publish(t, b, "t", core.Message{Data: "before"})

	old := primary(nil)
	old.kill()
	waitFor(t, 30*time.Second, "a replica to be promoted", func() bool {
		p := primary(old)
		return p != nil && p != old
	})
	promoted := time.Now()
	old.start() // rejoins as the new primary's replica, so that WAIT 1 can succeed
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := b.Publish(ctx, "t", core.Message{Data: "after"})
		cancel()
		if err == nil {
			t.Logf("Publish succeeded %v after the promotion", time.Since(promoted).Round(time.Millisecond))
			return
		}
		lastErr = err
		if time.Since(promoted) > 15*time.Second {
			t.Fatalf("Publish still failing 15s after the replica's promotion: %v", lastErr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
