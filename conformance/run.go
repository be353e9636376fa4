package conformance

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// RunOption configures [Run] and [RunScenarios].
type RunOption func(*config)

type config struct {
	skip     map[string]bool
	known    map[string]bool
	leak     bool
	leakOpts []goleak.Option
}

// Skip names scenarios the harness cannot support, for example a feature its
// framework lacks. A skipped scenario still appears in the test output, as a
// skipped subtest that says why. A name applies on every transport; prefixed
// with a transport ("h2/heartbeat") it applies on that one only. Naming a
// scenario that does not exist, or a transport the harness is not run on,
// fails the run, so the list cannot rot.
func Skip(names ...string) RunOption {
	return func(c *config) {
		for _, n := range names {
			c.skip[n] = true
		}
	}
}

// KnownFailing names scenarios the adapter is known to fail, in the style of
// connect's conformance runner: a listed scenario that fails is reported as
// a skipped subtest ("known failing, failed as expected", with its failure
// messages) and does not fail the run, while a listed scenario that passes
// fails the run, so the list is pruned as soon as a fix lands. Names are as
// for [Skip]: "heartbeat" on every transport, "h2c/heartbeat" on one.
// Naming a scenario that does not exist fails the run.
func KnownFailing(names ...string) RunOption {
	return func(c *config) {
		for _, n := range names {
			c.known[n] = true
		}
	}
}

// LeakOptions adds goleak options to the goroutine-leak checks, typically
// goleak.IgnoreTopFunction for a framework's own long-lived background
// goroutine that starts on first use.
func LeakOptions(opts ...goleak.Option) RunOption {
	return func(c *config) { c.leakOpts = append(c.leakOpts, opts...) }
}

// NoLeakCheck turns the goroutine-leak checks off. Use it only when the test
// calling [Run] must run in parallel with other tests (whose goroutines the
// checks would report) and say so in a comment.
func NoLeakCheck() RunOption {
	return func(c *config) { c.leak = false }
}

// Run runs every scenario of [Scenarios] against h, on every transport of
// [HarnessTransports], each scenario as a subtest named after its transport
// and itself (TestConformance/h2/heartbeat). See the package documentation
// for the order, the parallelism and the leak checks.
func Run(t *testing.T, h Harness, opts ...RunOption) {
	t.Helper()
	RunScenarios(t, h, Scenarios(), opts...)
}

// RunScenarios is [Run] with a list of scenarios of the caller's choosing:
// a subset of [Scenarios], or scenarios of its own (for example ones specific
// to a framework), which follow the same rules.
//
// Each transport is a subtest. The serial scenarios of every transport run
// first, one after another, each followed by its own goroutine-leak check.
// The others then run in parallel, those of every transport together (after
// the calling test function returns, as parallel subtests do), and one leak
// check covers them all once they have finished.
func RunScenarios(t *testing.T, h Harness, scenarios []Scenario, opts ...RunOption) {
	t.Helper()
	c := &config{skip: map[string]bool{}, known: map[string]bool{}, leak: true}
	for _, o := range opts {
		o(c)
	}
	transports := HarnessTransports(h)
	if !c.validate(t, scenarios, transports) {
		return
	}
	if _, ok := h.(HandlerHarness); !ok {
		t.Logf("conformance: the harness gives a base URL only, so the suite runs over HTTP/1.1 only " +
			"(a conformance.HandlerHarness runs over h2 and h2c too)")
	}
	parallel := slices.ContainsFunc(scenarios, func(s Scenario) bool { return !s.Serial })
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			for _, s := range scenarios {
				if s.Serial {
					t.Run(s.Name, func(t *testing.T) { c.run(t, h, tr, s) })
				}
			}
			if !parallel {
				return
			}
			// Wait until the serial scenarios of every transport have run:
			// the parallel ones of all transports then run together.
			t.Parallel()
			for _, s := range scenarios {
				if !s.Serial {
					t.Run(s.Name, func(t *testing.T) {
						t.Parallel()
						c.run(t, h, tr, s)
					})
				}
			}
		})
	}
	if c.leak && parallel {
		// Taken after the serial phase, so that a goroutine a serial scenario
		// leaked (already reported) is not reported twice.
		base := goleak.IgnoreCurrent()
		t.Cleanup(func() { // runs once every parallel subtest has finished
			if err := c.findLeaks(base); err != nil {
				t.Errorf("conformance: goroutines left after the parallel scenarios ended: %v", err)
			}
		})
	}
}

