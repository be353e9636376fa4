package remote

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/conformance/internal/remoterun"
)

// Outcome is the outcome of one scenario of a remote run.
type Outcome int

const (
	// Pass: every check the remote form makes passed.
	Pass Outcome = iota
	// Fail: a check failed; the result's Messages say which.
	Fail
	// NotCheckable: the scenario cannot be checked remotely
	// (None); it is neither a pass nor a failure.
	NotCheckable
)

// String returns "PASS", "FAIL" or "N/A".
func (o Outcome) String() string {
	switch o {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	case NotCheckable:
		return "N/A"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Result is what [Check] found for one scenario.
type Result struct {
	Name    string
	Form    Form
	Outcome Outcome
	// Messages are the failure messages, in order, as a test would print
	// them (without file and line).
	Messages []string
	// Note is the scenario's Note: what a weaker form leaves out, or why it
	// cannot be checked remotely.
	Note string
	// Elapsed is how long the scenario took.
	Elapsed time.Duration
}

// Options configures [Check]. The zero value means the defaults.
type Options struct {
	// Timeout bounds each request a scenario makes, from sending it to the
	// end of its body ([conformance.DefaultTimeout] when zero).
	Timeout time.Duration
	// Parallel is how many non-serial scenarios run at once (4 when zero;
	// 1 runs them one after another).
	Parallel int
	// OnResult, when set, is called with each result as soon as it is known,
	// one call at a time (for progress output).
	OnResult func(Result)
}

// Check runs the remote form of each scenario against a server that
// speaks the scenario protocol under baseURL (such as
// "http://127.0.0.1:8080", or one with a path prefix), over HTTP only, and
// returns one result per scenario in the order given. Serial scenarios run
// first, one at a time, then the others, o.Parallel at a time. Scenarios that
// cannot be checked remotely are reported as NotCheckable.
//
// Every wait is bounded (each request by o.Timeout, and tighter bounds where
// a scenario checks timing). When ctx ends, requests in flight are cancelled
// and scenarios not yet started fail with "not run".
//
// Check contacts nothing but baseURL's host: it uses no proxy and
// follows no redirect.
func Check(ctx context.Context, baseURL string, scenarios []Scenario, o Options) []Result {
	base := strings.TrimSuffix(baseURL, "/")
	if o.Timeout <= 0 {
		o.Timeout = conformance.DefaultTimeout
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	results := make([]Result, len(scenarios))
	var mu sync.Mutex
	report := func(i int, r Result) {
		results[i] = r
		if o.OnResult != nil {
			mu.Lock()
			defer mu.Unlock()
			o.OnResult(r)
		}
	}
	for i, s := range scenarios {
		if s.Serial {
			report(i, runRemote(ctx, base, s, o.Timeout))
		}
	}
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i, s := range scenarios {
		if s.Serial {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			report(i, runRemote(ctx, base, s, o.Timeout))
		}()
	}
	wg.Wait()
	return results
}

// runRemote runs the remote form of s against base.
func runRemote(ctx context.Context, base string, s Scenario, timeout time.Duration) Result {
	res := Result{Name: s.Name, Form: s.Form, Note: s.Note}
	if s.Form == None || s.check == nil {
		res.Outcome = NotCheckable
		return res
	}
	if err := ctx.Err(); err != nil {
		res.Outcome = Fail
		res.Messages = []string{"not run: " + err.Error()}
		return res
	}
	start := time.Now()
	rec := remoterun.Run(ctx, base, s.Name, timeout, s.check)
	res.Elapsed = time.Since(start)
	res.Messages = rec.Messages
	switch {
	case rec.Failed:
		res.Outcome = Fail
	case rec.Skipped:
		res.Outcome = NotCheckable
	default:
		res.Outcome = Pass
	}
	return res
}

// String describes r on one line, for logs.
func (r Result) String() string {
	s := fmt.Sprintf("%s %s (%s form)", r.Outcome, r.Name, r.Form)
	if len(r.Messages) > 0 {
		s += ": " + strings.SplitN(r.Messages[0], "\n", 2)[0]
	}
	return s
}
