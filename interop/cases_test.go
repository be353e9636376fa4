package interop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
)

// testCase is one row of the matrix: a conformance scenario, or a check of
// reconnection as browsers do it.
type testCase struct {
	name string
	// note explains the row in the matrix: why it does not apply, or to which
	// clients, or what it checks beyond the events.
	note string
	// notFor says why the case does not apply to a client; "" when it does.
	// Nil means it applies to every client.
	notFor func(client string) string
	// run runs the case for one adapter and one client; nil when the case
	// applies to no client.
	run func(j *job)
}

// Timeouts of the clients' requests (the runner's own bound; the Go side
// adds slack on top).
const (
	streamTimeout = 15 * time.Second // every event of a scenario, and the end
	failTimeout   = 10 * time.Second // until the connection fails for good
	// linger is how long a client that failed for good is watched for a
	// reconnection it must not make: 10 times the retry in force (100ms)
	// where a case sets one.
	linger = time.Second
)

// notApplicable lists the conformance scenarios no EventSource can run, with
// the reason. A scenario that has no Handler and is not listed here fails the
// test: each one needs a decision.
var notApplicable = map[string]string{
	"heartbeat": "heartbeats are comments, which EventSource never exposes (the scenario's producer waits for the " +
		"client to see one)",
	"shutdown":                  "server side only: Group.Shutdown while the stream runs (Run only, no Handler)",
	"client-disconnect":         "producer's view of a disconnect (Run only); see client-close for an EventSource's close()",
	"client-disconnect-idle":    "see client-close: an EventSource's close() on an idle stream (heartbeat on)",
	"stalled-reader":            "needs a client that stops reading without closing; an EventSource always reads",
	"producer-after-disconnect": "producer's view (Run only, no Handler)",
	"post-stream":               "EventSource only sends GET",
	"refused-after-shutdown":    "needs a Group shut down in the server (Run only); see refused-reconnects",
	"on-end-every-request":      "server side only: the calls of WithOnEnd (Run only)",
}

// cases returns every row of the matrix: the conformance scenarios, in
// their order, then the interop-only checks.
func cases() ([]testCase, error) {
	var out []testCase
	var errs []error
	for _, s := range conformance.Scenarios() {
		switch reason, listed := notApplicable[s.Name]; {
		case listed:
			out = append(out, testCase{name: s.Name, note: "n/a: " + reason})
		case s.Handler == nil:
			errs = append(errs, fmt.Errorf("conformance scenario %q has no Handler: run it here or list it in notApplicable with the reason", s.Name))
		case s.Method != "" && s.Method != http.MethodGet:
			errs = append(errs, fmt.Errorf("conformance scenario %q uses %s, which EventSource cannot: list it in notApplicable", s.Name, s.Method))
		case s.WantStatus != 0 && s.WantStatus != http.StatusOK:
			out = append(out, failCase(s))
		default:
			out = append(out, streamCase(s))
		}
	}
	out = append(out, reconnectRetry(), reconnectLastEventID(), refusedReconnects(), reconnect204(false), reconnect204(true), wrongContentType(), clientClose())
	return out, errors.Join(errs...)
}

// job runs one case for one adapter and one client, collecting problems.
type job struct {
	adapter  adapter
	client   string
	runner   *runner
	problems []string
}

func (j *job) errorf(format string, args ...any) {
	j.problems = append(j.problems, fmt.Sprintf(format, args...))
}

// serve serves h through the job's adapter, counting the handler's calls in
// calls (if not nil). It returns nil, with a problem, when the server does
// not start; stop it with j.stop.
func (j *job) serve(h conformance.Handler, calls *atomic.Int32, opts ...core.Option) *server {
	if calls != nil {
		inner := h
		h = func(r conformance.Request) (core.EventTarget, error) {
			calls.Add(1)
			return inner(r)
		}
	}
	srv, err := j.adapter.serve(j.adapter.h2, h, opts...)
	if err != nil {
		j.errorf("starting the %s server: %v", j.adapter.name, err)
		return nil
	}
	return srv
}

// stop stops a server, reporting what went wrong.
func (j *job) stop(srv *server) {
	if err := srv.stop(); err != nil {
		j.errorf("server: %v", err)
	}
}

