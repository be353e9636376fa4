// Command fanout measures the fan-out of events to many subscribers: ssekit's
// broker (in memory, and on Redis) served through its net/http adapter, and
// in memory through its nbio adapter (an event loop: no goroutine per
// subscriber), against go-sse's Server, r3labs/sse's Server and a
// hand-written broadcast, side by side in one run.
//
// For each implementation it starts two fresh processes, this same binary
// with -role server -impl ID and with -role clients, so that the server's
// memory holds no client and the clients are lean raw loopback connections
// (one goroutine each, a 2 KiB read buffer, only "data: " lines parsed). It
// then measures:
//
//   - delivery latency of -events events published -interval apart to -n
//     subscribers: the server stamps each event with its wall clock just
//     before publishing, and each client subtracts it from its own clock on
//     receipt (both processes run on this host); p50, p99 and max over every
//     (subscriber, event) pair, and whether every pair arrived;
//   - the server's memory (HeapInuse + StackInuse, after garbage collection)
//     and goroutines per subscriber, between before the first connection and
//     after every subscriber has connected and received a warm-up event;
//   - publish throughput to 1, 100 and -n subscribers: K events published as
//     fast as the publisher can, from the first publish until the last
//     subscriber received the last event (K = -tput-deliveries divided by
//     the subscribers, between 20 and -tput-max).
//
// It prints a table and, with -json, writes the results for the report.
//
//	go run ./benchmarks/cmd/fanout -n 10000 -json results/fanout.json
//
// The Redis subject connects to SSEKIT_REDIS_ADDR (default 127.0.0.1:6379).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ssekit/ssekit/benchmarks/internal/childproc"
	"github.com/ssekit/ssekit/benchmarks/internal/machine"
)

// config is one run's parameters.
type config struct {
	N          int
	Events     int
	Interval   time.Duration
	Impls      []string
	Rate       float64 // connections per second
	Srcs       int     // loopback source addresses for the clients
	Deliveries int     // throughput: events times subscribers per level
	MaxEvents  int     // throughput: most events per level
	Runs       int     // rounds of every implementation
	Profile    string  // server CPU profile path prefix
	MemProfile string  // server heap profile path prefix
	Timeout    time.Duration
	Log        func(format string, args ...any)
}

// Output is the JSON the command writes (-json): one entry per
// implementation in Results, and the targets checked in Targets.
type Output struct {
	Machine     machine.Info `json:"machine"`
	Command     string       `json:"command"`
	Subscribers int          `json:"subscribers"`
	Events      int          `json:"events"`
	IntervalMS  float64      `json:"interval_ms"`
	Rounds      int          `json:"rounds"`
	Results     []Result     `json:"results"` // one per implementation: medians over the rounds
	Targets     []Target     `json:"targets"`
	EventLoop   *LoopTarget  `json:"event_loop,omitempty"` // issue 12, when ssekit-nbio and ssekit both ran
	Runs        []Result     `json:"runs"`                 // every round of every implementation, in the order run
}

// Result is one implementation's figures.
type Result struct {
	Impl  string `json:"impl"` // ssekit, ssekit-redis, gosse, r3labs, hand
	Name  string `json:"name"`
	Ours  bool   `json:"ours"`
	Run   int    `json:"run,omitempty"`   // the round, in Runs; 0 in Results
	Error string `json:"error,omitempty"` // the run failed part way; figures may be missing

	Latency *Latency `json:"latency,omitempty"`

	// ConnectPerS is the rate the subscribers were opened at: -n divided by
	// the time the clients took to dial and send every request.
	ConnectPerS float64 `json:"connect_per_s"`

	// Server memory per subscriber, bytes: (HeapInuse + StackInuse) after
	// every subscriber connected and got a first event, minus the same
	// before the first connection, divided by the subscribers. Heap and
	// stack are also given apart.
	MemPerSub        float64 `json:"mem_per_sub"`
	HeapPerSub       float64 `json:"heap_per_sub"`
	StackPerSub      float64 `json:"stack_per_sub"`
	GoroutinesPerSub float64 `json:"goroutines_per_sub"`

	Throughput []Throughput `json:"throughput"`
}

