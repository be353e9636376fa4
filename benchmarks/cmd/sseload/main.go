// Command sseload measures open streams on real loopback connections: the
// memory each idle stream costs the server, for every ssekit adapter and the
// same framework's own hand-written idle stream, and whether 10,000
// connect/disconnect cycles leave goroutines or heap behind.
//
// Each measurement starts a fresh server process (this same binary with
// -role server), so the server's numbers hold no client memory. Results are
// written as JSON (see -out) for the report command.
//
//	go run ./cmd/sseload -out results/load.json
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ssekit/ssekit/benchmarks/internal/load"
	"github.com/ssekit/ssekit/benchmarks/internal/machine"
	"github.com/ssekit/ssekit/benchmarks/internal/subjects"
)

// Output is the JSON written by sseload.
type Output struct {
	Machine machine.Info `json:"machine"`
	Command string       `json:"command"`
	Idle    *IdleOutput  `json:"idle,omitempty"`
	Churn   *ChurnOutput `json:"churn,omitempty"`
}

// IdleOutput holds the idle-stream measurements.
type IdleOutput struct {
	Streams int          `json:"streams"` // streams measured per run
	Warm    int          `json:"warm"`    // streams open before the first snapshot
	Runs    int          `json:"runs"`
	Results []IdleResult `json:"results"`
}

// IdleResult is one run on one subject: the server's cost per idle stream.
type IdleResult struct {
	Subject        string     `json:"subject"`
	Route          string     `json:"route,omitempty"` // /idle (a Target) or /idle-sub (a broker subscription)
	Name           string     `json:"name"`
	Framework      string     `json:"framework"`
	Adapter        bool       `json:"adapter"`
	Run            int        `json:"run"`
	HeapPerStream  float64    `json:"heap_per_stream"`
	StackPerStream float64    `json:"stack_per_stream"`
	GoroutinesPer  float64    `json:"goroutines_per_stream"`
	Before         load.Stats `json:"before"`
	After          load.Stats `json:"after"`
}

// ChurnOutput holds the churn measurements.
type ChurnOutput struct {
	Cycles    int           `json:"cycles"`
	Heartbeat string        `json:"heartbeat"`
	Results   []ChurnResult `json:"results"`
}

// ChurnResult is one subject's churn run: two rounds of cycles, each followed
// by a wait until the server is back to its state before them.
type ChurnResult struct {
	Subject  string     `json:"subject"`
	Name     string     `json:"name"`
	Before   load.Stats `json:"before"`
	After    load.Stats `json:"after"`     // after the first round
	After2   load.Stats `json:"after2"`    // after the second round
	PeakOpen int        `json:"peak_open"` // streams open at the end of the first round's cycles
	SettleMS int64      `json:"settle_ms"` // first round: from the last cycle until the server was back
	Seconds  float64    `json:"seconds"`   // time the first round's cycles took
	Returned bool       `json:"returned"`  // goroutines and heap back to Before after the first round
	NoGrowth bool       `json:"no_growth"` // goroutines back to Before, heap back to After, after the second round
}

// heapSlack is how far above its baseline the heap may end after churn and
// still count as returned: about 13 bytes per cycle of 10,000 (maps and
// runtime structures grow once to their peak size; the second round is the
// leak check).
const heapSlack = 128 << 10

