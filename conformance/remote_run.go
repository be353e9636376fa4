package conformance

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssekit/ssekit/core"
)

// RemoteOutcome is the outcome of one scenario of a remote run.
type RemoteOutcome int

const (
	// RemotePass: every check the remote form makes passed.
	RemotePass RemoteOutcome = iota
	// RemoteFail: a check failed; the result's Messages say which.
	RemoteFail
	// RemoteNotCheckable: the scenario cannot be checked remotely
	// (RemoteNone); it is neither a pass nor a failure.
	RemoteNotCheckable
)

// String returns "PASS", "FAIL" or "N/A".
func (o RemoteOutcome) String() string {
	switch o {
	case RemotePass:
		return "PASS"
	case RemoteFail:
		return "FAIL"
	case RemoteNotCheckable:
		return "N/A"
	}
	return "RemoteOutcome(" + strconv.Itoa(int(o)) + ")"
}

// RemoteResult is what [CheckRemote] found for one scenario.
type RemoteResult struct {
	Name    string
	Form    RemoteForm
	Outcome RemoteOutcome
	// Messages are the failure messages, in order, as a test would print
	// them (without file and line).
	Messages []string
	// Note is the scenario's Note: what a weaker form leaves out, or why it
	// cannot be checked remotely.
	Note string
	// Elapsed is how long the scenario took.
	Elapsed time.Duration
}

// RemoteOptions configures [CheckRemote]. The zero value means the defaults.
type RemoteOptions struct {
	// Timeout bounds each request a scenario makes, from sending it to the
	// end of its body ([DefaultTimeout] when zero).
	Timeout time.Duration
	// Parallel is how many non-serial scenarios run at once (4 when zero;
	// 1 runs them one after another).
	Parallel int
	// OnResult, when set, is called with each result as soon as it is known,
	// one call at a time (for progress output).
	OnResult func(RemoteResult)
}

// CheckRemote runs the remote form of each scenario against a server that
// speaks the scenario protocol under baseURL (such as
// "http://127.0.0.1:8080", or one with a path prefix), over HTTP only, and
// returns one result per scenario in the order given. Serial scenarios run
// first, one at a time, then the others, o.Parallel at a time. Scenarios that
// cannot be checked remotely are reported as RemoteNotCheckable.
//
// Every wait is bounded (each request by o.Timeout, and tighter bounds where
// a scenario checks timing). When ctx ends, requests in flight are cancelled
// and scenarios not yet started fail with "not run".
//
// CheckRemote contacts nothing but baseURL's host: it uses no proxy and
// follows no redirect.
func CheckRemote(ctx context.Context, baseURL string, scenarios []RemoteScenario, o RemoteOptions) []RemoteResult {
	base := strings.TrimSuffix(baseURL, "/")
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	results := make([]RemoteResult, len(scenarios))
	var mu sync.Mutex
	report := func(i int, r RemoteResult) {
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
func runRemote(ctx context.Context, base string, s RemoteScenario, timeout time.Duration) RemoteResult {
	res := RemoteResult{Name: s.Name, Form: s.Form, Note: s.Note}
	if s.Form == RemoteNone || s.check == nil {
		res.Outcome = RemoteNotCheckable
		return res
	}
	if err := ctx.Err(); err != nil {
		res.Outcome = RemoteFail
		res.Messages = []string{"not run: " + err.Error()}
		return res
	}
	start := time.Now()
	t := &remoteT{recorder: newRecorder(nil), name: s.Name, ctx: ctx}
	h := HarnessFunc(func(testing.TB, Handler, ...core.Option) string { return base })
	t.do(func() { s.check(t, newRemoteEnv(t, h, ctx, timeout)) })
	t.runCleanups()
	res.Elapsed = time.Since(start)
	t.mu.Lock()
	for _, m := range t.msgs {
		res.Messages = append(res.Messages, fileLine.ReplaceAllString(m, ""))
	}
	t.mu.Unlock()
	switch {
	case t.Failed():
		res.Outcome = RemoteFail
	case t.Skipped():
		res.Outcome = RemoteNotCheckable
	default:
		res.Outcome = RemotePass
	}
	return res
}

// fileLine matches the "file.go:12: " prefix the recorder puts on messages.
var fileLine = regexp.MustCompile(`^[\w.-]+\.go:\d+: `)

// newRemoteEnv is newEnv whose context ends with ctx and whose requests are
// bounded by timeout.
func newRemoteEnv(t testing.TB, h Harness, ctx context.Context, timeout time.Duration) *Env {
	e := newEnv(t, h)
	e.cancel() // replaced by a context under ctx; e.stop cancels the new one
	e.ctx, e.cancel = context.WithCancel(ctx)
	e.Timeout = timeout
	// Only the base URL's host is contacted: a redirect is an answer.
	e.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return e
}

// remoteT is the testing.TB a remote scenario runs against: a recorder
// standing alone, outside any test. Failures and skips are recorded;
// logs are dropped; what a remote scenario has no use for fails it.
type remoteT struct {
	*recorder
	name string
	ctx  context.Context
}

func (t *remoteT) Name() string             { return t.name }
func (t *remoteT) Context() context.Context { return t.ctx }
func (t *remoteT) Log(args ...any)          {}
func (t *remoteT) Logf(string, ...any)      {}
func (t *remoteT) Attr(key, value string)   {}
func (t *remoteT) Output() io.Writer        { return io.Discard }
func (t *remoteT) TempDir() string          { t.unsupported("TempDir"); return "" }
func (t *remoteT) ArtifactDir() string      { t.unsupported("ArtifactDir"); return "" }
func (t *remoteT) Setenv(key, value string) { t.unsupported("Setenv") }
func (t *remoteT) Chdir(dir string)         { t.unsupported("Chdir") }

func (t *remoteT) unsupported(method string) {
	t.Fatalf("conformance: %s is not available to a remote scenario", method)
}

// String describes r on one line, for logs.
func (r RemoteResult) String() string {
	s := fmt.Sprintf("%s %s (%s form)", r.Outcome, r.Name, r.Form)
	if len(r.Messages) > 0 {
		s += ": " + strings.SplitN(r.Messages[0], "\n", 2)[0]
	}
	return s
}
