// Command report turns the benchmark results into the Markdown table for
// README.md and an SVG chart: it reads the `go test -bench` output (any
// -count; medians are taken), the JSON written by sseload and, when the file
// exists, the JSON written by fanout.
//
//	go run ./cmd/report -bench results/bench.txt -load results/load.json \
//		-fanout results/fanout.json -md results/table.md -svg results/chart.svg
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"io/fs"
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
	directTarget  = 1.2 // lone-event p50 and p99 within 1.2x of the direct write
	directBase    = "base-direct"
)

func main() {
	benchPath := flag.String("bench", "results/bench.txt", "go test -bench output")
	loadPath := flag.String("load", "results/load.json", "sseload JSON output")
	fanoutPath := flag.String("fanout", "results/fanout.json", "fanout JSON output (skipped when the file does not exist)")
	loadAvg := flag.String("loadavg", "", "the load average when the run started (1, 5 and 15 minutes), for the machine line")
	mdPath := flag.String("md", "results/table.md", "Markdown table to write")
	svgPath := flag.String("svg", "results/chart.svg", "SVG chart to write")
	flag.Parse()

	in, err := readInputs(*benchPath, *loadPath, *fanoutPath, *loadAvg)
	if err != nil {
		fatal(err)
	}
	var md strings.Builder
	writeMarkdown(&md, in)
	if err := os.WriteFile(*mdPath, []byte(md.String()), 0o644); err != nil {
		fatal(err)
	}
	if err := os.WriteFile(*svgPath, []byte(chart(in)), 0o644); err != nil {
		fatal(err)
	}
}

// inputs is everything the report is made from.
type inputs struct {
	bench   *benchResults
	load    *loadOutput
	fanout  *fanoutOutput // nil: no fan-out section
	loadAvg string        // "" when not given
}