func main() {
	role := flag.String("role", "client", "client (measures, default) or server (the child process)")
	subject := flag.String("subject", "", "server role: subject ID to serve")
	heartbeat := flag.Duration("heartbeat", 0, "server role: stream loop heartbeat (0: default)")
	streams := flag.Int("streams", 2000, "idle streams per measurement")
	warm := flag.Int("warm", 50, "idle streams opened before the baseline snapshot")
	runs := flag.Int("runs", 3, "idle runs per subject (the report takes medians)")
	cycles := flag.Int("cycles", 10000, "churn connect/disconnect cycles per adapter")
	churnHB := flag.Duration("churn-heartbeat", time.Second, "stream heartbeat during churn: only a fallback, as every adapter (fiber's too, by watching the connection) notices a client that closes at once; it also bounds the wait for the streams to end")
	conc := flag.Int("conc", 32, "concurrent dialers")
	only := flag.String("only", "", "comma-separated subject IDs (default: all relevant)")
	skipIdle := flag.Bool("skip-idle", false, "skip the idle measurement")
	skipChurn := flag.Bool("skip-churn", false, "skip the churn measurement")
	sub := flag.Bool("sub", false, "also measure idle streams that are broker subscriptions (/idle-sub), adapters only")
	out := flag.String("out", "", "write the JSON here (default: stdout)")
	timeout := flag.Duration("timeout", 8*time.Minute, "give up after this long")
	flag.Parse()

	raiseNoFile()
	if *role == "server" {
		if err := load.Serve(*subject, *heartbeat, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "sseload server:", err)
			os.Exit(1)
		}
		return
	}
	deadline := time.Now().Add(*timeout)
	res := Output{Machine: machine.Read(), Command: "sseload " + strings.Join(os.Args[1:], " ")}
	pick := func(ids []string) []subjects.Subject {
		var out []subjects.Subject
		for _, id := range ids {
			if *only != "" && !slices.Contains(strings.Split(*only, ","), id) {
				continue
			}
			s, _ := subjects.Lookup(id)
			out = append(out, s)
		}
		return out
	}
	var adapterIDs, idleIDs []string
	for _, a := range subjects.Adapters() {
		adapterIDs = append(adapterIDs, a.ID)
		for _, id := range []string{a.ID, subjects.IdleBaseline(a).ID} {
			if !slices.Contains(idleIDs, id) { // nbio's baseline is the nethttp adapter
				idleIDs = append(idleIDs, id)
			}
		}
	}
	if !*skipIdle {
		io := &IdleOutput{Streams: *streams, Warm: *warm, Runs: *runs}
		for run := 1; run <= *runs; run++ {
			for _, s := range pick(idleIDs) {
				routes := []string{"/idle"}
				if *sub && s.Adapter {
					routes = append(routes, "/idle-sub")
				}
				for _, route := range routes {
					r, err := idle(s, route, run, *warm, *streams, *conc, deadline)
					if err != nil {
						fatal(fmt.Errorf("idle %s%s run %d: %w", s.ID, route, run, err))
					}
					logf("idle %-14s %-9s run %d: heap %7.0f B/stream, stack %7.0f B/stream, %.2f goroutines/stream",
						s.ID, route, run, r.HeapPerStream, r.StackPerStream, r.GoroutinesPer)
					io.Results = append(io.Results, r)
				}
			}
		}
		res.Idle = io
	}
	if !*skipChurn {
		co := &ChurnOutput{Cycles: *cycles, Heartbeat: churnHB.String()}
		for _, s := range pick(adapterIDs) {
			r, err := churn(s, *cycles, *conc, *churnHB, deadline)
			if err != nil {
				fatal(fmt.Errorf("churn %s: %w", s.ID, err))
			}
			logf("churn %-13s %d cycles in %.1fs (%d open at the end): goroutines %d -> %d -> %d, heap %d -> %d -> %d, settled in %d ms, returned %v, no growth %v",
				s.ID, *cycles, r.Seconds, r.PeakOpen, r.Before.Goroutines, r.After.Goroutines, r.After2.Goroutines,
				r.Before.HeapAlloc, r.After.HeapAlloc, r.After2.HeapAlloc, r.SettleMS, r.Returned, r.NoGrowth)
			co.Results = append(co.Results, r)
		}
		res.Churn = co
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	b = append(b, '\n')
	if *out == "" {
		_, _ = os.Stdout.Write(b)
	} else if err := os.WriteFile(*out, b, 0o644); err != nil {
		fatal(err)
	}
}

// child is a server process.
type child struct {
	cmd *exec.Cmd
	*load.Remote
}

// spawn starts this binary as a server for s.
func spawn(s subjects.Subject, heartbeat time.Duration) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-role", "server", "-subject", s.ID, "-heartbeat", heartbeat.String())
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r, err := load.Connect(in, out, 30*time.Second)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, err
	}
	return &child{cmd: cmd, Remote: r}, nil
}