// open points the job's client at srv's path with req and returns what it
// saw; false (with a problem) when the runner failed.
func (j *job) open(srv *server, path string, req clientRequest) (clientResult, bool) {
	req.Client = j.client
	req.URL = srv.base + path
	req.CA = srv.ca
	if j.client == chromiumES {
		req.Page = srv.base + pagePath
	}
	if req.Events == nil {
		req.Events = []string{}
	}
	res, err := j.runner.do(req)
	if err != nil {
		j.errorf("%v", err)
		return res, false
	}
	if res.TimedOut {
		j.errorf("the client had not finished after %dms: saw %d events (%s), %d opens, errors %s, readyState %d",
			req.TimeoutMs, len(res.Events), describeAll(res.Events, 3), len(res.Opens), describeErrors(res.Errors), res.ReadyState)
	}
	return res, true
}

// expectEvents compares what the client saw with want.
func (j *job) expectEvents(got []seenEvent, want []client.Event) {
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			j.errorf("event %d: got nothing (%d events in all); want %s", i, len(got), describe(want[i]))
			return
		case i >= len(want):
			j.errorf("event %d: got extra event %s; want %d events", i, describeSeen(got[i]), len(want))
			return
		}
		g := client.Event{Type: got[i].Type, Data: got[i].Data, LastEventID: got[i].LastEventID}
		if g == want[i] {
			continue
		}
		if g.Type == want[i].Type && g.LastEventID == want[i].LastEventID && (len(g.Data) > 120 || len(want[i].Data) > 120) {
			k := 0
			for k < len(g.Data) && k < len(want[i].Data) && g.Data[k] == want[i].Data[k] {
				k++
			}
			j.errorf("event %d: data differs from byte %d: got %d bytes (%s there); want %d bytes (%s)",
				i, k, len(g.Data), quote(g.Data[k:]), len(want[i].Data), quote(want[i].Data[k:]))
			return
		}
		j.errorf("event %d: got %s; want %s", i, describe(g), describe(want[i]))
		return
	}
}

// expectFailed checks a connection that must have failed for good: no event,
// no open, an error event with readyState CLOSED, and no reconnection (calls
// is how many requests the server saw, want how many it should have).
// status, when not 0, is the status npm eventsource must report.
func (j *job) expectFailed(res clientResult, openWant int, calls int32, want int32, status int) {
	if len(res.Opens) != openWant {
		j.errorf("got %d open events; want %d", len(res.Opens), openWant)
	}
	n := len(res.Errors)
	switch {
	case n == 0:
		j.errorf("got no error event; want one with readyState CLOSED (2)")
	case res.Errors[n-1].ReadyState != 2:
		j.errorf("the last error event had readyState %d; want CLOSED (2): errors %s", res.Errors[n-1].ReadyState, describeErrors(res.Errors))
	case status != 0 && res.Errors[n-1].Code != 0 && res.Errors[n-1].Code != status:
		j.errorf("the client reported status %d (%q); want %d", res.Errors[n-1].Code, res.Errors[n-1].Message, status)
	}
	if res.ReadyState != 2 {
		j.errorf("readyState %d at the end; want CLOSED (2)", res.ReadyState)
	}
	if calls != want {
		j.errorf("the server saw %d requests (within %v of the failure); want %d: the client reconnected", calls, linger, want)
	}
}

// eventTypes returns the listeners a client needs for want: every type in it,
// and "message".
func eventTypes(want []client.Event) []string {
	types := []string{"message"}
	for _, e := range want {
		if !slices.Contains(types, e.Type) {
			types = append(types, e.Type)
		}
	}
	return types
}