// readInputs reads the bench output, the sseload JSON and, when fanoutPath is
// not empty and the file exists, the fanout JSON.
func readInputs(benchPath, loadPath, fanoutPath, loadAvg string) (*inputs, error) {
	in := &inputs{loadAvg: strings.TrimSpace(loadAvg), load: new(loadOutput)}
	var err error
	if in.bench, err = readBench(benchPath); err != nil {
		return nil, err
	}
	if err := readJSON(loadPath, in.load); err != nil {
		return nil, err
	}
	if fanoutPath != "" {
		in.fanout = new(fanoutOutput)
		if err := readJSON(fanoutPath, in.fanout); errors.Is(err, fs.ErrNotExist) {
			in.fanout = nil
		} else if err != nil {
			return nil, err
		}
	}
	return in, nil
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
			Route   string  `json:"route"` // "" or /idle: a Target; /idle-sub: a broker subscription
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

// idleMedians returns the median heap, stack and goroutines per idle stream
// (a Target) of a subject.
func (l *loadOutput) idleMedians(id string) (heap, stack, gor float64, ok bool) {
	return l.idleRouteMedians(id, "/idle")
}

// idleRouteMedians is idleMedians on a route: /idle (a Target) or /idle-sub
// (a broker subscription).
func (l *loadOutput) idleRouteMedians(id, route string) (heap, stack, gor float64, ok bool) {
	if l.Idle == nil {
		return 0, 0, 0, false
	}
	var h, s, g []float64
	for _, r := range l.Idle.Results {
		if r.Subject == id && (r.Route == route || r.Route == "" && route == "/idle") {
			h, s, g = append(h, r.Heap), append(s, r.Stack), append(g, r.Gor)
		}
	}
	if len(h) == 0 {
		return 0, 0, 0, false
	}
	return median(h), median(s), median(g), true
}

// fanoutOutput is the JSON written by fanout (the fields the report uses).
type fanoutOutput struct {
	Machine     machine.Info   `json:"machine"`
	Command     string         `json:"command"`
	Subscribers int            `json:"subscribers"`
	Events      int            `json:"events"`
	IntervalMS  float64        `json:"interval_ms"`
	Rounds      int            `json:"rounds"`
	Results     []fanoutResult `json:"results"`
	Targets     []fanoutTarget `json:"targets"`
}

// fanoutResult is one implementation's medians over the rounds.
type fanoutResult struct {
	Impl             string         `json:"impl"`
	Name             string         `json:"name"`
	Ours             bool           `json:"ours"`
	Error            string         `json:"error"`
	Latency          *fanoutLatency `json:"latency"`
	MemPerSub        float64        `json:"mem_per_sub"`
	GoroutinesPerSub float64        `json:"goroutines_per_sub"`
	Throughput       []fanoutBurst  `json:"throughput"`
}

type fanoutLatency struct {
	P50MS      float64 `json:"p50_ms"`
	P99MS      float64 `json:"p99_ms"`
	MaxMS      float64 `json:"max_ms"`
	Received   int64   `json:"received"`
	Expected   int64   `json:"expected"`
	Complete   bool    `json:"complete"`
	CPUBoundMS float64 `json:"cpu_bound_ms"`
}

type fanoutBurst struct {
	Subscribers    int     `json:"subscribers"`
	Events         int     `json:"events"`
	EventsPerS     float64 `json:"events_per_s"`
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	Received       int64   `json:"received"`
	Expected       int64   `json:"expected"`
	Complete       bool    `json:"complete"`
}

// fanoutTarget is fanout's own check of one of ours against issue 4's
// targets.
type fanoutTarget struct {
	Impl       string  `json:"impl"`
	P99MS      float64 `json:"p99_ms"`
	P99LimitMS float64 `json:"p99_limit_ms"`
	BestPeer   string  `json:"best_peer"`
	P99OK      bool    `json:"p99_ok"`
	MemPerSub  float64 `json:"mem_per_sub"`
	MemLimit   float64 `json:"mem_limit"`
	MemOK      bool    `json:"mem_ok"`
}

// result returns the result of impl id, or nil.
func (f *fanoutOutput) result(id string) *fanoutResult {
	for i := range f.Results {
		if f.Results[i].Impl == id {
			return &f.Results[i]
		}
	}
	return nil
}

// burst returns r's throughput burst to subs subscribers, or nil.
func (r *fanoutResult) burst(subs int) *fanoutBurst {
	for i := range r.Throughput {
		if r.Throughput[i].Subscribers == subs {
			return &r.Throughput[i]
		}
	}
	return nil
}

// levels returns the subscriber counts of the throughput bursts measured,
// fewest first.
func (f *fanoutOutput) levels() []int {
	var l []int
	for _, r := range f.Results {
		for _, t := range r.Throughput {
			if !slices.Contains(l, t.Subscribers) {
				l = append(l, t.Subscribers)
			}
		}
	}
	slices.Sort(l)
	return l
}

// bestPeers returns the best of the peers (not ours): the lowest p99 among
// those that delivered every event of the latency phase, the least memory
// per subscriber, and the most events/s of a complete burst to each level.
// A zero value (or "" name) means no peer qualified.
func (f *fanoutOutput) bestPeers() (p99 float64, p99Impl string, mem float64, tput map[int]float64) {
	tput = map[int]float64{}
	for _, r := range f.Results {
		if r.Ours || r.Latency == nil {
			continue
		}
		if r.Latency.Complete && (p99Impl == "" || r.Latency.P99MS < p99) {
			p99, p99Impl = r.Latency.P99MS, r.Impl
		}
		if mem == 0 || r.MemPerSub < mem {
			mem = r.MemPerSub
		}
		for _, t := range r.Throughput {
			if t.Complete && t.EventsPerS > tput[t.Subscribers] {
				tput[t.Subscribers] = t.EventsPerS
			}
		}
	}
	return p99, p99Impl, mem, tput
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
	case v >= 1e5:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.2fk", v/1e3)
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

func writeMarkdown(w io.Writer, in *inputs) {
	b, l, f := in.bench, in.load, in.fanout
	m := l.Machine
	if m.NProc == 0 {
		m = machine.Read()
	}
	loadAvg, fanRuns, fanRaw := "", "", ""
	if in.loadAvg != "" {
		loadAvg = fmt.Sprintf(" (load average %s over 1, 5 and 15 minutes when it started)", strings.Join(strings.Fields(in.loadAvg), ", "))
	}
	if f != nil {
		fanRuns = fmt.Sprintf(", fan-out medians of %s of `fanout`", plural(f.Rounds, "round"))
		fanRaw = ", `fanout.json`"
	}
	fmt.Fprintf(w, "Measured on %d CPUs (`nproc`), %s, %s, %s (kernel %s), all in one run of "+
		"`bash benchmarks/run.sh`%s: `go test -bench` medians of %d runs, idle memory medians of %d runs of "+
		"`sseload`%s, loopback (127.0.0.1) only. Raw output: `benchmarks/results/bench.txt`, `benchstat.txt`, `load.json`%s.\n\n",
		m.NProc, m.CPU, m.Go, m.OS, m.Kernel, loadAvg, b.count, idleRuns(l), fanRuns, fanRaw)

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
		"events sent 2 ms apart (%d per run), measured by the client with the sender's monotonic timestamp; "+
		"*× direct* compares with the handler whose producer writes each event itself, with no hand-off "+
		"to another goroutine (the floor).\n\n",
		b.iters["Burst/"+burstBaseline], b.iters["Latency/"+burstBaseline])
	fmt.Fprintf(w, "| server | burst events/s | × hand-written net/http | lone p50 | lone p99 | lone p99.9 | p50 × direct | p99 × direct |\n"+
		"|---|---:|---:|---:|---:|---:|---:|---:|\n")
	burstOK, latOK, directOK := true, true, true
	d50, _ := b.median("Latency/"+directBase, "p50-ns")
	d99, _ := b.median("Latency/"+directBase, "p99-ns")
	for _, s := range subjects.All {
		eps, _ := b.median("Burst/"+s.ID, "events/s")
		p50, _ := b.median("Latency/"+s.ID, "p50-ns")
		p99, _ := b.median("Latency/"+s.ID, "p99-ns")
		p999, _ := b.median("Latency/"+s.ID, "p99.9-ns")
		name := s.Name
		if s.Adapter {
			name = "**" + name + "**"
			burstOK = burstOK && eps/base >= burstTarget
			latOK = latOK && p99 < p99Target
			directOK = directOK && d50 > 0 && p50/d50 <= directTarget && p99/d99 <= directTarget
		}
		fmt.Fprintf(w, "| %s | %s | %.1f× | %s | %s | %s | %s | %s |\n", name, fmtRate(eps), eps/base,
			fmtNs(p50), fmtNs(p99), fmtNs(p999), ratio(p50, d50), ratio(p99, d99))
	}
	fmt.Fprintf(w, "\nTargets: every adapter at least %.0f× the hand-written handler on bursts: %s; "+
		"lone-event p99 under 1 ms: %s; lone-event p50 and p99 within %.1f× of the direct write: %s.\n\n",
		burstTarget, verdict(burstOK), verdict(latOK), directTarget, verdict(directOK))

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
		writeEventLoopIdle(w, l)
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
		fmt.Fprintf(w, "\n*Settled in*: from the last cycle until no stream is open and the server's goroutines are back to their count before the cycles. "+
			"fasthttp keeps idle worker goroutines until a sweep, every 10 s, drops those idle for over 10 s, so Fiber's figure is that sweep "+
			"(up to 20 s), not its streams: those end as soon as the client closes (*streams open after the cycles*).\n\n")
	}

	if f != nil {
		writeFanout(w, f)
	}
}

