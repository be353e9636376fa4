// Command report turns the benchmark results into the Markdown table for
// README.md and an SVG chart: it reads the `go test -bench` output (any
// -count; medians are taken) and the JSON written by sseload.
//
//	go run ./cmd/report -bench results/bench.txt -load results/load.json \
//		-md results/table.md -svg results/chart.svg
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ssekit/ssekit/benchmarks/internal/machine"
	"github.com/ssekit/ssekit/benchmarks/internal/subjects"
)

// The targets of the design (§5).
const (
	encodeTarget  = 1.3  // encoder within 1.3x of a plain append
	burstTarget   = 25.0 // every adapter at least 25x the hand-written handler
	p99Target     = 1e6  // lone-event p99 under 1 ms, in ns
	idleTarget    = 1.2  // idle stream at most 1.2x the framework's own
	burstBaseline = "base-nethttp"
)

func main() {
	benchPath := flag.String("bench", "results/bench.txt", "go test -bench output")
	loadPath := flag.String("load", "results/load.json", "sseload JSON output")
	mdPath := flag.String("md", "results/table.md", "Markdown table to write")
	svgPath := flag.String("svg", "results/chart.svg", "SVG chart to write")
	flag.Parse()

	bench, err := readBench(*benchPath)
	if err != nil {
		fatal(err)
	}
	var ld loadOutput
	if err := readJSON(*loadPath, &ld); err != nil {
		fatal(err)
	}
	var md strings.Builder
	writeMarkdown(&md, bench, &ld)
	if err := os.WriteFile(*mdPath, []byte(md.String()), 0o644); err != nil {
		fatal(err)
	}
	if err := os.WriteFile(*svgPath, []byte(chart(bench, &ld)), 0o644); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "report:", err)
	os.Exit(1)
}

// ---- inputs ----

// benchResults maps a benchmark name (without the -GOMAXPROCS suffix) and a
// unit to every value measured.
type benchResults struct {
	vals  map[string]map[string][]float64
	count int            // the largest number of runs of any benchmark
	iters map[string]int // b.N of a benchmark's last run
	cpu   string
}