// streamCase runs a streaming conformance scenario: the client must see
// Want, in order, and then (WantEnd) the end of the response.
func streamCase(s conformance.Scenario) testCase {
	c := testCase{name: s.Name}
	if len(s.Header) > 0 {
		// Only npm eventsource can send a header on its first request (its
		// fetch option); browsers send Last-Event-ID on reconnection only.
		c.note = "npm eventsource only, with the header added through its fetch option: an EventSource sends no " +
			"custom header and Last-Event-ID only on reconnection (see reconnect-last-event-id)"
		c.notFor = func(cl string) string {
			if cl == npmEventSource {
				return ""
			}
			return "EventSource cannot send " + headerNames(s.Header) + " on its first request (see reconnect-last-event-id)"
		}
	}
	if s.WantRetry != 0 {
		c.note = "EventSource does not expose the retry value (WantRetry); reconnect-retry checks that it is honoured"
	}
	c.run = func(j *job) {
		var calls atomic.Int32
		srv := j.serve(s.Handler, &calls, s.Options...)
		if srv == nil {
			return
		}
		defer j.stop(srv)
		req := clientRequest{Events: eventTypes(s.Want), Count: len(s.Want), WaitEnd: s.WantEnd, TimeoutMs: ms(streamTimeout)}
		if len(s.Header) > 0 {
			req.Headers = map[string]string{}
			for k, v := range s.Header {
				req.Headers[k] = strings.Join(v, ", ")
			}
		}
		res, ok := j.open(srv, s.Path(), req)
		if !ok {
			return
		}
		j.expectEvents(res.Events, s.Want)
		if s.WantEnd && !res.Ended && !res.TimedOut {
			j.errorf("the client did not see the response end after the events (errors %s, readyState %d)",
				describeErrors(res.Errors), res.ReadyState)
		}
		if len(res.Opens) != 1 {
			j.errorf("got %d open events; want 1", len(res.Opens))
		}
		if n := calls.Load(); n != 1 {
			j.errorf("the server saw %d requests; want 1", n)
		}
		if s.Name == "headers-before-first-event" && len(res.Opens) > 0 && len(res.Events) > 0 {
			// The producer waits 2s before its event: the client must have
			// opened on the headers alone, well before.
			if open, ev := res.Opens[0], res.Events[0].T; open > ev-500 {
				j.errorf("open at %.0fms, first event at %.0fms: want the open (on the headers) at least 500ms before the event", open, ev)
			}
		}
	}
	return c
}

// failCase runs a conformance scenario whose handler answers an error
// status: the client must fail the connection for good, without reconnecting.
func failCase(s conformance.Scenario) testCase {
	return testCase{
		name: s.Name,
		note: fmt.Sprintf("a %d answer: error event, readyState CLOSED, no reconnection within %v", s.WantStatus, linger),
		run: func(j *job) {
			var calls atomic.Int32
			srv := j.serve(s.Handler, &calls, s.Options...)
			if srv == nil {
				return
			}
			srv.panicLogged = s.Name == "handler-panic"
			defer j.stop(srv)
			res, ok := j.open(srv, s.Path(), clientRequest{UntilClosed: true, LingerMs: ms(linger), TimeoutMs: ms(failTimeout)})
			if !ok {
				return
			}
			j.expectEvents(res.Events, nil)
			j.expectFailed(res, 0, calls.Load(), 1, s.WantStatus)
		},
	}
}

// reconnectHandler serves a first connection with first (and closes it),
// later ones with later(k, request); it records when the first response was
// about to end, and when and with which Last-Event-ID each request came.
type reconnectHandler struct {
	first func(tg *core.Target)
	later func(k int32, r conformance.Request) (core.EventTarget, error)

	calls atomic.Int32
	mu    sync.Mutex
	ended time.Time   // just before the first response ended
	at    []time.Time // when each request reached the handler
	ids   []string    // each request's Last-Event-ID
}

func (h *reconnectHandler) handle(r conformance.Request) (core.EventTarget, error) {
	now := time.Now()
	k := h.calls.Add(1)
	h.mu.Lock()
	h.at = append(h.at, now)
	h.ids = append(h.ids, r.LastEventID)
	h.mu.Unlock()
	if k > 1 {
		return h.later(k, r)
	}
	tg := core.NewTarget()
	go func() {
		h.first(tg)
		h.mu.Lock()
		h.ended = time.Now() // before Close: no client can see the end earlier
		h.mu.Unlock()
		tg.Close()
	}()
	return tg, nil
}

// snapshot returns what the handler recorded.
func (h *reconnectHandler) snapshot() (ended time.Time, at []time.Time, ids []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ended, slices.Clone(h.at), slices.Clone(h.ids)
}

// sendAndClose returns a target that sends msgs and ends.
func sendAndClose(msgs ...core.Message) (core.EventTarget, error) {
	tg := core.NewTarget()
	for _, m := range msgs {
		if err := tg.Dispatch(m); err != nil {
			return nil, err
		}
	}
	tg.Close()
	return tg, nil
}

