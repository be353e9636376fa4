// Command cluster simulates a many-instance deployment of the ssekit broker
// on Redis on this machine, in one command, and measures it.
//
// It starts its own Redis on free loopback ports (-redis single: one node;
// cluster: three primaries with a replica each, built with redis-cli
// --cluster create; "single,cluster" runs both), -instances server
// instances (this binary again, each a process with the broker on the
// Redis backend served by the net/http adapter, GET /events?topic=tN), and
// -subscribers raw HTTP/1.1 subscribers over -client-procs client processes
// (every process stays under its 20,000 descriptors). The parent publishes
// -rate events per second round-robin over -topics topics through the
// broker/redis backend; each event carries its phase, topic, the topic's
// sequence number and the publisher's wall clock, so that each subscriber
// measures the end-to-end delivery latency and records what it received.
//
// Phases, one after another, with publishing going on in each:
//
//  1. steady: latency p50/p99, CPU per delivery (process CPU times of the
//     instances, the clients and Redis), Redis commands per event (INFO
//     commandstats deltas on the primaries);
//  2. instance kill: one instance is SIGKILLed; its clients reconnect to
//     another instance with their Last-Event-ID;
//  3. Redis kill: the primary serving the broker's slot is SIGKILLed. On a
//     cluster its replica takes over (Publish WAITs for one replica, so an
//     acknowledged event survives) and the old primary is restarted to
//     rejoin as a replica; a single node is restarted empty (no
//     persistence), which the broker answers with the reset signal.
//
// At the end every client process checks, per phase, each subscriber's
// events against the publishes the parent saw acknowledged: lost events
// (silent, or after a reset signal), duplicates, and events delivered
// although their Publish failed. Progress goes to stderr; a Markdown table,
// an SVG chart and the JSON go to -out (cluster.md, cluster.svg,
// cluster.json).
//
// With -ceiling 1,100,10000 it measures instead the publish rate one Redis
// node sustains: every instance publishes as fast as -ceiling-workers
// concurrent publishers go, to subscribers spread over the instances.
//
//	go run ./benchmarks/cmd/cluster                       # 4 instances, 40,000 subscribers, single and cluster
//	go run ./benchmarks/cmd/cluster -quick                # 2 instances, 400 subscribers, single node
//	go run ./benchmarks/cmd/cluster -ceiling 1,100,10000  # the Redis publish ceiling
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ssekit/ssekit/benchmarks/internal/childproc"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "cluster %s: "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// config is one run's parameters.
type config struct {
	Topologies  []string
	Adapter     string // the instances' adapter: nethttp or nbio
	Instances   int
	Subscribers int
	ClientProcs int
	Topics      int
	Rate        float64 // events per second
	Workers     int     // concurrent publishes
	ConnRate    float64 // connections per second, all client processes together
	Srcs        int
	Steady      time.Duration
	KillPhase   time.Duration
	RedisPhase  time.Duration
	NoKill      bool
	NoRedisKill bool

	Ceiling        []int // subscriber levels; none: the simulation
	CeilingTime    time.Duration
	CeilingWorkers int

	Timeout time.Duration
	Log     func(format string, args ...any)
}

