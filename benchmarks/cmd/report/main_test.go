package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testBench = `cpu: Test CPU
BenchmarkEncode/small/ssekit-AppendMessage-2   1000  30.0 ns/op  0 B/op  0 allocs/op
BenchmarkEncode/small/ssekit-AppendMessage-2   1000  40.0 ns/op  0 B/op  0 allocs/op
BenchmarkEncode/small/floor-append-precomputed-2  1000  10.0 ns/op  0 B/op  0 allocs/op
BenchmarkEncode/small/naive-append-2  1000  20.0 ns/op  0 B/op  0 allocs/op
BenchmarkBurst/nethttp-2   1000000  100 ns/op  10000000 events/s
BenchmarkBurst/base-nethttp-2   1000000  1000 ns/op  1000000 events/s
BenchmarkLatency/nethttp-2   500  2000000 ns/op  50000 p50-ns  200000 p99-ns  300000 p99.9-ns
BenchmarkLatency/base-direct-2   500  2000000 ns/op  10000 p50-ns  100000 p99-ns  150000 p99.9-ns
`

const testLoad = `{"machine":{"nproc":2,"cpu":"Test CPU","go":"go1.x","os":"linux/amd64"},
"idle":{"streams":10,"runs":1,"results":[
 {"subject":"nethttp","heap_per_stream":1100,"stack_per_stream":1000,"goroutines_per_stream":2},
 {"subject":"base-nethttp","heap_per_stream":1000,"stack_per_stream":1000,"goroutines_per_stream":2}]},
"churn":{"cycles":10,"heartbeat":"1s","results":[{"subject":"nethttp","seconds":1,"returned":true,"no_growth":true}]}}`

// testFanout has the shape fanout -json writes: r3labs (the fastest peer)
// lost events, so the best peer for latency is the hand-written broadcast
// (p99 400 ms, limit 200 ms); ssekit meets both targets, ssekit-redis misses
// both.
const testFanout = `{"machine":{"nproc":2,"cpu":"Test CPU","go":"go1.x","os":"linux/amd64"},
"command":"fanout -n 10000 -json x","subscribers":10000,"events":20,"interval_ms":300,"rounds":3,
"results":[
 {"impl":"ssekit","name":"ssekit broker (memory) + net/http","ours":true,
  "latency":{"p50_ms":40,"p99_ms":150,"max_ms":180,"received":600000,"expected":600000,"complete":true,"cpu_bound_ms":35},
  "mem_per_sub":8192,"goroutines_per_sub":2,
  "throughput":[
   {"subscribers":10000,"events":20,"events_per_s":50,"deliveries_per_s":500000,"received":200000,"expected":200000,"complete":true},
   {"subscribers":100,"events":1000,"events_per_s":20000,"deliveries_per_s":2000000,"received":100000,"expected":100000,"complete":true},
   {"subscribers":1,"events":1000,"events_per_s":400000,"deliveries_per_s":400000,"received":1000,"expected":1000,"complete":true}]},
 {"impl":"ssekit-redis","name":"ssekit broker (Redis) + net/http","ours":true,"error":"round 2: boom",
  "latency":{"p50_ms":90,"p99_ms":450,"max_ms":500,"received":599000,"expected":600000,"complete":false,"cpu_bound_ms":40},
  "mem_per_sub":20480,"goroutines_per_sub":2,
  "throughput":[{"subscribers":10000,"events":20,"events_per_s":10,"deliveries_per_s":100000,"received":100,"expected":200000,"complete":false}]},
 {"impl":"gosse","name":"go-sse","latency":{"p50_ms":100,"p99_ms":1200,"max_ms":1300,"received":600000,"expected":600000,"complete":true},
  "mem_per_sub":16384,"goroutines_per_sub":2,
  "throughput":[{"subscribers":10000,"events":20,"events_per_s":25,"deliveries_per_s":250000,"received":200000,"expected":200000,"complete":true}]},
 {"impl":"r3labs","name":"r3labs","latency":{"p50_ms":60,"p99_ms":250,"max_ms":300,"received":500000,"expected":600000,"complete":false},
  "mem_per_sub":15360,"goroutines_per_sub":3},
 {"impl":"hand","name":"hand-written broadcast","latency":{"p50_ms":80,"p99_ms":400,"max_ms":450,"received":600000,"expected":600000,"complete":true},
  "mem_per_sub":16000,"goroutines_per_sub":3,
  "throughput":[
   {"subscribers":10000,"events":20,"events_per_s":40,"deliveries_per_s":400000,"received":200000,"expected":200000,"complete":true},
   {"subscribers":100,"events":1000,"events_per_s":10000,"deliveries_per_s":1000000,"received":100000,"expected":100000,"complete":true}]}],
"targets":[
 {"impl":"ssekit","p99_ms":150,"p99_limit_ms":200,"best_peer":"hand","p99_ok":true,"mem_per_sub":8192,"mem_limit":16000,"mem_ok":true},
 {"impl":"ssekit-redis","p99_ms":450,"p99_limit_ms":200,"best_peer":"hand","p99_ok":false,"mem_per_sub":20480,"mem_limit":16000,"mem_ok":false}],
"runs":[]}`