// Event-loop targets: memory per idle stream on the nbio adapter.
const (
	evloopMaxBytes  = 4 << 10 // at most 4 KiB per idle stream
	evloopVsNetHTTP = 6       // at least 6x less than the net/http adapter
)

// writeEventLoopIdle writes the idle cost of a Target and of a broker
// subscription on the event-loop adapter beside the net/http adapter's, when
// sseload measured them (-sub).
func writeEventLoopIdle(w io.Writer, l *loadOutput) {
	if _, _, _, ok := l.idleMedians("nbio"); !ok {
		return
	}
	fmt.Fprintf(w, "**Event loop: memory per idle stream** (`sseload -sub`: a Target on /idle, a broker subscription on /idle-sub), "+
		"ssekit nbio (no goroutine per stream) against the net/http adapter in the same run.\n\n")
	fmt.Fprintf(w, "| stream | nbio: heap + stack | goroutines | net/http adapter | × less |\n|---|---:|---:|---:|---:|\n")
	ok := true
	for _, rt := range []struct{ route, name string }{{"/idle", "Target"}, {"/idle-sub", "broker subscription"}} {
		h, st, g, ok1 := l.idleRouteMedians("nbio", rt.route)
		bh, bst, _, ok2 := l.idleRouteMedians("nethttp", rt.route)
		if !ok1 || !ok2 {
			continue
		}
		less := (bh + bst) / (h + st)
		ok = ok && h+st <= evloopMaxBytes && less >= evloopVsNetHTTP
		fmt.Fprintf(w, "| %s | %s | %.2f | %s | %.1f× |\n", rt.name, fmtBytes(h+st), g, fmtBytes(bh+bst), less)
	}
	fmt.Fprintf(w, "\nTarget (at most %s per idle stream, at least %d× less than the net/http adapter): %s.\n\n",
		fmtBytes(evloopMaxBytes), evloopVsNetHTTP, verdict(ok))
}

