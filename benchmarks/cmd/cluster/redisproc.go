package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ssekit/ssekit/benchmarks/internal/childproc"
)

// redisProc is a redis-server process this command started on loopback, in
// a directory of its own (the approach of broker/redis's failover tests).
type redisProc struct {
	name string
	port int
	dir  string
	cmd  *exec.Cmd
	exit chan struct{}
}

// freePort returns a loopback TCP port nobody listens on now, whose
// cluster bus port (+10000) is free too.
func freePort() (int, error) {
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := ln.Addr().(*net.TCPAddr).Port
		if p+10000 > 65535 {
			ln.Close()
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		ln.Close()
		if err != nil {
			continue
		}
		bus.Close()
		return p, nil
	}
	return 0, errors.New("no free loopback port pair found")
}

// startRedis starts redis-server with the config lines conf (on top of a
// loopback-only, no-persistence default) in a new directory under base and
// waits until it answers.
func startRedis(base, name string, conf ...string) (*redisProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &redisProc{name: name, port: port, dir: filepath.Join(base, name)}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, err
	}
	lines := append([]string{
		"bind 127.0.0.1",
		"port " + strconv.Itoa(port),
		"dir " + p.dir,
		`save ""`,
		"appendonly no",
		"protected-mode no",
		"maxclients 10000",
		"logfile " + filepath.Join(p.dir, "log"),
	}, conf...)
	if err := os.WriteFile(filepath.Join(p.dir, "redis.conf"), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	return p, p.start()
}

func (p *redisProc) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

// start runs the process and waits (up to 10 s) until it answers PING.
func (p *redisProc) start() error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return errors.New("redis-server is not installed (Debian's redis-server package; scripts/with-services installs it)")
	}
	p.cmd = exec.Command(bin, filepath.Join(p.dir, "redis.conf"))
	p.cmd.Dir = p.dir
	p.cmd.SysProcAttr = &syscall.SysProcAttr{}
	childproc.SetPdeathsig(p.cmd.SysProcAttr)
	if err := p.cmd.Start(); err != nil {
		return err
	}
	p.exit = make(chan struct{})
	go func(c *exec.Cmd, exit chan struct{}) { _ = c.Wait(); close(exit) }(p.cmd, p.exit)
	c := goredis.NewClient(&goredis.Options{Addr: p.addr(), MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.exit:
			log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
			return fmt.Errorf("%s exited at start: %s", p.name, log)
		default:
		}
		if time.Now().After(deadline) {
			p.kill()
			return fmt.Errorf("%s did not answer within 10s: %w", p.name, err)
		}
		sleep(20 * time.Millisecond)
	}
}

// kill SIGKILLs the process and waits for it (at most 10 s).
func (p *redisProc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	tm := time.NewTimer(10 * time.Second)
	defer tm.Stop()
	select {
	case <-p.exit:
	case <-tm.C:
	}
}

// sleep waits d without time.Sleep's uninterruptible look in traces.
func sleep(d time.Duration) {
	tm := time.NewTimer(d)
	<-tm.C
}

// topology is a running Redis deployment: a single node, or a Cluster of
// three primaries with a replica each.
type topology struct {
	mode  string // "single" or "cluster"
	base  string
	nodes []*redisProc
}

// startTopology starts mode's Redis processes under base and waits until
// they serve (for a cluster: slots assigned, every primary with a replica
// in sync).
func startTopology(mode, base string, logf func(string, ...any)) (*topology, error) {
	t := &topology{mode: mode, base: base}
	switch mode {
	case "single":
		p, err := startRedis(base, "single")
		if err != nil {
			return nil, err
		}
		t.nodes = append(t.nodes, p)
		return t, nil
	case "cluster":
	default:
		return nil, fmt.Errorf("unknown Redis topology %q (single or cluster)", mode)
	}
	var addrs []string
	for i := range 6 {
		p, err := startRedis(base, "node"+strconv.Itoa(i), "cluster-enabled yes", "cluster-config-file nodes.conf",
			"cluster-node-timeout 2000")
		if err != nil {
			t.stop()
			return nil, err
		}
		t.nodes = append(t.nodes, p)
		addrs = append(addrs, p.addr())
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.stop()
		return nil, errors.New("redis-cli is not installed (Debian's redis-tools, with redis-server)")
	}
	out, err := exec.Command(cli, append(append([]string{"--cluster", "create"}, addrs...),
		"--cluster-replicas", "1", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	cc := t.client()
	defer cc.Close()
	err = waitUntil(30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		info, err := cc.(*goredis.ClusterClient).ClusterInfo(ctx).Result()
		if err != nil || !strings.Contains(info, "cluster_state:ok") {
			return false
		}
		synced := 0
		for _, p := range t.nodes {
			info := nodeInfo(p, "replication")
			if info["role"] == "master" && info["connected_slaves"] == "1" && strings.Contains(info["slave0"], "state=online") {
				synced++
			}
		}
		return synced == 3
	})
	if err != nil {
		t.stop()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	logf("cluster of 3 primaries + 3 replicas up on %s", strings.Join(addrs, ","))
	return t, nil
}

// addrs returns every node's address.
func (t *topology) addrs() []string {
	var a []string
	for _, p := range t.nodes {
		a = append(a, p.addr())
	}
	return a
}

// client returns a new go-redis client of the deployment, with the
// timeouts the instances use.
func (t *topology) client() goredis.UniversalClient {
	return newClient(t.mode, t.addrs())
}

// quietRedis drops go-redis's own log lines (a refused dial per pooled
// connection while Redis is down): the run reports the outage itself.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func init() { goredis.SetLogger(quietRedis{}) }

// newClient returns a go-redis client for mode at addrs: short dial and
// read timeouts, so that a dead primary is noticed within seconds.
func newClient(mode string, addrs []string) goredis.UniversalClient {
	if mode == "cluster" {
		return goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs, MaxRetries: 3,
			DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second, PoolSize: 64})
	}
	return goredis.NewClient(&goredis.Options{Addr: addrs[0], MaxRetries: 3,
		DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second, PoolSize: 64})
}

