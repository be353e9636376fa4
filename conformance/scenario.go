package conformance

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/conformance/internal/expect"
	"github.com/ssekit/ssekit/core"
)

// Scenario is one conformance check. Scenarios are data, so that other
// runners can enumerate them: a command-line checker, or an external client
// (npm eventsource, a browser) held to the same expectations.
//
// Most scenarios are fully described by what the server does (Handler,
// Options), the request (Method, Header, Body) and what a spec-exact client
// must see (WantStatus, Want, WantEnd, WantRetry); their Run is nil and
// [Scenario.Check] runs them. Scenarios that need more (timing, disconnects,
// raw connections, the producer's view) have a Run of their own; where
// possible they still fill Handler and Want for other runners.
type Scenario struct {
	// Name is the subtest name, lower-kebab-case, unique.
	Name string
	// Doc says what the scenario checks, and why it matters.
	Doc string

	// Options are passed to the adapter with Handler.
	Options []core.Option
	// Handler is what the server does. Each call builds a fresh target, so a
	// Handler may be served any number of times, concurrently. Nil when Run
	// builds its own handlers.
	Handler Handler
	// Method is the request method; empty means GET.
	Method string
	// Header holds extra request headers, such as Last-Event-ID.
	Header http.Header
	// Body is the request body.
	Body string

	// WantStatus is the response status; zero means 200 with an event
	// stream. Any other value means a plain (non event-stream) response.
	WantStatus int
	// Want lists the events a spec-exact client must see, in order.
	Want []client.Event
	// WantEnd says that the response ends by itself right after Want (a
	// browser would then reconnect).
	WantEnd bool
	// WantRetry, when non-zero, is the last retry value the client must
	// have seen by the end of Want.
	WantRetry time.Duration

	// Serial scenarios run one at a time, before the parallel ones, each
	// followed by a goroutine-leak check: those about disconnects, shutdown
	// and anything else that must leave nothing behind.
	Serial bool
	// Run, when set, runs the scenario instead of [Scenario.Check].
	// Scenarios receive a testing.TB (a *testing.T, or the recorder of a
	// known-failing run) and must call its Fatal methods only from the
	// goroutine running Run.
	Run func(t testing.TB, env *Env)
}

var nameRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func (s Scenario) validate() error {
	switch {
	case !nameRE.MatchString(s.Name):
		return fmt.Errorf("scenario name %q is not lower-kebab-case", s.Name)
	case s.Run == nil && s.Handler == nil:
		return fmt.Errorf("scenario %q has neither Run nor Handler", s.Name)
	}
	return nil
}

func (s Scenario) run(t testing.TB, env *Env) {
	if s.Run != nil {
		s.Run(t, env)
		return
	}
	s.Check(t, env)
}

// Path is the request path a scenario's requests use: "/" and its name.
func (s Scenario) Path() string { return "/" + s.Name }

// Check runs the data part of a scenario: it serves Handler with Options,
// sends the request (Method, Header, Body) to s.Path() and checks the
// response against WantStatus, Want, WantEnd and WantRetry. For a streaming
// scenario it returns the stream, to read further or inspect (Comments,
// Retries); nil otherwise.
func (s Scenario) Check(t testing.TB, env *Env) *Stream {
	t.Helper()
	if s.Handler == nil {
		t.Fatalf("conformance: scenario %q has no Handler to check", s.Name)
	}
	base := env.Serve(t, s.Handler, s.Options...)
	req := NewRequest(t, s.Method, base+s.Path(), s.Header, s.Body)
	if s.WantStatus != 0 && s.WantStatus != http.StatusOK {
		resp := env.Do(t, req)
		expect.PlainStatus(t, resp, s.WantStatus)
		return nil
	}
	st := env.Stream(t, req)
	st.Expect(t, s.Want, s.WantEnd)
	if s.WantRetry != 0 {
		switch n := len(st.Retries); {
		case n == 0:
			t.Errorf("retry: saw no retry field; want %v", s.WantRetry)
		case st.Retries[n-1] != s.WantRetry:
			t.Errorf("retry: got %v; want %v", st.Retries[n-1], s.WantRetry)
		}
	}
	return st
}

// waitDone waits for a target's Done within d.
func waitDone(t testing.TB, tg *core.Target, d time.Duration, after string) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-tg.Done():
	case <-timer.C:
		t.Fatalf("the target's Done did not close within %v after %s", d, after)
	}
}

// receive takes a value from c within d.
func receive[V any](t testing.TB, c <-chan V, d time.Duration, what string) V {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case v := <-c:
		return v
	case <-timer.C:
		t.Fatalf("%s: nothing within %v", what, d)
		panic("unreachable")
	}
}

// endedByClient reports whether err is a reason a stream ends when its client
// leaves: the request context ended, or a write failed.
func endedByClient(err error) bool {
	return errors.Is(err, core.ErrClientGone) || errors.Is(err, core.ErrWrite)
}