// fmtMS formats a latency in milliseconds.
func fmtMS(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v >= 1000:
		return fmt.Sprintf("%.2f s", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

// fmtCount formats a subscriber count with thousands separators.
func fmtCount(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// plural formats n things.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// ratio formats v/best, or "–" without a best.
func ratio(v, best float64) string {
	if best == 0 || math.IsNaN(v) || math.IsNaN(best) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v/best)
}

// writeFanout writes the fan-out section: latency and memory, throughput,
// and issue 4's targets as fanout checked them.
func writeFanout(w io.Writer, f *fanoutOutput) {
	n := fmtCount(f.Subscribers)
	fmt.Fprintf(w, "**Fan-out to %s subscribers** (`fanout -n %d`: ssekit's broker, in memory and on Redis, served through its net/http adapter, "+
		"against go-sse's `Server`, r3labs/sse's `Server` and a hand-written broadcast with a goroutine and a channel per subscriber; "+
		"for each implementation a fresh server process and a fresh process of %s raw loopback clients, both on the same %d CPUs; medians of %s). "+
		"*Latency*: %d events %.0f ms apart, each stamped with the server's clock just before it is published and read against the client's clock on receipt, "+
		"over every (subscriber, event) pair. *Memory*: the server's HeapInuse + StackInuse after GC, growth per subscriber once all are connected. "+
		"*CPU floor*: server and client CPU time per event divided by the CPUs, the least time a fan-out of that cost can take here. "+
		"*Best peer*: the best of go-sse, r3labs and the hand-written broadcast (for latency, among those that delivered every event).\n\n",
		n, f.Subscribers, n, f.Machine.NProc, plural(f.Rounds, "round"), f.Events, f.IntervalMS)
	bestP99, _, bestMem, bestTput := f.bestPeers()
	fmt.Fprintf(w, "| implementation | p50 | p99 | max | every event delivered | p99 × best peer | CPU floor | memory / subscriber | × best peer | goroutines / subscriber |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|\n")
	var failed []string
	for _, r := range f.Results {
		name := r.Name
		if r.Ours {
			name = "**" + name + "**"
		}
		if r.Error != "" {
			failed = append(failed, fmt.Sprintf("%s: %s", r.Name, r.Error))
		}
		l := r.Latency
		if l == nil {
			fmt.Fprintf(w, "| %s | – | – | – | **failed** | – | – | – | – | – |\n", name)
			continue
		}
		done := "yes"
		if !l.Complete {
			done = fmt.Sprintf("**no** (%d of %d)", l.Received, l.Expected)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f |\n", name,
			fmtMS(l.P50MS), fmtMS(l.P99MS), fmtMS(l.MaxMS), done, ratio(l.P99MS, bestP99), fmtMS(l.CPUBoundMS),
			fmtBytes(r.MemPerSub), ratio(r.MemPerSub, bestMem), r.GoroutinesPerSub)
	}
	fmt.Fprintln(w)

	lv := f.levels()
	if len(lv) > 0 {
		fmt.Fprintf(w, "Publish throughput: a burst of events published as fast as the publisher can, timed from the first publish until the last subscriber "+
			"received the last event; events/s (× the best peer's), and deliveries/s (events × subscribers).\n\n")
		fmt.Fprintf(w, "| implementation |")
		for _, subs := range lv {
			k := 0
			for _, r := range f.Results {
				if t := r.burst(subs); t != nil {
					k = max(k, t.Events)
				}
			}
			unit := "subscribers"
			if subs == 1 {
				unit = "subscriber"
			}
			fmt.Fprintf(w, " %s %s (%d events): events/s |", fmtCount(subs), unit, k)
			if subs > 1 {
				fmt.Fprintf(w, " deliveries/s |")
			}
		}
		fmt.Fprintf(w, "\n|---|")
		for _, subs := range lv {
			fmt.Fprintf(w, "---:|")
			if subs > 1 {
				fmt.Fprintf(w, "---:|")
			}
		}
		fmt.Fprintln(w)
		for _, r := range f.Results {
			name := r.Name
			if r.Ours {
				name = "**" + name + "**"
			}
			fmt.Fprintf(w, "| %s |", name)
			for _, subs := range lv {
				t := r.burst(subs)
				switch {
				case t == nil:
					fmt.Fprintf(w, " – |")
				case !t.Complete:
					fmt.Fprintf(w, " %s, **incomplete** (%d of %d) |", fmtRate(t.EventsPerS), t.Received, t.Expected)
				default:
					fmt.Fprintf(w, " %s (%s) |", fmtRate(t.EventsPerS), ratio(t.EventsPerS, bestTput[subs]))
				}
				if subs > 1 {
					if t == nil {
						fmt.Fprintf(w, " – |")
					} else {
						fmt.Fprintf(w, " %s |", fmtRate(t.DeliveriesPerS))
					}
				}
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
	for _, e := range failed {
		fmt.Fprintf(w, "Failed: %s.\n\n", e)
	}

	// The targets, as fanout checked them in the same run.
	fmt.Fprintf(w, "Targets (issue 4), each of ours against the peers of the same run: ")
	if len(f.Targets) == 0 {
		fmt.Fprintf(w, "not checked (no result of ours) — **missed**.\n\n")
		return
	}
	var p99s, mems []string
	for _, t := range f.Targets {
		name := t.Impl
		if r := f.result(t.Impl); r != nil {
			name = r.Name
		}
		if t.BestPeer == "" {
			p99s = append(p99s, fmt.Sprintf("%s %s, no peer delivered every event to compare with — **not checked**", name, fmtMS(t.P99MS)))
		} else {
			p99s = append(p99s, fmt.Sprintf("%s %s (%s the best peer's) — %s", name, fmtMS(t.P99MS), ratio(t.P99MS, 2*t.P99LimitMS), verdict(t.P99OK)))
		}
		if t.MemLimit < 0 {
			mems = append(mems, fmt.Sprintf("%s %s, no hand-written result to compare with — **not checked**", name, fmtBytes(t.MemPerSub)))
		} else {
			mems = append(mems, fmt.Sprintf("%s %s (%s the hand-written one's) — %s", name, fmtBytes(t.MemPerSub), ratio(t.MemPerSub, t.MemLimit), verdict(t.MemOK)))
		}
	}
	limit := ""
	if t := f.Targets[0]; t.BestPeer != "" {
		peer := t.BestPeer
		if r := f.result(peer); r != nil {
			peer = r.Name
		}
		limit = fmt.Sprintf(" (best: %s, %s; limit %s)", peer, fmtMS(2*t.P99LimitMS), fmtMS(t.P99LimitMS))
	}
	memLimit := ""
	if t := f.Targets[0]; t.MemLimit >= 0 {
		memLimit = fmt.Sprintf(" (%s)", fmtBytes(t.MemLimit))
	}
	fmt.Fprintf(w, "p99 at most half the best p99 of go-sse, r3labs and the hand-written broadcast%s: %s. "+
		"Memory per subscriber no more than the hand-written broadcast's%s: %s.\n\n",
		limit, strings.Join(p99s, "; "), memLimit, strings.Join(mems, "; "))
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

// barRow is one bar of a chart panel.
type barRow struct {
	label string
	value float64
	text  string // printed after the bar
	ours  bool   // drawn in blue, the rest in grey
	space bool   // a little space before this row
}

// fanoutShort names the fan-out implementations in the chart.
var fanoutShort = map[string]string{
	"ssekit":       "ssekit broker (memory)",
	"ssekit-redis": "ssekit broker (Redis)",
	"ssekit-nbio":  "ssekit broker (memory), nbio",
	"gosse":        "go-sse Server",
	"r3labs":       "r3labs/sse Server",
	"hand":         "hand-written broadcast",
}

// chart draws bar panels: burst events/s (relative to the hand-written
// handler), memory per idle stream (adapter vs the framework's own) and, with
// fan-out results, the p99 delivery latency and the memory per subscriber of
// the fan-out to every subscriber, each with its target as a dashed line.
func chart(in *inputs) string {
	const width, left, right, barH, gap = 760, 250, 170, 16, 6
	b, l, f := in.bench, in.load, in.fanout
	y := 30
	var body strings.Builder
	text := func(x, y int, anchor, weight, t string) {
		fmt.Fprintf(&body, `<text x="%d" y="%d" text-anchor="%s" font-weight="%s">%s</text>`+"\n", x, y, anchor, weight, html.EscapeString(t))
	}
	// panel draws rows under a title, scaled to the largest value (and the
	// limit, when there is one: a dashed line labelled limitText).
	panel := func(title string, rows []barRow, limit float64, limitText string) {
		if len(rows) == 0 {
			return
		}
		if y > 30 {
			y += 24
		}
		text(10, y, "start", "bold", title)
		y += 12
		top := limit
		for _, r := range rows {
			if !math.IsNaN(r.value) {
				top = math.Max(top, r.value)
			}
		}
		scale := float64(width-left-right) / top
		y0 := y
		for _, r := range rows {
			if r.space {
				y += 4
			}
			color := "#9aa5b1"
			if r.ours {
				color = "#2b6cb0"
			}
			v := r.value
			if math.IsNaN(v) {
				v = 0
			}
			text(left-8, y+12, "end", "normal", r.label)
			fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y, math.Max(v*scale, 1), barH, color)
			text(left+int(v*scale)+6, y+12, "start", "normal", r.text)
			y += barH + gap
		}
		if limit > 0 {
			x := float64(left) + limit*scale
			fmt.Fprintf(&body, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#c53030" stroke-width="1.5" stroke-dasharray="4 3"/>`+"\n", x, y0-4, x, y)
			y += 12
			if x < width-300 {
				text(int(x)+4, y, "start", "normal", limitText)
			} else {
				text(int(x)-4, y, "end", "normal", limitText)
			}
		}
	}

	// Panel 1: burst.
	base, _ := b.median("Burst/"+burstBaseline, "events/s")
	var rows []barRow
	for _, sj := range subjects.All {
		v, ok := b.median("Burst/"+sj.ID, "events/s")
		if !ok {
			continue
		}
		rows = append(rows, barRow{label: sj.Name, value: v, text: fmt.Sprintf("%s (%.1f×)", fmtRate(v), v/base), ours: sj.Adapter})
	}
	panel("Burst: events/s on one stream (× hand-written net/http handler)", rows, 0, "")

	// Panel 2: idle memory.
	if l.Idle != nil {
		rows = nil
		for _, a := range subjects.Adapters() {
			for i, sj := range []subjects.Subject{a, subjects.IdleBaseline(a)} {
				h, st, _, ok := l.idleMedians(sj.ID)
				if !ok {
					continue
				}
				r := barRow{label: sj.Name, value: h + st, text: fmtBytes(h + st), ours: i == 0, space: i == 0 && len(rows) > 0}
				if i == 1 {
					r.label = sj.Framework + " own idle stream"
				}
				rows = append(rows, r)
			}
		}
		panel("Memory per idle stream (heap + stack): adapter vs the framework's own", rows, 0, "")
	}

	// Panels 3 and 4: fan-out.
	if f != nil {
		n := fmtCount(f.Subscribers)
		var lat, mem []barRow
		var p99Limit, memLimit float64
		for _, t := range f.Targets {
			if t.BestPeer != "" {
				p99Limit = t.P99LimitMS
			}
			if t.MemLimit > 0 {
				memLimit = t.MemLimit
			}
		}
		for _, r := range f.Results {
			if r.Latency == nil {
				continue
			}
			note := ""
			if !r.Latency.Complete {
				note = " (incomplete)"
			}
			label := r.Name
			if short, ok := fanoutShort[r.Impl]; ok {
				label = short
			}
			lat = append(lat, barRow{label: label, value: r.Latency.P99MS, ours: r.Ours,
				text: fmt.Sprintf("%s (p50 %s)%s", fmtMS(r.Latency.P99MS), fmtMS(r.Latency.P50MS), note)})
			mem = append(mem, barRow{label: label, value: r.MemPerSub, ours: r.Ours, text: fmtBytes(r.MemPerSub)})
		}
		panel("Fan-out to "+n+" subscribers: p99 delivery latency", lat, p99Limit, "target: half the best peer's p99, "+fmtMS(p99Limit))
		panel("Fan-out to "+n+" subscribers: server memory per subscriber", mem, memLimit, "target: the hand-written broadcast's, "+fmtBytes(memLimit))
	}

	y += 10
	var s strings.Builder
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, y, width, y)
	fmt.Fprintf(&s, `<rect width="100%%" height="100%%" fill="#fff"/>`+"\n")
	s.WriteString(body.String())
	s.WriteString("</svg>\n")
	return s.String()
}
