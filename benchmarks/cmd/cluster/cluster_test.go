package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ssekit/ssekit/benchmarks/internal/sseresp"
)

// TestMain runs a role instead of the tests when the test binary is started
// as a child (a server instance or a client process) by the code under
// test.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "cluster child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<22; v += 1 + v/100 {
		i := bucketOf(v)
		if i < prev {
			t.Fatalf("bucketOf(%d) = %d, below bucketOf of a smaller value (%d)", v, i, prev)
		}
		prev = i
		lo, w := bucketRange(i)
		if v < lo || v >= lo+w {
			t.Fatalf("%d in bucket %d = [%d, %d)", v, i, lo, lo+w)
		}
		if v >= histLinear && float64(w)/float64(lo) > 1.0/histSub+1e-9 {
			t.Fatalf("bucket %d is %d wide at %d: more than 1/%d", i, w, lo, histSub)
		}
	}
	if got := bucketOf(math.MaxUint64); got != histBuckets-1 {
		t.Fatalf("bucketOf(max) = %d; want the last bucket %d", got, histBuckets-1)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var a, b hist
	for i := 1; i <= 1000; i++ { // 1 ms to 1 s, half in each histogram
		h := &a
		if i%2 == 0 {
			h = &b
		}
		h.add(int64(i) * int64(time.Millisecond))
	}
	h := histCounts{}
	h.merge(a.snapshot())
	h.merge(b.snapshot())
	if h.total() != 1000 {
		t.Fatalf("total %d; want 1000", h.total())
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 500}, {0.99, 990}, {0.01, 10}} {
		if got := h.quantile(c.q); math.Abs(got-c.want)/c.want > 0.035 {
			t.Errorf("quantile(%v) = %.2f ms; want %.0f ms within 3.5%%", c.q, got, c.want)
		}
	}
	if got := h.maxMS(); got < 1000 || got > 1035 {
		t.Errorf("max %.2f ms; want 1000 ms within 3.5%%", got)
	}
	if got := (histCounts{}).quantile(0.5); got != 0 {
		t.Errorf("empty quantile %v; want 0", got)
	}
}

func TestSeqSet(t *testing.T) {
	var s seqSet
	for _, v := range []int{0, 63, 64, 1000, 5} {
		if !s.add(v) {
			t.Fatalf("add(%d) not new", v)
		}
	}
	if s.add(64) {
		t.Fatal("add(64) twice reported new")
	}
	if s.has(6) || s.has(-1) || s.has(100000) || !s.has(1000) {
		t.Fatal("has: wrong membership")
	}
	var got []int
	s.each(func(v int) { got = append(got, v) })
	if fmt.Sprint(got) != "[0 5 63 64 1000]" {
		t.Fatalf("each: %v", got)
	}
}

func TestVerifyStream(t *testing.T) {
	pub := published{
		Acked:  [][2]int{{0, 1}, {1, 1}, {2, 2}, {3, 3}, {5, 3}},
		Failed: [][2]int{{4, 3}, {6, 3}},
	}
	got := func(seqs ...int) *seqSet {
		var s seqSet
		for _, v := range seqs {
			s.add(v)
		}
		return &s
	}
	// Everything acknowledged, one failed publish delivered anyway, and an
	// event nobody published.
	var out [maxPhases]tally
	verifyStream(got(0, 1, 2, 3, 4, 5, 9), pub, false, &out)
	want := [maxPhases]tally{
		{Phantom: 1},
		{Expected: 2, Received: 2},
		{Expected: 1, Received: 1},
		{Expected: 2, Received: 2, Unacked: 1},
	}
	if out != want {
		t.Fatalf("got %+v; want %+v", out, want)
	}
	// Missing 1 and 5: silent without a reset, signalled with one.
	out = [maxPhases]tally{}
	verifyStream(got(0, 2, 3), pub, false, &out)
	if out[1].LostSilent != 1 || out[3].LostSilent != 1 || out[1].LostSignalled+out[3].LostSignalled != 0 {
		t.Fatalf("silent losses: %+v", out)
	}
	out = [maxPhases]tally{}
	verifyStream(got(0, 2, 3), pub, true, &out)
	if out[1].LostSignalled != 1 || out[3].LostSignalled != 1 || out[1].LostSilent+out[3].LostSilent != 0 {
		t.Fatalf("signalled losses: %+v", out)
	}
}

