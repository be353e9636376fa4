package conformance_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
)

// synthetic returns scenarios that fail, pass or skip in every way a
// scenario can, counting their runs in ran. leaked is closed by the caller
// to end the goroutine the "leaks" scenario leaves behind.
func synthetic(ran *atomic.Int32, leaked <-chan struct{}) []conformance.Scenario {
	s := func(name string, serial bool, run func(t testing.TB)) conformance.Scenario {
		return conformance.Scenario{Name: name, Doc: "synthetic", Serial: serial, Run: func(t testing.TB, _ *conformance.Env) {
			ran.Add(1)
			run(t)
		}}
	}
	return []conformance.Scenario{
		s("passes", false, func(testing.TB) {}),
		s("fatals", false, func(t testing.TB) {
			t.Fatalf("fatal")
			panic("not reached: Fatalf ends the scenario")
		}),
		s("errors", false, func(t testing.TB) { t.Errorf("error") }),
		s("fails-in-cleanup", false, func(t testing.TB) { t.Cleanup(func() { t.Fatal("cleanup") }) }),
		s("panics", false, func(testing.TB) { panic("boom") }),
		// A scenario that cannot run over this run's transport skips itself,
		// as real ones do (see Env.Transport); it must not count as a pass
		// for KnownFailing. These runs are over HTTP/1.1 only.
		{Name: "skips", Doc: "synthetic", Run: func(t testing.TB, e *conformance.Env) {
			ran.Add(1)
			if e.Transport != conformance.H2 {
				t.Skipf("needs HTTP/2 (it checks stream resets); this run is over %s", e.Transport)
			}
		}},
		s("leaks", true, func(testing.TB) { go func() { <-leaked }() }),
		s("serial-fatals", true, func(t testing.TB) { t.Fatal("fatal") }),
	}
}

// nopHarness serves nothing: the synthetic scenarios do not call it.
var nopHarness = conformance.HarnessFunc(func(t testing.TB, _ conformance.Handler, _ ...core.Option) string {
	t.Fatal("the synthetic scenarios serve nothing")
	return ""
})

// TestKnownFailingAbsorbsFailures: listed scenarios that fail in any way
// (Fatal, Error, a failing cleanup, a panic, a goroutine leak) do not fail
// the run; they are reported as skipped, with their messages. If any of them
// passed instead, the run would fail.
func TestKnownFailingAbsorbsFailures(t *testing.T) {
	t.Parallel()
	runHelper(t, "known-failing").check(t, false, map[string]string{
		"fatals": "SKIP", "errors": "SKIP", "fails-in-cleanup": "SKIP", "panics": "SKIP", "leaks": "SKIP",
		"serial-fatals": "SKIP", "skips": "SKIP",
	},
		"knownfailing_test.go:36: error", // messages carry their file and line
		"panic: boom", "goroutines left after the scenario ended", "skipped itself", "needs HTTP/2 (it checks stream resets); this run is over http1")
}

// The subprocess tests below observe outcomes that fail a run (which the
// parent must not suffer): they run TestHelperProcess in a child process and
// read its verbose output.

const helperEnv = "SSEKIT_CONFORMANCE_HELPER"

// TestHelperProcess is not a real test: it is the child of the subprocess
// tests, doing what SSEKIT_CONFORMANCE_HELPER says.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return // a helper for the subprocess tests: only they run it
	}
	var ran atomic.Int32
	leaked := make(chan struct{})
	t.Cleanup(func() { close(leaked) }) // after the leak checks of Run
	scenarios := synthetic(&ran, leaked)
	switch {
	case strings.HasPrefix(mode, "broken:"):
		runBroken(t, strings.TrimPrefix(mode, "broken:"))
		return
	}
	switch mode {
	case "known-failing":
		t.Cleanup(func() { // once the parallel scenarios have run too
			if got := ran.Load(); got != int32(len(scenarios)) {
				t.Errorf("scenarios run: got %d; want %d", got, len(scenarios))
			}
		})
		conformance.RunScenarios(t, nopHarness, scenarios,
			conformance.KnownFailing("fatals", "errors", "fails-in-cleanup", "panics", "leaks", "serial-fatals", "skips"))
	case "known-but-passes":
		conformance.RunScenarios(t, nopHarness, scenarios[:1], conformance.KnownFailing("passes"))
	case "unknown-names":
		conformance.RunScenarios(t, nopHarness, scenarios[:1], conformance.Skip("no-such", "h2/passes"),
			conformance.KnownFailing("nor-this", "http1/nor-that"))
	case "skip":
		conformance.RunScenarios(t, nopHarness, scenarios[:1], conformance.Skip("passes"))
	case "skip-scoped":
		conformance.RunScenarios(t, nopHarness, scenarios[:1], conformance.Skip("http1/passes"))
	case "unlisted-failures": // all but "panics", which would crash the child
		conformance.RunScenarios(t, nopHarness, slices.DeleteFunc(scenarios, func(s conformance.Scenario) bool { return s.Name == "panics" }))
	case "broken-unlisted":
		conformance.RunScenarios(t, brokenHarness(breakage{holdBack: true}), pick("danet-example", "ids", "handler-error"))
	case "leaky":
		conformance.RunScenarios(t, brokenHarness(breakage{leak: leaked}), pick("client-disconnect", "danet-example", "ids"))
	default:
		t.Fatalf("unknown mode %q", mode)
	}
}