var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+(\d+)\s+(.+)$`)

func readBench(path string) (*benchResults, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &benchResults{vals: map[string]map[string][]float64{}, iters: map[string]int{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if cpu, ok := strings.CutPrefix(line, "cpu: "); ok {
			r.cpu = cpu
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		r.iters[m[1]], _ = strconv.Atoi(m[2])
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			if r.vals[m[1]] == nil {
				r.vals[m[1]] = map[string][]float64{}
			}
			r.vals[m[1]][f[i+1]] = append(r.vals[m[1]][f[i+1]], v)
			r.count = max(r.count, len(r.vals[m[1]][f[i+1]]))
		}
	}
	return r, sc.Err()
}

// readJSON reads the JSON file at path into v.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// median returns the median of name's values in unit, and whether any.
func (r *benchResults) median(name, unit string) (float64, bool) {
	v := r.vals[name][unit]
	if len(v) == 0 {
		return math.NaN(), false
	}
	return median(v), true
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

type stats struct {
	HeapAlloc  float64 `json:"heap_alloc"`
	StackInuse float64 `json:"stack_inuse"`
	Goroutines int     `json:"goroutines"`
	Open       int     `json:"open"`
}

type loadOutput struct {
	Machine machine.Info `json:"machine"`
	Command string       `json:"command"`
	Idle    *struct {
		Streams int `json:"streams"`
		Runs    int `json:"runs"`
		Results []struct {
			Subject string  `json:"subject"`
			Heap    float64 `json:"heap_per_stream"`
			Stack   float64 `json:"stack_per_stream"`
			Gor     float64 `json:"goroutines_per_stream"`
		} `json:"results"`
	} `json:"idle"`
	Churn *struct {
		Cycles    int    `json:"cycles"`
		Heartbeat string `json:"heartbeat"`
		Results   []struct {
			Subject  string  `json:"subject"`
			Before   stats   `json:"before"`
			After    stats   `json:"after"`
			After2   stats   `json:"after2"`
			PeakOpen int     `json:"peak_open"`
			SettleMS int64   `json:"settle_ms"`
			Seconds  float64 `json:"seconds"`
			Returned bool    `json:"returned"`
			NoGrowth bool    `json:"no_growth"`
		} `json:"results"`
	} `json:"churn"`
}

// idleMedians returns the median heap, stack and goroutines per stream of a
// subject.
func (l *loadOutput) idleMedians(id string) (heap, stack, gor float64, ok bool) {
	if l.Idle == nil {
		return 0, 0, 0, false
	}
	var h, s, g []float64
	for _, r := range l.Idle.Results {
		if r.Subject == id {
			h, s, g = append(h, r.Heap), append(s, r.Stack), append(g, r.Gor)
		}
	}
	if len(h) == 0 {
		return 0, 0, 0, false
	}
	return median(h), median(s), median(g), true
}

// ---- Markdown ----

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**missed**"
}

func fmtRate(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func fmtNs(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0f µs", v/1e3)
	}
	return fmt.Sprintf("%.0f ns", v)
}

func fmtBytes(v float64) string {
	if math.Abs(v) >= 1024 {
		return fmt.Sprintf("%.1f KiB", v/1024)
	}
	return fmt.Sprintf("%.0f B", v)
}

func writeMarkdown(w io.Writer, b *benchResults, l *loadOutput) {
	m := l.Machine
	if m.NProc == 0 {
		m = machine.Read()
	}
	fmt.Fprintf(w, "Measured on %d CPUs (`nproc`), %s, %s, %s (kernel %s), all in one run of "+
		"`bash benchmarks/run.sh`: `go test -bench` medians of %d runs, idle memory medians of %d runs of "+
		"`sseload`, loopback (127.0.0.1) only. Raw output: `benchmarks/results/bench.txt`, `benchstat.txt`, `load.json`.\n\n",
		m.NProc, m.CPU, m.Go, m.OS, m.Kernel, b.count, idleRuns(l))

	// Encoding.
	fmt.Fprintf(w, "**Encoding one event** (`go test -bench Encode -benchmem`; ns/op, allocs/op). "+
		"*floor*: `append` of the precomputed wire bytes; *naive*: plain appends with no validation.\n\n")
	fmt.Fprintf(w, "| encoder | small: ns/op | allocs | × floor | × naive | 1 KiB, 16 lines: ns/op | allocs | × floor | × naive |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	encs := []struct{ id, name string }{
		{"ssekit-AppendMessage", "ssekit `core.AppendMessage`"},
		{"ssekit-WriteTo", "ssekit `Message.WriteTo`"},
		{"gin-contrib-sse-Encode", "gin-contrib/sse `Encode`"},
		{"go-sse-Message-WriteTo", "go-sse `Message.WriteTo`"},
		{"naive-append", "naive append encoder"},
		{"floor-append-precomputed", "floor: append of precomputed bytes"},
	}
	for _, e := range encs {
		fmt.Fprintf(w, "| %s", e.name)
		for _, c := range []string{"small", "1KiB-16lines"} {
			ns, _ := b.median("Encode/"+c+"/"+e.id, "ns/op")
			al, _ := b.median("Encode/"+c+"/"+e.id, "allocs/op")
			fl, _ := b.median("Encode/"+c+"/floor-append-precomputed", "ns/op")
			nv, _ := b.median("Encode/"+c+"/naive-append", "ns/op")
			fmt.Fprintf(w, " | %.0f | %.0f | %.1f× | %.1f×", ns, al, ns/fl, ns/nv)
		}
		fmt.Fprintln(w, " |")
	}
	fmt.Fprintln(w)
	var encNotes []string
	for _, c := range []string{"small", "1KiB-16lines"} {
		ns, _ := b.median("Encode/"+c+"/ssekit-AppendMessage", "ns/op")
		al, _ := b.median("Encode/"+c+"/ssekit-AppendMessage", "allocs/op")
		fl, _ := b.median("Encode/"+c+"/floor-append-precomputed", "ns/op")
		nv, _ := b.median("Encode/"+c+"/naive-append", "ns/op")
		encNotes = append(encNotes, fmt.Sprintf("%s: %.0f allocs, %.1f× the floor, %.1f× the naive encoder", c, al, ns/fl, ns/nv))
	}
	fmt.Fprintf(w, "Target (0 allocs/op, within %.1f× of a plain append): %s — %s.\n\n",
		encodeTarget, strings.Join(encNotes, "; "), verdict(encodeMet(b)))

	// Burst and latency.
	base, _ := b.median("Burst/"+burstBaseline, "events/s")
	fmt.Fprintf(w, "**One stream** (`go test -bench 'Burst|Latency'`): *burst* is events/s read by a raw loopback client "+
		"from a stream fed as fast as the server allows (%d events per run); *lone* is the delivery latency of "+
		"events sent 2 ms apart (%d per run), measured by the client with the sender's monotonic timestamp.\n\n",
		b.iters["Burst/"+burstBaseline], b.iters["Latency/"+burstBaseline])
	fmt.Fprintf(w, "| server | burst events/s | × hand-written net/http | lone p50 | lone p99 |\n|---|---:|---:|---:|---:|\n")
	burstOK, latOK := true, true
	for _, s := range subjects.All {
		eps, _ := b.median("Burst/"+s.ID, "events/s")
		p50, _ := b.median("Latency/"+s.ID, "p50-ns")
		p99, _ := b.median("Latency/"+s.ID, "p99-ns")
		name := s.Name
		if s.Adapter {
			name = "**" + name + "**"
			burstOK = burstOK && eps/base >= burstTarget
			latOK = latOK && p99 < p99Target
		}
		fmt.Fprintf(w, "| %s | %s | %.1f× | %s | %s |\n", name, fmtRate(eps), eps/base, fmtNs(p50), fmtNs(p99))
	}
	fmt.Fprintf(w, "\nTargets: every adapter at least %.0f× the hand-written handler on bursts: %s; "+
		"lone-event p99 under 1 ms: %s.\n\n", burstTarget, verdict(burstOK), verdict(latOK))

	// Idle.
	if l.Idle != nil {
		fmt.Fprintf(w, "**Memory per idle stream** (`sseload`: %d streams opened on a server in its own process; "+
			"HeapAlloc and StackInuse after GC, difference divided by the streams), against the same framework's own idle stream "+
			"(headers written and flushed, then blocked on the request's context; for Fiber a fasthttp body stream writer blocked on a channel).\n\n",
			l.Idle.Streams)
		fmt.Fprintf(w, "| adapter | heap | stack | goroutines | total | framework's own | total | × own |\n|---|---:|---:|---:|---:|---|---:|---:|\n")
		idleOK := true
		for _, a := range subjects.Adapters() {
			bs := subjects.IdleBaseline(a)
			h, s, g, ok1 := l.idleMedians(a.ID)
			bh, bsk, bg, ok2 := l.idleMedians(bs.ID)
			if !ok1 || !ok2 {
				continue
			}
			ratio := (h + s) / (bh + bsk)
			idleOK = idleOK && ratio <= idleTarget
			fmt.Fprintf(w, "| %s | %s | %s | %.1f | %s | %s (%s heap, %s stack, %.1f goroutines) | %s | %.2f× |\n",
				a.Name, fmtBytes(h), fmtBytes(s), g, fmtBytes(h+s), bs.Name, fmtBytes(bh), fmtBytes(bsk), bg, fmtBytes(bh+bsk), ratio)
		}
		fmt.Fprintf(w, "\nTarget (at most %.1f× the framework's own idle stream): %s.\n\n", idleTarget, verdict(idleOK))
	}

	// Churn.
	if l.Churn != nil {
		fmt.Fprintf(w, "**Churn** (`sseload`: %d connect / read headers / disconnect cycles, 32 at a time, twice; heartbeat %s; "+
			"server goroutines and HeapAlloc after GC, once every stream has ended).\n\n", l.Churn.Cycles, l.Churn.Heartbeat)
		fmt.Fprintf(w, "| adapter | cycles/s | streams open after the cycles | goroutines before → after → after 2nd round | heap before → after → after 2nd round | settled in | back to baseline | no growth |\n")
		fmt.Fprintf(w, "|---|---:|---:|---|---|---:|---|---|\n")
		for _, r := range l.Churn.Results {
			s, _ := subjects.Lookup(r.Subject)
			fmt.Fprintf(w, "| %s | %.0f | %d | %d → %d → %d | %s → %s → %s | %.1f s | %s | %s |\n",
				s.Name, float64(l.Churn.Cycles)/r.Seconds, r.PeakOpen,
				r.Before.Goroutines, r.After.Goroutines, r.After2.Goroutines,
				fmtBytes(r.Before.HeapAlloc), fmtBytes(r.After.HeapAlloc), fmtBytes(r.After2.HeapAlloc),
				float64(r.SettleMS)/1000, yesNo(r.Returned), yesNo(r.NoGrowth))
		}
		fmt.Fprintln(w)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

func idleRuns(l *loadOutput) int {
	if l.Idle == nil {
		return 0
	}
	return l.Idle.Runs
}

func encodeMet(b *benchResults) bool {
	for _, c := range []string{"small", "1KiB-16lines"} {
		ns, _ := b.median("Encode/"+c+"/ssekit-AppendMessage", "ns/op")
		al, _ := b.median("Encode/"+c+"/ssekit-AppendMessage", "allocs/op")
		fl, _ := b.median("Encode/"+c+"/floor-append-precomputed", "ns/op")
		if al != 0 || !(ns/fl <= encodeTarget) {
			return false
		}
	}
	return true
}

// ---- SVG ----

// chart draws two bar panels: burst events/s (relative to the hand-written
// handler) and memory per idle stream (adapter vs the framework's own).
func chart(b *benchResults, l *loadOutput) string {
	const width, left, barH, gap = 720, 250, 16, 6
	var s strings.Builder
	y := 30
	var body strings.Builder
	text := func(x, y int, anchor, weight, t string) {
		fmt.Fprintf(&body, `<text x="%d" y="%d" text-anchor="%s" font-weight="%s">%s</text>`+"\n", x, y, anchor, weight, html.EscapeString(t))
	}
	bar := func(y int, w float64, color string) {
		fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y, math.Max(w, 1), barH, color)
	}
	// Panel 1: burst.
	text(10, y, "start", "bold", "Burst: events/s on one stream (× hand-written net/http handler)")
	y += 12
	base, _ := b.median("Burst/"+burstBaseline, "events/s")
	var top float64
	for _, sj := range subjects.All {
		v, _ := b.median("Burst/"+sj.ID, "events/s")
		if !math.IsNaN(v) {
			top = math.Max(top, v)
		}
	}
	scale := float64(width-left-110) / top
	for _, sj := range subjects.All {
		v, ok := b.median("Burst/"+sj.ID, "events/s")
		if !ok {
			continue
		}
		color := "#9aa5b1"
		if sj.Adapter {
			color = "#2b6cb0"
		}
		text(left-8, y+12, "end", "normal", sj.Name)
		bar(y, v*scale, color)
		text(left+int(v*scale)+6, y+12, "start", "normal", fmt.Sprintf("%s (%.1f×)", fmtRate(v), v/base))
		y += barH + gap
	}
	// Panel 2: idle memory.
	if l.Idle != nil {
		y += 24
		text(10, y, "start", "bold", "Memory per idle stream (heap + stack): adapter vs the framework's own")
		y += 12
		var top float64
		for _, sj := range subjects.All {
			h, st, _, ok := l.idleMedians(sj.ID)
			if ok {
				top = math.Max(top, h+st)
			}
		}
		scale := float64(width-left-110) / top
		for _, a := range subjects.Adapters() {
			for i, sj := range []subjects.Subject{a, subjects.IdleBaseline(a)} {
				h, st, _, ok := l.idleMedians(sj.ID)
				if !ok {
					continue
				}
				color := "#2b6cb0"
				label := sj.Name
				if i == 1 {
					color, label = "#9aa5b1", sj.Framework+" own idle stream"
				}
				text(left-8, y+12, "end", "normal", label)
				bar(y, (h+st)*scale, color)
				text(left+int((h+st)*scale)+6, y+12, "start", "normal", fmtBytes(h+st))
				y += barH + gap
			}
			y += 4
		}
	}
	y += 10
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, y, width, y)
	fmt.Fprintf(&s, `<rect width="100%%" height="100%%" fill="#fff"/>`+"\n")
	s.WriteString(body.String())
	s.WriteString("</svg>\n")
	return s.String()
}