// Latency is the delivery latency of the spaced events.
type Latency struct {
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
	MaxMS    float64 `json:"max_ms"`
	Received int64   `json:"received"` // (subscriber, event) pairs received
	Expected int64   `json:"expected"` // subscribers times events
	Complete bool    `json:"complete"`
	LagMS    float64 `json:"publish_lag_ms"` // how far the publisher fell behind its schedule (blocked in Publish)
	// CPU time the server and the client processes used over the phase,
	// per event.
	ServerCPUMS float64 `json:"server_cpu_ms_per_event"`
	ClientCPUMS float64 `json:"client_cpu_ms_per_event"`
	// CPUBoundMS is both processes' CPU time per event divided by the
	// CPUs: the least time one event's fan-out can take on this machine
	// with this much work, whatever the order of the deliveries.
	CPUBoundMS float64 `json:"cpu_bound_ms"`
}

// Throughput is one burst: Events published as fast as possible to
// Subscribers.
type Throughput struct {
	Subscribers    int     `json:"subscribers"`
	Events         int     `json:"events"`
	Seconds        float64 `json:"seconds"`          // first publish to the last receipt
	PublishSeconds float64 `json:"publish_seconds"`  // the publisher's own time
	EventsPerS     float64 `json:"events_per_s"`     // Events / Seconds
	DeliveriesPerS float64 `json:"deliveries_per_s"` // Events * Subscribers / Seconds
	Received       int64   `json:"received"`
	Expected       int64   `json:"expected"`
	Complete       bool    `json:"complete"`
	ServerCPUS     float64 `json:"server_cpu_s"` // CPU time the server process used over the burst
	ClientCPUS     float64 `json:"client_cpu_s"` // and the client process
}

// Target is one of ours checked against the targets: p99 at most
// half of the best p99 of go-sse, r3labs and the hand-written broadcast, and
// memory per subscriber no more than the hand-written broadcast's.
type Target struct {
	Impl       string  `json:"impl"`
	P99MS      float64 `json:"p99_ms"`
	P99LimitMS float64 `json:"p99_limit_ms"` // half the best peer's p99
	BestPeer   string  `json:"best_peer"`
	P99OK      bool    `json:"p99_ok"`
	MemPerSub  float64 `json:"mem_per_sub"`
	MemLimit   float64 `json:"mem_limit"` // the hand-written broadcast's
	MemOK      bool    `json:"mem_ok"`
}

// LoopTarget is issue 12's check of the nbio adapter (ssekit-nbio) against
// the net/http adapter on the same in-memory broker (ssekit), in the same
// run at the same width: p99 no worse, every event delivered.
type LoopTarget struct {
	P99MS        float64 `json:"p99_ms"`
	NetHTTPP99MS float64 `json:"nethttp_p99_ms"`
	MemPerSub    float64 `json:"mem_per_sub"`
	NetHTTPMem   float64 `json:"nethttp_mem_per_sub"`
	ConnectPerS  float64 `json:"connect_per_s"` // the slower of the two opening rates
	Complete     bool    `json:"complete"`      // both delivered every event
	OK           bool    `json:"ok"`
}

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fanout: "+format+"\n", args...)
}