func reconnectRetry() testCase {
	const retry = 200 * time.Millisecond
	// A client that ignored retry waits its default, 3s, after the end: any
	// reconnection sooner proves retry honoured, however slow the machine.
	const upper = 3 * time.Second
	return testCase{
		name: "reconnect-retry",
		note: fmt.Sprintf("the first response sends retry: %d and ends; the reconnection must reach the server no sooner "+
			"than %v after the end, and before %v (the clients' default: retry honoured) in one of 3 tries", retry.Milliseconds(), retry, upper),
		run: func(j *job) {
			// A busy machine can delay an honoured reconnection past the
			// default; a client that ignores retry is late every time: it
			// fails only when all three tries are.
			for try := 1; ; try++ {
				gap, ok := reconnectGap(j, retry)
				switch {
				case !ok:
					return
				case gap < retry:
					j.errorf("the reconnection reached the server %v after the first response ended; want at least the retry, %v", gap, retry)
					return
				case gap < upper:
					return
				case try == 3:
					j.errorf("the reconnection reached the server %v after the first response ended, in each of 3 tries; want it within %v of the retry (%v): retry ignored?", gap, upper, retry)
					return
				}
			}
		},
	}
}

// reconnectGap serves a first response that sends retry and ends, and
// returns how long after its end the client's reconnection reached the
// server; false when the case already failed.
func reconnectGap(j *job, retry time.Duration) (time.Duration, bool) {
	h := &reconnectHandler{
		first: func(tg *core.Target) { tg.Dispatch(core.Message{ID: "1", Retry: retry, Data: "first"}) },
		later: func(k int32, r conformance.Request) (core.EventTarget, error) {
			return sendAndClose(core.Message{ID: strconv.Itoa(int(k)), Data: "again"})
		},
	}
	srv := j.serve(h.handle, nil)
	if srv == nil {
		return 0, false
	}
	defer j.stop(srv)
	res, ok := j.open(srv, "/reconnect-retry", clientRequest{Events: []string{"message"}, Count: 2, TimeoutMs: ms(streamTimeout)})
	if !ok {
		return 0, false
	}
	n := len(j.problems)
	j.expectEvents(res.Events, []client.Event{{Type: "message", Data: "first", LastEventID: "1"}, {Type: "message", Data: "again", LastEventID: "2"}})
	if len(res.Opens) != 2 {
		j.errorf("got %d open events; want 2 (the first connection and the reconnection)", len(res.Opens))
	}
	ended, at, _ := h.snapshot()
	if len(at) < 2 {
		j.errorf("the server saw %d requests; want a reconnection", len(at))
	}
	if len(j.problems) > n {
		return 0, false
	}
	return at[1].Sub(ended), true
}

// refusedReconnects checks that the answer to a stream asked for during
// shutdown (adapter.Refusal, for a handler error matching core.ErrShutdown)
// makes the client come back soon, instead of stranding it: any non-200
// answer would end an EventSource for good.
func refusedReconnects() testCase {
	// What this case guards is that the client comes back at all: any other
	// answer than the refusal's 200 would strand it. That a retry is honoured
	// is reconnect-retry's check, whose 200ms retry leaves a 2.8s margin
	// below the clients' 3s default; the refusal's retry (0.5-1.5s) leaves
	// too little on a busy machine (an undici reconnection over HTTP/2 took
	// 3.2s there), so the bound here is generous.
	const upper = 10 * time.Second
	return testCase{
		name: "refused-reconnects",
		note: fmt.Sprintf("the first request is refused as during shutdown (the handler returns core.ErrShutdown: 200, a "+
			"retry of 0.5-1.5s, the end, an HTTP/1 connection closed); the client must come back within %v and get the event", upper),
		run: func(j *job) {
			var calls atomic.Int32
			var mu sync.Mutex
			var at []time.Time
			h := func(conformance.Request) (core.EventTarget, error) {
				mu.Lock()
				at = append(at, time.Now())
				mu.Unlock()
				if calls.Add(1) == 1 {
					return nil, core.ErrShutdown
				}
				return sendAndClose(core.Message{ID: "1", Data: "after the refusal"})
			}
			srv := j.serve(h, nil)
			if srv == nil {
				return
			}
			defer j.stop(srv)
			res, ok := j.open(srv, "/refused-reconnects", clientRequest{Events: []string{"message"}, Count: 1, TimeoutMs: ms(streamTimeout)})
			if !ok {
				return
			}
			j.expectEvents(res.Events, []client.Event{{Type: "message", Data: "after the refusal", LastEventID: "1"}})
			mu.Lock()
			defer mu.Unlock()
			if len(at) < 2 {
				j.errorf("the server saw %d requests; want the refused one and a reconnection", len(at))
			} else if gap := at[1].Sub(at[0]); gap >= upper {
				j.errorf("the client came back %v after the refusal; want within %v (stranded?)", gap, upper)
			}
		},
	}
}

