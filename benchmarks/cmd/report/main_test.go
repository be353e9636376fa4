package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReport turns a small bench file and load JSON into the table and chart.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	bench := `cpu: Test CPU
BenchmarkEncode/small/ssekit-AppendMessage-2   1000  30.0 ns/op  0 B/op  0 allocs/op
BenchmarkEncode/small/ssekit-AppendMessage-2   1000  40.0 ns/op  0 B/op  0 allocs/op
BenchmarkEncode/small/floor-append-precomputed-2  1000  10.0 ns/op  0 B/op  0 allocs/op
BenchmarkEncode/small/naive-append-2  1000  20.0 ns/op  0 B/op  0 allocs/op
BenchmarkBurst/nethttp-2   1000000  100 ns/op  10000000 events/s
BenchmarkBurst/base-nethttp-2   1000000  1000 ns/op  1000000 events/s
BenchmarkLatency/nethttp-2   500  2000000 ns/op  50000 p50-ns  200000 p99-ns
`
	load := `{"machine":{"nproc":2,"cpu":"Test CPU","go":"go1.x","os":"linux/amd64"},
"idle":{"streams":10,"runs":1,"results":[
 {"subject":"nethttp","heap_per_stream":1100,"stack_per_stream":1000,"goroutines_per_stream":2},
 {"subject":"base-nethttp","heap_per_stream":1000,"stack_per_stream":1000,"goroutines_per_stream":2}]},
"churn":{"cycles":10,"heartbeat":"1s","results":[{"subject":"nethttp","seconds":1,"returned":true,"no_growth":true}]}}`
	bp, lp := filepath.Join(dir, "bench.txt"), filepath.Join(dir, "load.json")
	if err := os.WriteFile(bp, []byte(bench), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lp, []byte(load), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := readBench(bp)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := b.median("Encode/small/ssekit-AppendMessage", "ns/op"); v != 35 {
		t.Errorf("median %v, want 35", v)
	}
	var l loadOutput
	if err := readJSON(lp, &l); err != nil {
		t.Fatal(err)
	}
	var md strings.Builder
	writeMarkdown(&md, b, &l)
	for _, want := range []string{"| 10.00M | 10.0× | 50 µs | 200 µs |", "1.05×", "3.5× the floor"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, md.String())
		}
	}
	if svg := chart(b, &l); !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "10.00M (10.0×)") {
		t.Errorf("chart:\n%s", svg)
	}
}