// run is the command: the parent by default, or a child role.
func run(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	role := fs.String("role", "", "child role: server or clients (the parent starts them)")
	redisMode := fs.String("redis-mode", "single", "server role: single or cluster")
	redisAddrs := fs.String("redis-addrs", "", "server role: Redis addresses, comma-separated")
	prefix := fs.String("prefix", "ssekit-cluster", "server role: the backend's key prefix")
	adapterName := fs.String("adapter", "nethttp", "the instances' adapter: nethttp (a goroutine per stream) or nbio (an event loop)")

	topologies := fs.String("redis", "single,cluster", "Redis topologies to run, comma-separated: single, cluster")
	instances := fs.Int("instances", 4, "server instances (processes)")
	subscribers := fs.Int("subscribers", 40000, "subscribers, spread over the instances and topics")
	clientProcs := fs.Int("client-procs", 0, "client processes (0: one per 10,000 subscribers)")
	topics := fs.Int("topics", 100, "topics")
	rate := fs.Float64("rate", 50, "events published per second, round-robin over the topics")
	workers := fs.Int("workers", 4, "concurrent publishes at most")
	connRate := fs.Float64("conn-rate", 3000, "connections opened per second at the start")
	srcs := fs.Int("srcs", 1, "loopback source addresses for the clients (127.0.0.2...), when ephemeral ports run short")
	steady := fs.Duration("steady", 20*time.Second, "length of the steady phase")
	killPhase := fs.Duration("kill-phase", 20*time.Second, "length of the instance-kill phase (the kill comes at a third)")
	redisPhase := fs.Duration("redis-phase", 20*time.Second, "publishing in the Redis-kill phase, at least (the kill comes at a quarter; it lasts until 5 s after recovery)")
	noKill := fs.Bool("no-kill", false, "skip the instance kill")
	noRedisKill := fs.Bool("no-redis-kill", false, "skip the Redis primary kill")
	quick := fs.Bool("quick", false, "a small configuration: 2 instances, 400 subscribers, 20 topics, single node, 5 s phases")
	ceiling := fs.String("ceiling", "", "measure the Redis publish ceiling at these subscriber counts instead (e.g. 1,100,10000), on a single node")
	ceilingTime := fs.Duration("ceiling-seconds", 8*time.Second, "publishing time per ceiling level")
	ceilingWorkers := fs.Int("ceiling-workers", 16, "concurrent publishers per instance in the ceiling")
	outDir := fs.String("out", defaultOut(), "directory for cluster.md, cluster.svg and cluster.json (ceiling: cluster-ceiling.*); empty: none")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *role {
	case "server":
		return serverRole(*adapterName, *redisMode, *redisAddrs, *prefix, in, out)
	case "clients":
		return clientsRole(in, out, logf)
	case "":
	default:
		return fmt.Errorf("unknown role %q", *role)
	}
	if *quick {
		// The small configuration, under any flag given explicitly.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quickDefaults := map[string]string{"redis": "single", "instances": "2", "subscribers": "400", "topics": "20",
			"steady": "5s", "kill-phase": "5s", "redis-phase": "5s"}
		for name, v := range quickDefaults {
			if !set[name] {
				if err := fs.Set(name, v); err != nil {
					return err
				}
			}
		}
	}
	cfg := config{
		Adapter: *adapterName, Instances: *instances, Subscribers: *subscribers, ClientProcs: *clientProcs, Topics: *topics,
		Rate: *rate, Workers: *workers, ConnRate: *connRate, Srcs: *srcs,
		Steady: *steady, KillPhase: *killPhase, RedisPhase: *redisPhase, NoKill: *noKill, NoRedisKill: *noRedisKill,
		CeilingTime: *ceilingTime, CeilingWorkers: *ceilingWorkers, Timeout: *timeout, Log: logf,
	}
	var err error
	if cfg.Topologies, err = parseTopologies(*topologies); err != nil {
		return err
	}
	if *ceiling != "" {
		if cfg.Ceiling, err = parseLevels(*ceiling); err != nil {
			return err
		}
	}
	if err := cfg.check(); err != nil {
		return err
	}
	childproc.RaiseNoFile()
	res := measure(cfg)
	res.Command = "go run ./benchmarks/cmd/cluster " + strings.Join(args, " ")
	md := markdown(res)
	fmt.Fprint(out, md)
	if *outDir != "" {
		if err := writeResults(*outDir, res, md); err != nil {
			return err
		}
	}
	return res.failure()
}

// defaultOut is benchmarks/results from the repository root or the
// benchmarks module, else nothing.
func defaultOut() string {
	for _, d := range []string{"benchmarks/results", "results"} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	return ""
}

// writeResults writes the Markdown, the chart and the JSON to dir.
func writeResults(dir string, res *Output, md string) error {
	base := "cluster"
	if res.Ceiling != nil {
		base = "cluster-ceiling"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	files := map[string][]byte{base + ".md": []byte(md), base + ".svg": []byte(chart(res)), base + ".json": append(b, '\n')}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	logf("wrote %s/%s.{md,svg,json}", dir, base)
	return nil
}

// parseTopologies parses -redis.
func parseTopologies(s string) ([]string, error) {
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		switch t {
		case "":
			continue
		case "single", "cluster":
			if !contains(out, t) {
				out = append(out, t)
			}
		default:
			return nil, fmt.Errorf("-redis: unknown topology %q (single, cluster)", t)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("-redis: no topology")
	}
	return out, nil
}

// parseLevels parses -ceiling: positive subscriber counts.
func parseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-ceiling: %q is not a positive subscriber count", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("-ceiling: no level")
	}
	return out, nil
}

// perProcess is the most streams one client process opens, under its
// 20,000 descriptors with room to spare.
const perProcess = 10000

// check validates cfg and fills in the client processes.
func (c *config) check() error {
	if c.ClientProcs == 0 {
		c.ClientProcs = (max(c.Subscribers, slicesMax(c.Ceiling)) + perProcess - 1) / perProcess
	}
	switch {
	case c.Adapter != "nethttp" && c.Adapter != "nbio":
		return fmt.Errorf("-adapter %q: nethttp or nbio", c.Adapter)
	case c.Instances < 1 || c.Instances > 64:
		return errors.New("-instances: 1 to 64")
	case c.Subscribers < 1 || c.Topics < 1 || c.Rate <= 0 || c.Workers < 1 || c.ConnRate <= 0:
		return errors.New("need -subscribers, -topics, -rate, -workers and -conn-rate above 0")
	case c.Srcs < 1 || c.Srcs > 200:
		return errors.New("-srcs: 1 to 200")
	case c.ClientProcs < 1 || (max(c.Subscribers, slicesMax(c.Ceiling))+c.ClientProcs-1)/c.ClientProcs > 15000:
		return errors.New("-client-procs: too few for the subscribers (at most 15,000 each)")
	case c.Subscribers/c.Instances > 15000 && len(c.Ceiling) == 0:
		return errors.New("more than 15,000 subscribers per instance: add instances")
	case c.Steady <= 0 || c.KillPhase <= 0 || c.RedisPhase <= 0:
		return errors.New("phases must last more than 0")
	case len(c.Ceiling) > 0 && (c.CeilingTime <= 0 || c.CeilingWorkers < 1):
		return errors.New("-ceiling-seconds and -ceiling-workers must be positive")
	}
	return nil
}

func slicesMax(v []int) int {
	m := 0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