// run is the command: the parent by default, or a child role.
func run(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("fanout", flag.ContinueOnError)
	role := fs.String("role", "", "child role: server or clients (the parent starts them)")
	implID := fs.String("impl", "", "server role: the implementation to serve")
	n := fs.Int("n", 10000, "subscribers")
	events := fs.Int("events", 20, "events of the latency measurement")
	interval := fs.Duration("interval", 300*time.Millisecond, "time between the latency measurement's events")
	implList := fs.String("impls", strings.Join(implIDs(), ","), "implementations, comma-separated")
	jsonOut := fs.String("json", "", "write the results as JSON to this file")
	rate := fs.Float64("rate", 2500, "connections opened per second, at most")
	srcs := fs.Int("srcs", 1, "loopback source addresses for the clients (127.0.0.2...), when ephemeral ports run short; 1: the default 127.0.0.1")
	deliveries := fs.Int("tput-deliveries", 200000, "throughput: events times subscribers per burst")
	maxEvents := fs.Int("tput-max", 1000, "throughput: most events per burst (ssekit's default subscriber queue is 1024)")
	profile := fs.String("cpuprofile", "", "server role: write a CPU profile here; parent: path prefix, one profile per impl (latency and full-width throughput phases)")
	memprofile := fs.String("memprofile", "", "server role: write a heap profile (every allocation sampled) here once all subscribers are connected; parent: path prefix, one per impl")
	runs := fs.Int("runs", 3, "rounds of every implementation; the table shows medians")
	timeout := fs.Duration("timeout", 15*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *role {
	case "server":
		return serverRole(*implID, *profile, *memprofile, in, out)
	case "clients":
		return clientsRole(in, out, logf)
	case "":
	default:
		return fmt.Errorf("unknown role %q", *role)
	}
	childproc.RaiseNoFile()
	cfg := config{
		N: *n, Events: *events, Interval: *interval, Rate: *rate, Srcs: *srcs,
		Deliveries: *deliveries, MaxEvents: *maxEvents, Runs: *runs, Profile: *profile, MemProfile: *memprofile,
		Timeout: *timeout, Log: logf,
	}
	for _, id := range strings.Split(*implList, ",") {
		if id = strings.TrimSpace(id); id == "" {
			continue
		}
		if _, ok := lookupImpl(id); !ok {
			return fmt.Errorf("unknown impl %q (known: %s)", id, strings.Join(implIDs(), ", "))
		}
		cfg.Impls = append(cfg.Impls, id)
	}
	if cfg.N < 1 || cfg.Events < 1 || cfg.Runs < 1 || cfg.Rate <= 0 || cfg.Srcs < 1 || cfg.Srcs > 200 || len(cfg.Impls) == 0 {
		return errors.New("need -n >= 1, -events >= 1, -runs >= 1, -rate > 0, -srcs from 1 to 200 and at least one impl")
	}
	res := measure(cfg)
	res.Command = "fanout " + strings.Join(args, " ")
	fmt.Fprint(out, table(res))
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	var failed []string
	for _, r := range res.Runs {
		if r.Error != "" && !slices.Contains(failed, r.Impl) {
			failed = append(failed, r.Impl)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

func implIDs() []string {
	var ids []string
	for _, im := range impls {
		ids = append(ids, im.ID)
	}
	return ids
}

// measure runs every implementation of cfg, cfg.Runs rounds of them, each
// round starting one implementation further so that none is always first,
// and sums each implementation up with the medians of its rounds.
func measure(cfg config) Output {
	res := Output{Machine: machine.Read(), Subscribers: cfg.N, Events: cfg.Events,
		IntervalMS: ms(cfg.Interval.Nanoseconds()), Rounds: cfg.Runs}
	deadline := time.Now().Add(cfg.Timeout)
	for run := range cfg.Runs {
		for i := range cfg.Impls {
			id := cfg.Impls[(i+run)%len(cfg.Impls)]
			im, _ := lookupImpl(id)
			r := Result{Impl: im.ID, Name: im.Name, Ours: im.Ours, Run: run + 1}
			start := time.Now()
			if err := measureImpl(cfg, im, &r, deadline); err != nil {
				r.Error = err.Error()
				cfg.Log("%s: %v", id, err)
			}
			cfg.Log("%s: round %d/%d done in %.1fs", id, run+1, cfg.Runs, time.Since(start).Seconds())
			res.Runs = append(res.Runs, r)
		}
	}
	for _, id := range cfg.Impls {
		if !slices.ContainsFunc(res.Results, func(r Result) bool { return r.Impl == id }) {
			res.Results = append(res.Results, summarize(id, res.Runs))
		}
	}
	res.Targets = targets(res.Results)
	res.EventLoop = loopTarget(res.Results)
	return res
}

// loopTarget compares ssekit-nbio with ssekit; nil unless both have latency
// figures.
func loopTarget(results []Result) *LoopTarget {
	var nb, nh *Result
	for i, r := range results {
		switch {
		case r.Latency == nil:
		case r.Impl == "ssekit-nbio":
			nb = &results[i]
		case r.Impl == "ssekit":
			nh = &results[i]
		}
	}
	if nb == nil || nh == nil {
		return nil
	}
	t := &LoopTarget{P99MS: nb.Latency.P99MS, NetHTTPP99MS: nh.Latency.P99MS, MemPerSub: nb.MemPerSub, NetHTTPMem: nh.MemPerSub,
		Complete: nb.Latency.Complete && nh.Latency.Complete, ConnectPerS: min(nb.ConnectPerS, nh.ConnectPerS)}
	t.OK = t.Complete && t.P99MS <= t.NetHTTPP99MS
	return t
}

// summarize sums up the rounds of implementation id: the median of each
// figure over the rounds that have it; counts are added up, and a figure is
// complete only when it was complete in every round.
func summarize(id string, runs []Result) Result {
	var rs []Result
	for _, r := range runs {
		if r.Impl == id {
			rs = append(rs, r)
		}
	}
	out := Result{Impl: id, Name: rs[0].Name, Ours: rs[0].Ours}
	var errs []string
	med := func(f func(Result) (float64, bool)) float64 {
		var v []float64
		for _, r := range rs {
			if x, ok := f(r); ok {
				v = append(v, x)
			}
		}
		return median(v)
	}
	var lats []Result
	for _, r := range rs {
		if r.Error != "" {
			errs = append(errs, fmt.Sprintf("round %d: %s", r.Run, r.Error))
		}
		if r.Latency != nil {
			lats = append(lats, r)
		}
	}
	out.Error = strings.Join(errs, "; ")
	if len(lats) == 0 {
		return out
	}
	mem := func(f func(Result) float64) float64 {
		return med(func(r Result) (float64, bool) { return f(r), r.Latency != nil })
	}
	out.MemPerSub = mem(func(r Result) float64 { return r.MemPerSub })
	out.HeapPerSub = mem(func(r Result) float64 { return r.HeapPerSub })
	out.StackPerSub = mem(func(r Result) float64 { return r.StackPerSub })
	out.GoroutinesPerSub = mem(func(r Result) float64 { return r.GoroutinesPerSub })
	out.ConnectPerS = mem(func(r Result) float64 { return r.ConnectPerS })
	l := &Latency{Complete: true}
	for _, r := range lats {
		l.Received += r.Latency.Received
		l.Expected += r.Latency.Expected
		l.Complete = l.Complete && r.Latency.Complete
	}
	lat := func(f func(*Latency) float64) float64 {
		return med(func(r Result) (float64, bool) {
			if r.Latency == nil {
				return 0, false
			}
			return f(r.Latency), true
		})
	}
	l.P50MS = lat(func(l *Latency) float64 { return l.P50MS })
	l.P99MS = lat(func(l *Latency) float64 { return l.P99MS })
	l.MaxMS = lat(func(l *Latency) float64 { return l.MaxMS })
	l.LagMS = lat(func(l *Latency) float64 { return l.LagMS })
	l.ServerCPUMS = lat(func(l *Latency) float64 { return l.ServerCPUMS })
	l.ClientCPUMS = lat(func(l *Latency) float64 { return l.ClientCPUMS })
	l.CPUBoundMS = lat(func(l *Latency) float64 { return l.CPUBoundMS })
	out.Latency = l
	widest := 0
	for _, r := range rs {
		widest = max(widest, r.subscribers())
	}
	for _, subs := range levels(widest) {
		t := Throughput{Subscribers: subs, Complete: true}
		n := 0
		for _, r := range rs {
			for _, x := range r.Throughput {
				if x.Subscribers == subs {
					n++
					t.Events = x.Events
					t.Received += x.Received
					t.Expected += x.Expected
					t.Complete = t.Complete && x.Complete
				}
			}
		}
		if n == 0 {
			continue
		}
		tp := func(f func(Throughput) float64) float64 {
			return med(func(r Result) (float64, bool) {
				for _, x := range r.Throughput {
					if x.Subscribers == subs {
						return f(x), true
					}
				}
				return 0, false
			})
		}
		t.Seconds = tp(func(x Throughput) float64 { return x.Seconds })
		t.PublishSeconds = tp(func(x Throughput) float64 { return x.PublishSeconds })
		t.EventsPerS = tp(func(x Throughput) float64 { return x.EventsPerS })
		t.DeliveriesPerS = tp(func(x Throughput) float64 { return x.DeliveriesPerS })
		t.ServerCPUS = tp(func(x Throughput) float64 { return x.ServerCPUS })
		t.ClientCPUS = tp(func(x Throughput) float64 { return x.ClientCPUS })
		out.Throughput = append(out.Throughput, t)
	}
	return out
}

// subscribers returns the widest throughput level measured, or 0.
func (r Result) subscribers() int {
	n := 0
	for _, t := range r.Throughput {
		n = max(n, t.Subscribers)
	}
	return n
}

// median returns the median of v (the mean of the middle two for an even
// count), or 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// levels returns the subscriber counts of the throughput bursts, widest
// first: 1, 100 and n, those not above n.
func levels(n int) []int {
	var l []int
	for _, v := range []int{n, 100, 1} {
		if v <= n && !slices.Contains(l, v) {
			l = append(l, v)
		}
	}
	return l
}

// burst is how many events a throughput burst to subs subscribers has.
func burst(cfg config, subs int) int {
	return min(max(cfg.Deliveries/subs, 20), max(cfg.MaxEvents, 1))
}

// remaining bounds d by what is left until deadline.
func remaining(d time.Duration, deadline time.Time) time.Duration {
	return max(min(d, time.Until(deadline)), time.Second)
}

// measureImpl measures one implementation with a fresh server and client
// process.
func measureImpl(cfg config, im impl, r *Result, deadline time.Time) error {
	if time.Now().After(deadline) {
		return errors.New("out of time (-timeout)")
	}
	logf := func(format string, args ...any) { cfg.Log(im.ID+": "+format, args...) }
	sargs := []string{"-role", "server", "-impl", im.ID}
	if cfg.Profile != "" {
		sargs = append(sargs, "-cpuprofile", fmt.Sprintf("%s.%s.%d.pprof", cfg.Profile, im.ID, r.Run))
	}
	if cfg.MemProfile != "" {
		sargs = append(sargs, "-memprofile", fmt.Sprintf("%s.%s.%d.pprof", cfg.MemProfile, im.ID, r.Run))
	}
	srv, err := spawn(im.ID+" server", sargs...)
	if err != nil {
		return err
	}
	defer srv.Stop(20 * time.Second)
	hello, err := srv.Read(30 * time.Second)
	if err != nil {
		return err
	}
	cli, err := spawn(im.ID+" clients", "-role", "clients")
	if err != nil {
		return err
	}
	defer cli.Stop(20 * time.Second) // before the server's: clients close first
	before, err := srv.Call(request{Op: "stats"}, 30*time.Second)
	if err != nil {
		return err
	}

	// Connect every subscriber.
	logf("connecting %d subscribers to %s", cfg.N, hello.Addr)
	connectTimeout := remaining(time.Duration(float64(cfg.N)/cfg.Rate*float64(time.Second))+60*time.Second, deadline)
	connectStart := time.Now()
	if _, err := cli.Call(request{Op: "connect", Addr: hello.Addr, Path: hello.Path, N: cfg.N, Rate: cfg.Rate, Srcs: cfg.Srcs,
		TimeoutMs: connectTimeout.Milliseconds()}, connectTimeout+10*time.Second); err != nil {
		return err
	}
	r.ConnectPerS = float64(cfg.N) / time.Since(connectStart).Seconds()
	logf("%d subscribers opened at %.0f connections/s", cfg.N, r.ConnectPerS)

	// Warm up: publish until every subscriber got the latest event, so all
	// are registered (some servers answer headers only with the first event)
	// and nothing is left in flight.
	if _, err := cli.Call(request{Op: "phase", Phase: 0}, 30*time.Second); err != nil {
		return err
	}
	warmEnd := time.Now().Add(remaining(90*time.Second, deadline))
	var cliCPU int64 // the client process's CPU time at the end of the last wait
	for seq := 0; ; seq++ {
		if _, err := srv.Call(request{Op: "publish", Phase: 0, Seq: seq, Count: 1}, 60*time.Second); err != nil {
			return err
		}
		w, err := cli.Call(request{Op: "wait", Phase: 0, Last: seq, TimeoutMs: 3000}, 60*time.Second)
		if err != nil {
			return err
		}
		cliCPU = w.Wait.CPUNs
		if w.Wait.Complete == cfg.N {
			logf("all %d subscribers ready after %d warm-up events", cfg.N, seq+1)
			break
		}
		if w.Wait.Dead > 0 || time.Now().After(warmEnd) {
			return fmt.Errorf("warm-up: %d of %d subscribers ready, %d ended (%s)", w.Wait.Complete, cfg.N, w.Wait.Dead, w.Wait.Err)
		}
	}
	after, err := srv.Call(request{Op: "stats", On: true}, 30*time.Second) // On: the heap profile, with -memprofile
	if err != nil {
		return err
	}
	b, a, nf := before.Stats, after.Stats, float64(cfg.N)
	r.HeapPerSub = (float64(a.HeapInuse) - float64(b.HeapInuse)) / nf
	r.StackPerSub = (float64(a.StackInuse) - float64(b.StackInuse)) / nf
	r.MemPerSub = r.HeapPerSub + r.StackPerSub
	r.GoroutinesPerSub = float64(a.Goroutines-b.Goroutines) / nf
	logf("memory %.0f B/subscriber (heap %.0f, stack %.0f), %.2f goroutines/subscriber",
		r.MemPerSub, r.HeapPerSub, r.StackPerSub, r.GoroutinesPerSub)

	if _, err := srv.Call(request{Op: "profile", On: true}, 10*time.Second); err != nil {
		return err
	}
	// Latency: events spaced by the interval.
	if _, err := cli.Call(request{Op: "phase", Phase: 1, Count: cfg.Events}, 30*time.Second); err != nil {
		return err
	}
	logf("latency: %d events %v apart", cfg.Events, cfg.Interval)
	c0, err := srv.Call(request{Op: "count"}, 30*time.Second)
	if err != nil {
		return err
	}
	pubTimeout := remaining(time.Duration(cfg.Events)*cfg.Interval+60*time.Second, deadline)
	p, err := srv.Call(request{Op: "publish", Phase: 1, Count: cfg.Events, IntervalNs: cfg.Interval.Nanoseconds()}, pubTimeout)
	if err != nil {
		return err
	}
	w, err := cli.Call(request{Op: "wait", Phase: 1, Last: cfg.Events - 1, TimeoutMs: remaining(30*time.Second, deadline).Milliseconds()}, 90*time.Second)
	if err != nil {
		return err
	}
	c1, err := srv.Call(request{Op: "count"}, 30*time.Second)
	if err != nil {
		return err
	}
	exp := int64(cfg.N) * int64(cfg.Events)
	r.Latency = &Latency{
		P50MS: ms(w.Wait.P50Ns), P99MS: ms(w.Wait.P99Ns), MaxMS: ms(w.Wait.MaxNs),
		Received: w.Wait.Received, Expected: exp, Complete: w.Wait.Received == exp, LagMS: ms(p.LagNs),
		ServerCPUMS: ms(c1.Stats.CPUNs-c0.Stats.CPUNs) / float64(cfg.Events),
		ClientCPUMS: ms(w.Wait.CPUNs-cliCPU) / float64(cfg.Events),
	}
	r.Latency.CPUBoundMS = (r.Latency.ServerCPUMS + r.Latency.ClientCPUMS) / float64(runtime.NumCPU())
	cliCPU = w.Wait.CPUNs
	logf("latency p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d/%d received; CPU per event: server %.1f ms, clients %.1f ms",
		r.Latency.P50MS, r.Latency.P99MS, r.Latency.MaxMS, w.Wait.Received, exp, r.Latency.ServerCPUMS, r.Latency.ClientCPUMS)

	// Throughput, widest first, closing subscribers between levels.
	for i, subs := range levels(cfg.N) {
		if subs < cfg.N {
			if _, err := cli.Call(request{Op: "close", Keep: subs}, 60*time.Second); err != nil {
				return err
			}
			if err := waitHandlers(srv, subs, remaining(60*time.Second, deadline)); err != nil {
				return err
			}
		}
		k := burst(cfg, subs)
		phase := 2 + i
		if _, err := cli.Call(request{Op: "phase", Phase: phase}, 30*time.Second); err != nil {
			return err
		}
		c0, err := srv.Call(request{Op: "count"}, 30*time.Second)
		if err != nil {
			return err
		}
		p, err := srv.Call(request{Op: "publish", Phase: phase, Count: k}, remaining(120*time.Second, deadline))
		if err != nil {
			return err
		}
		w, err := cli.Call(request{Op: "wait", Phase: phase, Last: k - 1, TimeoutMs: remaining(60*time.Second, deadline).Milliseconds()}, 150*time.Second)
		if err != nil {
			return err
		}
		c1, err := srv.Call(request{Op: "count"}, 30*time.Second)
		if err != nil {
			return err
		}
		t := Throughput{Subscribers: subs, Events: k, Received: w.Wait.Received, Expected: int64(k) * int64(subs),
			PublishSeconds: float64(p.EndNs-p.StartNs) / 1e9,
			ServerCPUS:     float64(c1.Stats.CPUNs-c0.Stats.CPUNs) / 1e9, ClientCPUS: float64(w.Wait.CPUNs-cliCPU) / 1e9}
		t.Complete = t.Received == t.Expected
		cliCPU = w.Wait.CPUNs
		if w.Wait.LastNs > p.StartNs {
			t.Seconds = float64(w.Wait.LastNs-p.StartNs) / 1e9
			t.EventsPerS = float64(k) / t.Seconds
			t.DeliveriesPerS = float64(k) * float64(subs) / t.Seconds
		}
		logf("throughput to %d: %d events in %.3fs: %.0f events/s (%d/%d received); CPU: server %.2fs, clients %.2fs",
			subs, k, t.Seconds, t.EventsPerS, t.Received, t.Expected, t.ServerCPUS, t.ClientCPUS)
		r.Throughput = append(r.Throughput, t)
		if i == 0 {
			if _, err := srv.Call(request{Op: "profile", On: false}, 10*time.Second); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitHandlers waits until at most want stream handlers run on the server.
func waitHandlers(srv *child, want int, timeout time.Duration) error {
	end := time.Now().Add(timeout)
	for i := 0; ; i++ {
		r, err := srv.Call(request{Op: "count"}, 30*time.Second)
		if err != nil {
			return err
		}
		if r.Handlers <= want {
			return nil
		}
		if time.Now().After(end) || i > 100000 {
			return fmt.Errorf("%d stream handlers still running, want %d", r.Handlers, want)
		}
		tm := time.NewTimer(50 * time.Millisecond)
		<-tm.C
	}
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// targets checks each of ours against the peers measured in the same run.
func targets(results []Result) []Target {
	best, bestP99 := "", 0.0
	hand := -1.0
	for _, r := range results {
		if r.Ours || r.Latency == nil || !r.Latency.Complete {
			continue
		}
		if best == "" || r.Latency.P99MS < bestP99 {
			best, bestP99 = r.Impl, r.Latency.P99MS
		}
		if r.Impl == "hand" {
			hand = r.MemPerSub
		}
	}
	var out []Target
	for _, r := range results {
		if !r.Ours || r.Latency == nil {
			continue
		}
		t := Target{Impl: r.Impl, P99MS: r.Latency.P99MS, BestPeer: best, P99LimitMS: bestP99 / 2, MemPerSub: r.MemPerSub, MemLimit: hand}
		t.P99OK = best != "" && r.Latency.Complete && t.P99MS <= t.P99LimitMS
		t.MemOK = hand >= 0 && t.MemPerSub <= hand
		out = append(out, t)
	}
	return out
}

// table formats the results for people.
func table(o Output) string {
	var b strings.Builder
	m := o.Machine
	fmt.Fprintf(&b, "\nFan-out of one event to %d subscribers: %d events %.0f ms apart; server and clients in separate processes; medians of %d rounds\n",
		o.Subscribers, o.Events, o.IntervalMS, o.Rounds)
	fmt.Fprintf(&b, "%d CPUs (%s), %s, %s\n", m.NProc, m.CPU, m.Go, o.Command)
	fmt.Fprintf(&b, "\n%-13s %8s %8s %8s %8s %21s %10s %8s", "impl", "p50 ms", "p99 ms", "max ms", "cpu ms", "received/expected", "mem B/sub", "gor/sub")
	lv := levels(o.Subscribers)
	for _, l := range slices.Backward(lv) {
		fmt.Fprintf(&b, " %12s", fmt.Sprintf("ev/s@%d", l))
	}
	b.WriteString("\n")
	for _, r := range o.Results {
		fmt.Fprintf(&b, "%-13s", r.Impl)
		if l := r.Latency; l != nil {
			mark := ""
			if !l.Complete {
				mark = " INCOMPLETE"
			}
			fmt.Fprintf(&b, " %8.1f %8.1f %8.1f %8.1f %21s", l.P50MS, l.P99MS, l.MaxMS, l.CPUBoundMS, fmt.Sprintf("%d/%d%s", l.Received, l.Expected, mark))
			fmt.Fprintf(&b, " %10.0f %8.2f", r.MemPerSub, r.GoroutinesPerSub)
		} else {
			fmt.Fprintf(&b, " %8s %8s %8s %8s %21s %10s %8s", "-", "-", "-", "-", "-", "-", "-")
		}
		for _, l := range slices.Backward(lv) {
			cell := "-"
			for _, t := range r.Throughput {
				if t.Subscribers == l {
					cell = fmt.Sprintf("%.0f", t.EventsPerS)
					if !t.Complete {
						cell += "!"
					}
				}
			}
			fmt.Fprintf(&b, " %12s", cell)
		}
		if r.Error != "" {
			fmt.Fprintf(&b, "  ERROR: %s", r.Error)
		}
		b.WriteString("\n")
	}
	b.WriteString("\ncpu ms: server + client CPU time per event / CPUs, the least time a fan-out of that cost can take;\n")
	b.WriteString("mem: server (HeapInuse+StackInuse) growth per subscriber after all connected and GC; gor: goroutines per subscriber;\n")
	b.WriteString("ev/s@k: events/s published as fast as possible until the last of k subscribers received the last (! = incomplete).\n")
	for _, r := range o.Results {
		for _, t := range r.Throughput {
			if t.Subscribers == o.Subscribers && t.Subscribers > 1 {
				fmt.Fprintf(&b, "  %-13s burst of %d events to %d: %.3f s, %.0f deliveries/s\n", r.Impl, t.Events, t.Subscribers, t.Seconds, t.DeliveriesPerS)
			}
		}
	}
	b.WriteString("\nTargets (issue 4):\n")
	for _, t := range o.Targets {
		fmt.Fprintf(&b, "  %-13s p99 %.1f ms vs limit %.1f ms (half of %s): %s; memory %.0f B/sub vs hand-written %.0f: %s\n",
			t.Impl, t.P99MS, t.P99LimitMS, t.BestPeer, verdict(t.P99OK), t.MemPerSub, t.MemLimit, verdict(t.MemOK))
	}
	if t := o.EventLoop; t != nil {
		fmt.Fprintf(&b, "\nTarget (issue 12): ssekit-nbio p99 %.1f ms vs net/http adapter %.1f ms (%.2fx), every event delivered: %v: %s; "+
			"memory %.0f vs %.0f B/sub; subscribers opened at >= %.0f connections/s\n",
			t.P99MS, t.NetHTTPP99MS, t.P99MS/t.NetHTTPP99MS, t.Complete, verdict(t.OK), t.MemPerSub, t.NetHTTPMem, t.ConnectPerS)
	}
	return b.String()
}

func verdict(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}