func reconnectLastEventID() testCase {
	return testCase{
		name: "reconnect-last-event-id",
		note: `the first response sends id "41" and ends; the reconnection must carry Last-Event-ID: 41, which the handler sees as Request.LastEventID`,
		run: func(j *job) {
			h := &reconnectHandler{
				first: func(tg *core.Target) {
					tg.Dispatch(core.Message{ID: "41", Retry: 100 * time.Millisecond, Data: "first"})
				},
				later: func(k int32, r conformance.Request) (core.EventTarget, error) {
					return sendAndClose(core.Message{ID: "42", Data: "resumed after " + strconv.Quote(r.LastEventID)})
				},
			}
			srv := j.serve(h.handle, nil)
			if srv == nil {
				return
			}
			defer j.stop(srv)
			res, ok := j.open(srv, "/reconnect-last-event-id", clientRequest{Events: []string{"message"}, Count: 2, TimeoutMs: ms(streamTimeout)})
			if !ok {
				return
			}
			j.expectEvents(res.Events, []client.Event{
				{Type: "message", Data: "first", LastEventID: "41"},
				{Type: "message", Data: `resumed after "41"`, LastEventID: "42"},
			})
			if _, _, ids := h.snapshot(); len(ids) < 2 || ids[0] != "" || ids[1] != "41" {
				j.errorf("Request.LastEventID of each request: got %q; want [\"\" \"41\"]", ids)
			}
		},
	}
}

// reconnect204 primes the client with a stream that sets retry: 100 and
// ends, then answers the reconnection 204: through the framework itself, or
// (viaAdapter) through the handler, with core.Error(204).
func reconnect204(viaAdapter bool) testCase {
	c := testCase{
		name: "reconnect-204",
		note: fmt.Sprintf("the first response (through the adapter) sends retry: 100 and ends; the framework itself answers "+
			"the reconnection 204 No Content: the client must stop for good (error event, readyState CLOSED, no request "+
			"within %v)", linger),
	}
	if viaAdapter {
		c.name = "handler-204"
		c.note = "as reconnect-204, but the handler answers the reconnection with core.Error(204, ...), through the " +
			"adapter's error path: the answer must be a 204 (npm eventsource reports the status; a plain Go request checks it too)"
	}
	c.run = func(j *job) {
		h := &reconnectHandler{
			first: func(tg *core.Target) {
				tg.Dispatch(core.Message{ID: "1", Retry: 100 * time.Millisecond, Data: "first"})
			},
			later: func(int32, conformance.Request) (core.EventTarget, error) {
				return nil, core.Error(http.StatusNoContent, "no more events")
			},
		}
		srv := j.serve(h.handle, nil)
		if srv == nil {
			return
		}
		defer j.stop(srv)
		path, requests := "/"+c.name, h.calls.Load
		if !viaAdapter {
			path, requests = noContentPath, srv.noContent.Load
		}
		res, ok := j.open(srv, path, clientRequest{UntilClosed: true, LingerMs: ms(linger), TimeoutMs: ms(failTimeout)})
		if !ok {
			return
		}
		j.expectEvents(res.Events, []client.Event{{Type: "message", Data: "first", LastEventID: "1"}})
		j.expectFailed(res, 1, requests(), 2, http.StatusNoContent)
		if !viaAdapter {
			return
		}
		if status, err := plainStatus(srv, srv.base+path); err != nil {
			j.errorf("plain GET: %v", err)
		} else if status != http.StatusNoContent {
			j.errorf("a handler returning core.Error(204, ...) answers %d; want 204, the status that tells EventSource to stop reconnecting", status)
		}
	}
	return c
}