// stop quits the server, killing it if it does not exit in time.
func (c *child) stop() {
	_ = c.Quit()
	done := make(chan struct{})
	go func() {
		_ = c.cmd.Wait()
		close(done)
	}()
	tm := time.NewTimer(15 * time.Second)
	defer tm.Stop()
	select {
	case <-done:
	case <-tm.C:
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// idle measures the server's cost per idle stream: warm streams are opened
// first, then n more, and the difference between the two snapshots is
// divided by n.
func idle(s subjects.Subject, route string, run, warm, n, conc int, deadline time.Time) (IdleResult, error) {
	r := IdleResult{Subject: s.ID, Route: route, Name: s.Name, Framework: s.Framework, Adapter: s.Adapter, Run: run}
	c, err := spawn(s, 0)
	if err != nil {
		return r, err
	}
	defer c.stop()
	progress := func(done, total int) { logf("idle %s run %d: %d/%d streams open", s.ID, run, done, total) }
	warmConns, err := load.OpenIdlePath(c.Addr, route, warm, conc, deadline, nil)
	if err != nil {
		return r, err
	}
	defer load.CloseAll(warmConns)
	before, ok, err := c.WaitFor(30*time.Second, func(st load.Stats) bool { return st.Open == warm })
	if err != nil || !ok {
		return r, errors.Join(err, fmt.Errorf("%d of %d warm streams open", before.Open, warm))
	}
	conns, err := load.OpenIdlePath(c.Addr, route, n, conc, deadline, progress)
	if err != nil {
		return r, err
	}
	defer load.CloseAll(conns)
	after, ok, err := c.WaitFor(30*time.Second, func(st load.Stats) bool { return st.Open == warm+n })
	if err != nil || !ok {
		return r, errors.Join(err, fmt.Errorf("%d of %d streams open", after.Open, warm+n))
	}
	r.Before, r.After = before, after
	r.HeapPerStream = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
	r.StackPerStream = (float64(after.StackInuse) - float64(before.StackInuse)) / float64(n)
	r.GoroutinesPer = float64(after.Goroutines-before.Goroutines) / float64(n)
	return r, nil
}

// churn runs cycles connect/disconnect cycles and checks that the server
// returns to its state before them.
func churn(s subjects.Subject, cycles, conc int, hb time.Duration, deadline time.Time) (ChurnResult, error) {
	r := ChurnResult{Subject: s.ID, Name: s.Name}
	c, err := spawn(s, hb)
	if err != nil {
		return r, err
	}
	defer c.stop()
	// Warm up, so that pools and worker goroutines exist before the baseline.
	if err := load.Churn(c.Addr, 200, conc, deadline, nil); err != nil {
		return r, err
	}
	before, ok, err := c.WaitFor(4*hb+30*time.Second, func(st load.Stats) bool { return st.Open == 0 })
	if err != nil || !ok {
		return r, errors.Join(err, fmt.Errorf("%d streams still open after warm-up", before.Open))
	}
	r.Before = before
	progress := func(done, total int) { logf("churn %s: %d/%d cycles", s.ID, done, total) }
	back := func(goroutines int, heap uint64) func(load.Stats) bool {
		return func(st load.Stats) bool {
			return st.Open == 0 && st.Goroutines <= goroutines && st.HeapAlloc <= heap+heapSlack
		}
	}
	settle := 4*hb + 40*time.Second
	start := time.Now()
	if err := load.Churn(c.Addr, cycles, conc, deadline, progress); err != nil {
		return r, err
	}
	r.Seconds = time.Since(start).Seconds()
	end := time.Now()
	peak, err := c.Stats()
	if err != nil {
		return r, err
	}
	r.PeakOpen = peak.Open
	// Wait for the streams and goroutines to go, then judge the heap. It may
	// stay above Before for a reason that is not a leak: the runtime never
	// frees goroutine descriptors, so a peak of simultaneous streams leaves
	// them behind; the second round shows whether anything grows.
	noStreams := back(before.Goroutines, ^uint64(0)>>1)
	if _, ok, err := c.WaitFor(settle, noStreams); err != nil || !ok {
		return r, errors.Join(err, errors.New("streams or goroutines did not go after the first round"))
	}
	r.SettleMS = time.Since(end).Milliseconds()
	if r.After, err = c.Stats(); err != nil {
		return r, err
	}
	r.Returned = back(before.Goroutines, before.HeapAlloc)(r.After)
	if err := load.Churn(c.Addr, cycles, conc, deadline, progress); err != nil {
		return r, err
	}
	if _, ok, err := c.WaitFor(settle, noStreams); err != nil || !ok {
		return r, errors.Join(err, errors.New("streams or goroutines did not go after the second round"))
	}
	r.After2, err = c.Stats()
	r.NoGrowth = back(before.Goroutines, max(before.HeapAlloc, r.After.HeapAlloc))(r.After2)
	return r, err
}

// raiseNoFile lifts the open-file limit to its hard maximum.
func raiseNoFile() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

var logOut io.Writer = os.Stderr

func logf(format string, args ...any) {
	fmt.Fprintf(logOut, "sseload: "+format+"\n", args...)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "sseload:", err)
	os.Exit(1)
}