// validate reports misuse: a bad scenario list or option naming no scenario.
func (c *config) validate(t *testing.T, scenarios []Scenario, transports []Transport) bool {
	t.Helper()
	ok := true
	names := map[string]bool{}
	for _, s := range scenarios {
		if err := s.validate(); err != nil {
			t.Errorf("conformance: %v", err)
			ok = false
		}
		if names[s.Name] {
			t.Errorf("conformance: two scenarios named %q", s.Name)
			ok = false
		}
		names[s.Name] = true
	}
	for _, list := range []struct {
		option string
		names  map[string]bool
	}{{"Skip", c.skip}, {"KnownFailing", c.known}} {
		for _, n := range slices.Sorted(maps.Keys(list.names)) {
			tr, name, scoped := strings.Cut(n, "/")
			if !scoped {
				name = n
			}
			switch {
			case scoped && !slices.Contains(transports, Transport(tr)):
				t.Errorf("conformance.%s(%q): the harness is not run over %q (transports: %v)", list.option, n, tr, transports)
				ok = false
			case !names[name]:
				t.Errorf("conformance.%s: no scenario is named %q", list.option, name)
				ok = false
			}
			if list.option == "KnownFailing" && (c.skip[n] || c.skip[name] ||
				!scoped && slices.ContainsFunc(transports, func(tr Transport) bool { return c.skip[string(tr)+"/"+name] })) {
				t.Errorf("conformance: %q is listed both in Skip and in KnownFailing", n)
				ok = false
			}
		}
	}
	return ok
}

// run runs one scenario over tr in its subtest.
func (c *config) run(t *testing.T, h Harness, tr Transport, s Scenario) {
	scoped := string(tr) + "/" + s.Name
	switch {
	case c.skip[s.Name] || c.skip[scoped]:
		t.Skipf("skipped: the harness lists %q in conformance.Skip (feature not supported)", s.Name)
	case c.known[s.Name] || c.known[scoped]:
		c.runKnownFailing(t, h, tr, s)
	default:
		if s.Serial && c.leak {
			base := goleak.IgnoreCurrent()
			// Registered first, so it runs last: after the harness has
			// stopped its server and the client has closed its connections.
			t.Cleanup(func() {
				if err := c.findLeaks(base); err != nil {
					t.Errorf("conformance: goroutines left after the scenario ended: %v", err)
				}
			})
		}
		s.run(t, newEnvOver(t, h, tr))
	}
}

// leakWait bounds how long the leak checks wait for goroutines to wind down
// (a server that closes its connections asynchronously, say).
const leakWait = 2 * time.Second

// findLeaks looks for goroutines started since base, polling for a bounded
// time on top of goleak's own retries.
func (c *config) findLeaks(base goleak.Option) error {
	opts := append([]goleak.Option{base}, c.leakOpts...)
	start := time.Now()
	for {
		err := goleak.Find(opts...)
		if err == nil || time.Since(start) > leakWait {
			return err
		}
	}
}

// runKnownFailing runs s against a recorder instead of t, so that its failure
// is observed rather than propagated, and turns the outcome around.
func (c *config) runKnownFailing(t *testing.T, h Harness, tr Transport, s Scenario) {
	r := newRecorder(t)
	var base goleak.Option
	if s.Serial && c.leak {
		base = goleak.IgnoreCurrent()
	}
	r.do(func() { s.run(r, newEnvOver(r, h, tr)) })
	r.runCleanups()
	if base != nil {
		r.do(func() {
			if err := c.findLeaks(base); err != nil {
				r.Errorf("conformance: goroutines left after the scenario ended: %v", err)
			}
		})
	}
	switch {
	case r.Failed():
		t.Skipf("known failing (conformance.KnownFailing), failed as expected:\n%s", r.report())
	case r.Skipped():
		t.Skipf("known failing (conformance.KnownFailing), skipped itself:\n%s", r.report())
	default:
		t.Errorf("scenario %q passed but is listed in conformance.KnownFailing: remove it from the list", s.Name)
	}
}

// shorten keeps long failure reports readable.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d more bytes)", len(s)-n)
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}