// plainStatus returns the status of a plain GET of url on srv (a
// reconnection, with Last-Event-ID 1), over HTTP/2 on an h2 server.
func plainStatus(srv *server, url string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", "1")
	tr := &http.Transport{DisableKeepAlives: true}
	if srv.tls != nil {
		tr.TLSClientConfig = srv.tls
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetHTTP2(true)
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func wrongContentType() testCase {
	return testCase{
		name: "wrong-content-type",
		note: fmt.Sprintf("a 200 text/plain answer (from a route of the framework itself: an adapter always sends "+
			"text/event-stream) fails the connection for good: error event, readyState CLOSED, no request within %v", linger),
		run: func(j *job) {
			srv := j.serve(func(conformance.Request) (core.EventTarget, error) {
				return nil, core.Error(http.StatusNotFound, "this test uses "+plainPath)
			}, nil)
			if srv == nil {
				return
			}
			defer j.stop(srv)
			res, ok := j.open(srv, plainPath, clientRequest{UntilClosed: true, LingerMs: ms(linger), TimeoutMs: ms(failTimeout)})
			if !ok {
				return
			}
			j.expectEvents(res.Events, nil)
			j.expectFailed(res, 0, srv.plainHits.Load(), 1, 0)
		},
	}
}

func clientClose() testCase {
	return testCase{
		name: "client-close",
		note: "the client calls close() after the first event of a stream that would go on: the stream must end on " +
			"the server (the target's Done closes within 8s, above Chromium's 5s drain of a cancelled response, with core.ErrClientGone or core.ErrWrite); heartbeat 100ms",
		run: func(j *job) {
			targets := make(chan *core.Target, 1)
			srv := j.serve(func(conformance.Request) (core.EventTarget, error) {
				tg := core.NewTarget()
				select {
				case targets <- tg:
				default:
				}
				return tg, tg.Dispatch(core.Message{Data: "ready"})
			}, nil, core.WithHeartbeat(100*time.Millisecond))
			if srv == nil {
				return
			}
			defer j.stop(srv)
			res, ok := j.open(srv, "/client-close", clientRequest{Events: []string{"message"}, Count: 1, TimeoutMs: ms(streamTimeout)})
			if !ok {
				return
			}
			j.expectEvents(res.Events, []client.Event{{Type: "message", Data: "ready"}})
			var tg *core.Target
			select {
			case tg = <-targets:
			default:
				j.errorf("the handler was not called")
				return
			}
			// Chromium may keep reading a cancelled HTTP/1.1 response for a
			// while to drain it and reuse the connection (its response body
			// drainer gives up after 5s), so the bound is above that.
			timer := time.NewTimer(closeBound)
			defer timer.Stop()
			select {
			case <-tg.Done():
				if err := tg.Err(); !errors.Is(err, core.ErrClientGone) && !errors.Is(err, core.ErrWrite) {
					j.errorf("the stream ended with %v; want core.ErrClientGone or core.ErrWrite", err)
				}
			case <-timer.C:
				j.errorf("the stream was still running %v after the client's close()", closeBound)
				tg.Close()
			}
		},
	}
}

// closeBound is how long a stream may outlive its client's close().
const closeBound = 8 * time.Second

func ms(d time.Duration) int { return int(d / time.Millisecond) }

func headerNames(h http.Header) string {
	var names []string
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func describe(e client.Event) string {
	return fmt.Sprintf("{type %q, data %s, lastEventId %q}", e.Type, quote(e.Data), e.LastEventID)
}

func describeSeen(e seenEvent) string {
	return describe(client.Event{Type: e.Type, Data: e.Data, LastEventID: e.LastEventID})
}

func describeAll(evs []seenEvent, n int) string {
	var parts []string
	for i, e := range evs {
		if i == n {
			parts = append(parts, fmt.Sprintf("... %d more", len(evs)-n))
			break
		}
		parts = append(parts, describeSeen(e))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func describeErrors(errs []seenError) string {
	var parts []string
	for _, e := range errs {
		s := fmt.Sprintf("{at %.0fms readyState %d", e.T, e.ReadyState)
		if e.Code != 0 || e.Message != "" {
			s += fmt.Sprintf(" code %d %q", e.Code, e.Message)
		}
		parts = append(parts, s+"}")
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// quote quotes s, shortening it past 120 bytes.
func quote(s string) string {
	if len(s) <= 120 {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:100], len(s))
}