func TestParseData(t *testing.T) {
	ph, topic, seq, stamp, ok := parseData([]byte("3 17 42 1712345678901234567"))
	if !ok || ph != 3 || topic != 17 || seq != 42 || stamp != 1712345678901234567 {
		t.Fatalf("got %d %d %d %d %v", ph, topic, seq, stamp, ok)
	}
	for _, bad := range []string{"", "1 2 3", "1 2 3 4 5", "a 2 3 4", "1 -2 3 4", "1 2 3 99999999999999999999", "1 2 3 4 "} {
		if _, _, _, _, ok := parseData([]byte(bad)); ok {
			t.Errorf("parseData(%q) accepted", bad)
		}
	}
}

// TestParser feeds a stream's wire lines through the parser and checks
// what the stream and the process recorded: ids, the reset signal, retry,
// duplicates, events of another topic, latencies.
func TestParser(t *testing.T) {
	c := &clients{}
	s := &stream{topic: 7, maxSeq: -1}
	p := parser{s: s, c: c}
	stamp := time.Now().UnixNano()
	body := fmt.Sprintf("retry: 1500\n\n: heartbeat\n\nevent: ssekit-reset\ndata: \n\n"+
		"id: 10-0\ndata: 1 7 0 %[1]d\n\nid: 11-0\ndata: 1 7 1 %[1]d\n\nid: 11-0\ndata: 1 7 1 %[1]d\n\n"+
		"id: 12-0\ndata: 2 8 2 %[1]d\n\ndata: garbage\n\nid: 13-0\ndata: 2 7 5 %[1]d\n", stamp)
	var lb sseresp.LineBuf
	for i := 0; i < len(body); i += 7 { // in pieces, as reads come
		lb.Feed([]byte(body[i:min(i+7, len(body))]), p.line)
	}
	if p.complete {
		t.Error("an event without its blank line counted as complete")
	}
	lb.Feed([]byte("\n"), p.line)
	if !p.complete {
		t.Error("complete event not marked complete")
	}
	if s.retry != 1500*time.Millisecond || s.resets != 1 || s.lastID != "13-0" || s.maxSeq != 5 {
		t.Fatalf("stream: retry %v, resets %d, last id %q, max seq %d", s.retry, s.resets, s.lastID, s.maxSeq)
	}
	if !s.got.has(0) || !s.got.has(1) || s.got.has(2) || !s.got.has(5) {
		t.Fatal("wrong sequence numbers recorded")
	}
	if c.dups[1].Load() != 1 || c.misrouted.Load() != 1 || c.received[1].Load() != 3 || c.received[2].Load() != 1 {
		t.Fatalf("dups %d, misrouted %d, received %d/%d", c.dups[1].Load(), c.misrouted.Load(), c.received[1].Load(), c.received[2].Load())
	}
	if n := histCounts(c.hist[1].snapshot()).total(); n != 2 {
		t.Fatalf("%d latencies in phase 1; want 2 (not the duplicate)", n)
	}
}

