package interop

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"
)

// fasthttpGlobals are fasthttp's process-wide goroutines, started once by a
// package-level sync.Once and never stopped: the Date header refresher
// (serverDateOnce in header.go) and the compression workers
// (stacklessWriteGzipOnce in compress.go and its siblings).
var fasthttpGlobals = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	goleak.IgnoreTopFunction("github.com/valyala/fasthttp/stackless.funcWorker"),
}

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	// Every run is mostly waiting (on a client, a reconnection delay, a
	// linger); the clients' own limits bound the work. Unless -parallel was
	// given, let many wait at once instead of GOMAXPROCS.
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", "64")
	}
	goleak.VerifyTestMain(stopAfter{m}, fasthttpGlobals...)
}

// stopAfter runs the tests, then stops the client runner (and Chromium)
// before goleak looks.
type stopAfter struct{ m *testing.M }

func (s stopAfter) Run() int {
	code := s.m.Run()
	if err := stopRunner(); err != nil {
		fmt.Fprintf(os.Stderr, "interop: stopping the client runner: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// knownMismatches lists runs that fail today because of ssekit, keyed by
// "case", "case/adapter" or "case/adapter/client", with the reason. A listed
// run that fails is reported as skipped with its failures; one that passes
// fails the test, so that the list shrinks as fixes land.
var knownMismatches = map[string]string{}

func knownMismatch(c, a, cl string) string {
	for _, k := range []string{c + "/" + a + "/" + cl, c + "/" + a, c} {
		if r, ok := knownMismatches[k]; ok {
			return r
		}
	}
	return ""
}

// TestInterop runs every case for every adapter and client, as subtests
// TestInterop/<adapter>/<case>/<client>, and logs the pass matrix (and
// writes it to SSEKIT_INTEROP_MATRIX, if set) once they have all finished.
func TestInterop(t *testing.T) {
	all, err := cases()
	if err != nil {
		t.Fatal(err)
	}
	for k := range knownMismatches {
		name, _, _ := strings.Cut(k, "/")
		if !slices.ContainsFunc(all, func(c testCase) bool { return c.name == name }) {
			t.Errorf("knownMismatches names %q: no such case", k)
		}
	}
	r := getRunner(t)
	m := &matrix{cells: map[[3]string]outcome{}, versions: r.versions}
	start := time.Now()
	t.Cleanup(func() { // after every subtest
		m.elapsed = time.Since(start)
		text := m.markdown(all)
		t.Logf("interop pass matrix:\n%s", text)
		if path := os.Getenv("SSEKIT_INTEROP_MATRIX"); path != "" {
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Errorf("writing SSEKIT_INTEROP_MATRIX: %v", err)
			} else {
				t.Logf("matrix written to %s", path)
			}
		}
	})
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range all {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					for _, cl := range clients {
						if notApplicableTo(c, cl) != "" {
							m.set(a.name, c.name, cl, outNA) // the matrix notes say why
							continue
						}
						t.Run(cl, func(t *testing.T) {
							t.Parallel()
							runOne(t, r, m, a, c, cl)
						})
					}
				})
			}
		})
	}
}

// notApplicableTo returns why case c cannot run with client cl, or "".
func notApplicableTo(c testCase, cl string) string {
	switch {
	case c.run == nil:
		return c.note
	case c.notFor != nil:
		return c.notFor(cl)
	}
	return ""
}

// runOne runs one case for one adapter and one client, and records the
// outcome in the matrix.
func runOne(t *testing.T, r *runner, m *matrix, a adapter, c testCase, cl string) {
	limit := limits[cl]
	limit <- struct{}{}
	defer func() { <-limit }()
	j := &job{adapter: a, client: cl, runner: r}
	c.run(j)
	known := knownMismatch(c.name, a.name, cl)
	switch {
	case len(j.problems) == 0 && known != "":
		m.set(a.name, c.name, cl, outFailed)
		t.Errorf("passed, but listed in knownMismatches (%s): remove it from the list", known)
	case len(j.problems) == 0:
		m.set(a.name, c.name, cl, outPassed)
	case known != "":
		m.set(a.name, c.name, cl, outKnown)
		t.Skipf("known mismatch (%s), failed as expected:\n%s", known, strings.Join(j.problems, "\n"))
	default:
		m.set(a.name, c.name, cl, outFailed)
		for _, p := range j.problems {
			t.Error(p)
		}
	}
}

// outcome is one cell of the matrix.
type outcome int

const (
	outNotRun outcome = iota
	outPassed
	outFailed
	outKnown
	outNA
)

var marks = map[outcome]string{outNotRun: " ", outPassed: "✓", outFailed: "✗", outKnown: "⚠", outNA: "–"}

// matrix collects outcomes by adapter, case and client.
type matrix struct {
	mu       sync.Mutex
	cells    map[[3]string]outcome
	versions map[string]string
	elapsed  time.Duration
}

func (m *matrix) set(a, c, cl string, o outcome) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cells[[3]string{a, c, cl}] = o
}

// markdown renders the matrix: a row per case, a column per adapter, and in
// each cell one mark per client.
func (m *matrix) markdown(all []testCase) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	v := m.versions
	fmt.Fprintf(&b, "Clients, in each cell's order: npm eventsource %s and undici %s EventSource (Node.js %s), "+
		"Chromium %s EventSource (driven by playwright-core %s).\n", v["eventsource"], v["undici"], v["node"], v["chromium"], v["playwright-core"])
	b.WriteString("Columns ending in -h2: the same adapter over HTTP/2 with TLS (the server offers only h2 by ALPN and checks " +
		"that every request arrived over HTTP/2; the Node.js clients use an undici Agent with allowH2 that trusts the test " +
		"certificate, Chromium trusts its key with --ignore-certificate-errors-spki-list). fasthttp (Fiber) has no HTTP/2.\n")
	b.WriteString("✓ pass, ✗ fail, ⚠ known mismatch (see below), – not applicable (see the notes); blank: not run.\n\n")
	b.WriteString("| case |")
	for _, a := range adapters {
		fmt.Fprintf(&b, " %s |", a.name)
	}
	b.WriteString("\n|---|")
	for range adapters {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	count := map[outcome]int{}
	for _, c := range all {
		fmt.Fprintf(&b, "| %s |", c.name)
		for _, a := range adapters {
			var cell []string
			for _, cl := range clients {
				o := m.cells[[3]string{a.name, c.name, cl}]
				count[o]++
				cell = append(cell, marks[o])
			}
			fmt.Fprintf(&b, " %s |", strings.Join(cell, " "))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\n%d runs: %d passed, %d failed, %d known mismatches, %d not applicable, %d not run; %v in all.\n",
		len(all)*len(adapters)*len(clients), count[outPassed], count[outFailed], count[outKnown], count[outNA], count[outNotRun],
		m.elapsed.Round(100*time.Millisecond))
	b.WriteString("\nNotes:\n")
	for _, c := range all {
		if c.note != "" {
			fmt.Fprintf(&b, "- %s: %s\n", c.name, c.note)
		}
	}
	if len(knownMismatches) > 0 {
		b.WriteString("\nKnown mismatches:\n")
		for _, k := range slices.Sorted(maps.Keys(knownMismatches)) {
			fmt.Fprintf(&b, "- %s: %s\n", k, knownMismatches[k])
		}
	}
	return b.String()
}