// stop kills every node.
func (t *topology) stop() {
	for _, p := range t.nodes {
		p.kill()
	}
}

// nodeInfo returns INFO section of p as key/value pairs (empty when p does
// not answer).
func nodeInfo(p *redisProc, section string) map[string]string {
	c := goredis.NewClient(&goredis.Options{Addr: p.addr(), MaxRetries: -1, DialTimeout: 500 * time.Millisecond, ReadTimeout: 2 * time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s, err := c.Info(ctx, section).Result()
	m := map[string]string{}
	if err != nil {
		return m
	}
	for line := range strings.SplitSeq(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			m[k] = v
		}
	}
	return m
}

// redisSample is the deployment's counters at one moment.
type redisSample struct {
	cmds  map[string]int64 // calls per command, summed over the primaries
	cpuNs int64            // used_cpu_user + used_cpu_sys, summed over every node
}

// sample reads every node's counters.
func (t *topology) sample() redisSample {
	s := redisSample{cmds: map[string]int64{}}
	for _, p := range t.nodes {
		cpu := nodeInfo(p, "cpu")
		for _, k := range []string{"used_cpu_user", "used_cpu_sys"} {
			if f, err := strconv.ParseFloat(cpu[k], 64); err == nil {
				s.cpuNs += int64(f * 1e9)
			}
		}
		if nodeInfo(p, "replication")["role"] != "master" {
			continue
		}
		for k, v := range nodeInfo(p, "commandstats") {
			// cmdstat_evalsha:calls=12,usec=...
			name, ok := strings.CutPrefix(k, "cmdstat_")
			if !ok {
				continue
			}
			calls, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
			if n, err := strconv.ParseInt(calls, 10, 64); err == nil {
				s.cmds[name] += n
			}
		}
	}
	return s
}

// commandsDelta returns the calls per command between a and b (commands of
// the sampling itself, INFO, left out).
func commandsDelta(a, b redisSample) map[string]int64 {
	d := map[string]int64{}
	for k, v := range b.cmds {
		if k == "info" {
			continue
		}
		if n := v - a.cmds[k]; n > 0 {
			d[k] = n
		}
	}
	return d
}

// primaryOf returns the node serving the slot of prefix's hash tag (the
// whole broker), and the slot.
func (t *topology) primaryOf(prefix string) (*redisProc, int, error) {
	if t.mode == "single" {
		return t.nodes[0], 0, nil
	}
	cc := t.client().(*goredis.ClusterClient)
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	slot, err := cc.ClusterKeySlot(ctx, "{"+prefix+"}:last").Result()
	if err != nil {
		return nil, 0, err
	}
	shards, err := cc.ClusterShards(ctx).Result()
	if err != nil {
		return nil, 0, err
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if r.Start > slot || slot > r.End {
				continue
			}
			for _, n := range sh.Nodes {
				if n.Role != "master" || n.Health != "online" {
					continue
				}
				for _, p := range t.nodes {
					if int64(p.port) == n.Port {
						return p, int(slot), nil
					}
				}
			}
		}
	}
	return nil, int(slot), fmt.Errorf("no node serves slot %d", slot)
}

// waitUntil polls cond every 100 ms until it holds, or fails after d.
func waitUntil(d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for i := 0; ; i++ {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) || i > int(d/(100*time.Millisecond))+100 {
			return fmt.Errorf("not ready after %v", d)
		}
		sleep(100 * time.Millisecond)
	}
}