func TestFlags(t *testing.T) {
	if got, err := parseTopologies("cluster, single,cluster"); err != nil || fmt.Sprint(got) != "[cluster single]" {
		t.Errorf("parseTopologies: %v %v", got, err)
	}
	for _, bad := range []string{"", "sentinel", ","} {
		if _, err := parseTopologies(bad); err == nil {
			t.Errorf("parseTopologies(%q) accepted", bad)
		}
	}
	if got, err := parseLevels("1, 100,10000"); err != nil || fmt.Sprint(got) != "[1 100 10000]" {
		t.Errorf("parseLevels: %v %v", got, err)
	}
	for _, bad := range []string{"", "0", "1,x", "-5"} {
		if _, err := parseLevels(bad); err == nil {
			t.Errorf("parseLevels(%q) accepted", bad)
		}
	}
	ok := config{Adapter: "nethttp", Instances: 4, Subscribers: 40000, Topics: 100, Rate: 50, Workers: 4, ConnRate: 3000, Srcs: 1,
		Steady: time.Second, KillPhase: time.Second, RedisPhase: time.Second}
	c := ok
	if err := c.check(); err != nil || c.ClientProcs != 4 {
		t.Errorf("check: %v, %d client processes; want 4", err, c.ClientProcs)
	}
	for name, mut := range map[string]func(*config){
		"adapter":       func(c *config) { c.Adapter = "fiber" },
		"instances":     func(c *config) { c.Instances = 0 },
		"per instance":  func(c *config) { c.Instances = 2 },
		"per process":   func(c *config) { c.ClientProcs = 2 },
		"rate":          func(c *config) { c.Rate = 0 },
		"srcs":          func(c *config) { c.Srcs = 300 },
		"steady":        func(c *config) { c.Steady = 0 },
		"ceiling setup": func(c *config) { c.Ceiling = []int{10} },
	} {
		c := ok
		mut(&c)
		if err := c.check(); err == nil {
			t.Errorf("%s: accepted %+v", name, c)
		}
	}
	if err := run([]string{"-redis", "sentinel"}, nil, nil); err == nil {
		t.Error("run accepted -redis sentinel")
	}
}

// TestSmoke runs a tiny deployment end to end on Redis processes of its
// own, on each adapter: a single node, 2 instances, 200 subscribers, both
// kills; every subscriber must get every acknowledged event exactly once.
func TestSmoke(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed: this test starts its own Redis (Debian's redis-server package; scripts/with-services installs it)")
	}
	for _, a := range []string{"nethttp", "nbio"} {
		t.Run(a, func(t *testing.T) { smoke(t, a) })
	}
}

func smoke(t *testing.T, adapter string) {
	defer goleak.VerifyNone(t)
	t.Setenv("GORACE", "atexit_sleep_ms=0") // children exit at once under -race
	cfg := config{Adapter: adapter, Topologies: []string{"single"}, Instances: 2, Subscribers: 200, Topics: 10, Rate: 40, Workers: 2,
		ConnRate: 2000, Srcs: 1, Steady: 2 * time.Second, KillPhase: 3 * time.Second, RedisPhase: 3 * time.Second,
		Timeout: 2 * time.Minute, Log: t.Logf}
	if err := cfg.check(); err != nil {
		t.Fatal(err)
	}
	o := measure(cfg)
	if err := o.failure(); err != nil {
		t.Fatal(err)
	}
	if len(o.Runs) != 1 || len(o.Runs[0].Phases) != 3 {
		t.Fatalf("runs %+v; want one run of three phases", o.Runs)
	}
	r := o.Runs[0]
	for _, p := range r.Phases {
		if !p.Complete || p.Published == 0 || p.Expected != int64(p.Published)*20 || p.P50MS <= 0 || p.P99MS < p.P50MS {
			t.Errorf("%s: %+v; want every one of its events received by the 20 subscribers of its topic", p.Name, p)
		}
	}
	if k := r.Phases[1]; k.Recovery <= 0 || k.Reconnects < 100 {
		t.Errorf("instance kill: recovery %.2fs, %d reconnections; want the killed instance's 100 subscribers back", k.Recovery, k.Reconnects)
	}
	if k := r.Phases[2]; k.OutageMS <= 0 {
		t.Errorf("Redis kill: outage %.0f ms; want it measured", k.OutageMS)
	}
	if r.Deliveries == 0 || r.ServerUSPerDelivery <= 0 || r.RedisCmdsPerEvent < 1 || r.RedisCmds["evalsha"] < 0.99 {
		t.Errorf("costs: %d deliveries, %.1f µs, %.1f commands per event (%v)", r.Deliveries, r.ServerUSPerDelivery, r.RedisCmdsPerEvent, r.RedisCmds)
	}
	md := markdown(o)
	if !strings.Contains(md, "| single | steady |") || !strings.Contains(chart(o), "</svg>") {
		t.Errorf("report incomplete:\n%s", md)
	}
}