// writeInputs writes the test inputs to dir and returns their paths; a
// fanout of "" writes no fanout file.
func writeInputs(t *testing.T, fanout string) (bench, load, fan string) {
	t.Helper()
	dir := t.TempDir()
	bench, load, fan = filepath.Join(dir, "bench.txt"), filepath.Join(dir, "load.json"), filepath.Join(dir, "fanout.json")
	files := map[string]string{bench: testBench, load: testLoad}
	if fanout != "" {
		files[fan] = fanout
	}
	for p, s := range files {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return bench, load, fan
}

func report(t *testing.T, in *inputs) (md, svg string) {
	t.Helper()
	var b strings.Builder
	writeMarkdown(&b, in)
	return b.String(), chart(in)
}

func wantAll(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// TestReport turns a small bench file and load JSON into the table and
// chart; without a fanout file there is no fan-out section.
func TestReport(t *testing.T) {
	bp, lp, fp := writeInputs(t, "")
	in, err := readInputs(bp, lp, fp, "")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := in.bench.median("Encode/small/ssekit-AppendMessage", "ns/op"); v != 35 {
		t.Errorf("median %v, want 35", v)
	}
	if in.fanout != nil {
		t.Error("a fanout result without a fanout file")
	}
	md, svg := report(t, in)
	wantAll(t, "table", md, "| 10.00M | 10.0× | 50 µs | 200 µs | 300 µs | 5.00× | 2.00× |",
		"within 1.2× of the direct write: **missed**", "1.05×", "3.5× the floor", "*Settled in*")
	if strings.Contains(md, "Fan-out") || strings.Contains(md, "load average") {
		t.Errorf("table has a fan-out section or a load average it was not given:\n%s", md)
	}
	if !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "10.00M (10.0×)") || strings.Contains(svg, "Fan-out") {
		t.Errorf("chart:\n%s", svg)
	}
}

// TestReportFanout adds fanout's JSON: latency, memory and throughput per
// implementation with ratios to the best peer, and issue 4's targets.
func TestReportFanout(t *testing.T) {
	bp, lp, fp := writeInputs(t, testFanout)
	in, err := readInputs(bp, lp, fp, " 0.12 0.34 0.56\n")
	if err != nil {
		t.Fatal(err)
	}
	if in.fanout == nil || len(in.fanout.Results) != 5 {
		t.Fatalf("fanout results %+v", in.fanout)
	}
	p99, p99Impl, mem, tput := in.fanout.bestPeers()
	if p99 != 400 || p99Impl != "hand" || mem != 15360 || tput[10000] != 40 || tput[100] != 10000 || tput[1] != 0 {
		t.Errorf("best peers: p99 %v (%s), mem %v, throughput %v; want 400 (hand), 15360, 40 and 10000 at 10000 and 100, none at 1",
			p99, p99Impl, mem, tput)
	}
	md, svg := report(t, in)
	wantAll(t, "table", md,
		"(load average 0.12, 0.34, 0.56 over 1, 5 and 15 minutes when it started)",
		"fan-out medians of 3 rounds of `fanout`", "`fanout.json`",
		"**Fan-out to 10,000 subscribers** (`fanout -n 10000`",
		"20 events 300 ms apart",
		// latency and memory: p99 150/400, memory 8192/15360
		"| **ssekit broker (memory) + net/http** | 40.0 ms | 150 ms | 180 ms | yes | 0.38× | 35.0 ms | 8.0 KiB | 0.53× | 2.00 |",
		"| **no** (599000 of 600000) |",
		"| r3labs | 60.0 ms | 250 ms | 300 ms | **no** (500000 of 600000) | 0.62× |",
		"| hand-written broadcast | 80.0 ms | 400 ms | 450 ms | yes | 1.00× |",
		// throughput, fewest subscribers first
		"| implementation | 1 subscriber (1000 events): events/s | 100 subscribers (1000 events): events/s | deliveries/s | 10,000 subscribers (20 events): events/s | deliveries/s |",
		"| **ssekit broker (memory) + net/http** | 400k (–) | 20.0k (2.00×) | 2.00M | 50 (1.25×) | 500k |",
		"| 10, **incomplete** (100 of 200000) | 100k |",
		"| r3labs | – | – | – | – | – |",
		"Failed: ssekit broker (Redis) + net/http: round 2: boom.",
		// targets
		"(best: hand-written broadcast, 400 ms; limit 200 ms)",
		"ssekit broker (memory) + net/http 150 ms (0.38× the best peer's) — **met**",
		"ssekit broker (Redis) + net/http 450 ms (1.12× the best peer's) — **missed**",
		"no more than the hand-written broadcast's (15.6 KiB)",
		"ssekit broker (memory) + net/http 8.0 KiB (0.51× the hand-written one's) — **met**",
		"ssekit broker (Redis) + net/http 20.0 KiB (1.28× the hand-written one's) — **missed**",
	)
	wantAll(t, "chart", svg,
		"Fan-out to 10,000 subscribers: p99 delivery latency",
		"150 ms (p50 40.0 ms)", "450 ms (p50 90.0 ms) (incomplete)",
		"target: half the best peer&#39;s p99, 200 ms",
		">8.0 KiB<", ">ssekit broker (Redis)<", "target: the hand-written broadcast&#39;s, 15.6 KiB",
	)
}

// TestReportFanoutNoPeer checks the target lines when no peer delivered
// every event and there is no hand-written result.
func TestReportFanoutNoPeer(t *testing.T) {
	bp, lp, fp := writeInputs(t, `{"machine":{"nproc":2},"subscribers":10,"events":2,"interval_ms":10,"rounds":1,
"results":[{"impl":"ssekit","name":"ssekit","ours":true,"latency":{"p99_ms":5,"complete":true},"mem_per_sub":100}],
"targets":[{"impl":"ssekit","p99_ms":5,"p99_limit_ms":0,"best_peer":"","p99_ok":false,"mem_per_sub":100,"mem_limit":-1,"mem_ok":false}]}`)
	in, err := readInputs(bp, lp, fp, "")
	if err != nil {
		t.Fatal(err)
	}
	md, _ := report(t, in)
	wantAll(t, "table", md, "**Fan-out to 10 subscribers**",
		"ssekit 5.00 ms, no peer delivered every event to compare with — **not checked**",
		"ssekit 100 B, no hand-written result to compare with — **not checked**")
}

// TestFmtCount checks the thousands separators.
func TestFmtCount(t *testing.T) {
	for n, want := range map[int]string{1: "1", 100: "100", 1000: "1,000", 10000: "10,000", 1234567: "1,234,567"} {
		if got := fmtCount(n); got != want {
			t.Errorf("fmtCount(%d) = %q, want %q", n, got, want)
		}
	}
}