// outcome is what a child run reported.
type outcome struct {
	failed  bool              // the child exited with an error
	results map[string]string // scenario ("h2/name" over h2) -> PASS, FAIL or SKIP
	output  string
	err     error // the child could not be run
}

// resultRE matches a scenario's result line: TestHelperProcess/<transport>/<scenario>.
var resultRE = regexp.MustCompile(`(?m)^\s*--- (PASS|FAIL|SKIP): TestHelperProcess/(http1|h2|h2c)/(\S+)`)

// runHelper runs TestHelperProcess in a child process in the given mode.
func runHelper(t *testing.T, mode string) outcome {
	t.Helper()
	o := startHelper(mode)
	if o.err != nil {
		t.Fatalf("running the helper: %v", o.err)
	}
	return o
}

// startHelper is runHelper for any goroutine: it reports its own failure in
// outcome.err. The child is bounded by a timeout.
func startHelper(mode string) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.v", "-test.count=1",
		"-test.timeout=2m", "-test.parallel=8") // the scenarios mostly wait
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	o := outcome{failed: err != nil, results: map[string]string{}, output: out.String()}
	if err != nil && !errors.As(err, &exit) {
		o.err = err
	}
	for _, m := range resultRE.FindAllStringSubmatch(o.output, -1) {
		name := m[3] // HTTP/1.1 results by scenario name, others as "h2/name"
		if m[2] != string(conformance.HTTP1) {
			name = m[2] + "/" + name
		}
		o.results[name] = m[1]
	}
	return o
}

// check compares a child's results with want (subtests not in want must pass).
func (o outcome) check(t *testing.T, wantFailed bool, want map[string]string, wantOutput ...string) {
	t.Helper()
	if o.err != nil {
		t.Fatalf("running the helper: %v", o.err)
	}
	if o.failed != wantFailed {
		t.Errorf("child run failed: %v; want %v", o.failed, wantFailed)
	}
	for name, got := range o.results {
		w := want[name]
		if w == "" {
			w = "PASS"
		}
		if got != w {
			t.Errorf("%s: got %s; want %s", name, got, w)
		}
	}
	for name, w := range want {
		if _, ok := o.results[name]; !ok {
			t.Errorf("%s: not reported; want %s", name, w)
		}
	}
	for _, s := range wantOutput {
		if !strings.Contains(o.output, s) {
			t.Errorf("output lacks %q", s)
		}
	}
	if t.Failed() {
		t.Logf("child output:\n%s", o.output)
	}
}

func TestKnownFailingThatPassesFailsTheRun(t *testing.T) {
	t.Parallel()
	runHelper(t, "known-but-passes").check(t, true, map[string]string{"passes": "FAIL"},
		`scenario "passes" passed but is listed in conformance.KnownFailing: remove it from the list`)
}

func TestUnknownNamesFailTheRun(t *testing.T) {
	t.Parallel()
	runHelper(t, "unknown-names").check(t, true, map[string]string{},
		`conformance.Skip: no scenario is named "no-such"`,
		`conformance.KnownFailing: no scenario is named "nor-this"`,
		`conformance.KnownFailing: no scenario is named "nor-that"`,
		`conformance.Skip("h2/passes"): the harness is not run over "h2" (transports: [http1])`)
}

func TestSkipIsReported(t *testing.T) {
	t.Parallel()
	runHelper(t, "skip").check(t, false, map[string]string{"passes": "SKIP"},
		`skipped: the harness lists "passes" in conformance.Skip`)
}

// TestSkipScoped: a name prefixed with a transport applies on that transport.
func TestSkipScoped(t *testing.T) {
	t.Parallel()
	runHelper(t, "skip-scoped").check(t, false, map[string]string{"passes": "SKIP"},
		`skipped: the harness lists "passes" in conformance.Skip`)
}

func TestUnlistedFailuresFailTheRun(t *testing.T) {
	t.Parallel()
	runHelper(t, "unlisted-failures").check(t, true, map[string]string{
		"fatals": "FAIL", "errors": "FAIL", "fails-in-cleanup": "FAIL", "leaks": "FAIL", "serial-fatals": "FAIL",
		"skips": "SKIP",
	}, "goroutines left after the scenario ended")
}

// pick returns the scenarios of the given names.
func pick(names ...string) []conformance.Scenario {
	return slices.DeleteFunc(conformance.Scenarios(), func(s conformance.Scenario) bool { return !slices.Contains(names, s.Name) })
}

// TestBrokenAdapterFailsTheRun checks, without KnownFailing in the way, that a
// broken adapter (holding back the last byte) fails the run and the
// scenarios it should.
func TestBrokenAdapterFailsTheRun(t *testing.T) {
	t.Parallel()
	runHelper(t, "broken-unlisted").check(t, true, map[string]string{"danet-example": "FAIL", "ids": "FAIL"},
		`event 4: got the end of the stream; want {Type: "close", Data: "close", LastEventID: "4"}`)
}

// TestLeakyAdapterFails: an adapter that leaves a goroutine behind per
// request fails each serial scenario, and the parallel ones as a group.
func TestLeakyAdapterFails(t *testing.T) {
	t.Parallel()
	runHelper(t, "leaky").check(t, true, map[string]string{"client-disconnect": "FAIL"},
		"goroutines left after the scenario ended",
		"goroutines left after the parallel scenarios ended")
}
