package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/conformance/internal/expect"
	"github.com/ssekit/ssekit/core"
)

// DefaultTimeout bounds every request a scenario makes, from sending it to
// the end of its body: a scenario never waits longer than this for anything.
const DefaultTimeout = 5 * time.Second

// HeaderTimeout bounds the wait for response headers: an adapter sends them
// at once, before any event.
const HeaderTimeout = 2 * time.Second

// EventTimeout bounds the wait for an event the server has already
// dispatched, where a scenario reads one at a time.
const EventTimeout = 2 * time.Second

// Env is what a scenario works with: the harness under test, the transport
// of this run, an HTTP client of its own that speaks it, and helpers that
// open streams and read them with the spec-exact parser of package client,
// always under a deadline.
//
// Every resource an Env hands out (servers, responses, connections) is
// released by the test's cleanups, streams first, then servers, then the
// client's idle connections.
type Env struct {
	// Client is the scenario's HTTP client. Its transport is its own
	// (closed when the scenario ends), speaks Transport only, asks for no
	// compression and uses no proxy; it has no overall timeout, since
	// requests carry deadlines.
	Client *http.Client
	// Timeout bounds each request, DefaultTimeout unless a scenario changes it.
	Timeout time.Duration
	// Transport is the transport of this run: Serve starts servers that
	// speak it and Client speaks it. A scenario that cannot run over it
	// (one that writes HTTP/1.1 bytes itself, say) skips itself, saying why.
	Transport Transport

	h         Harness
	transport *http.Transport
	ctx       context.Context
	cancel    context.CancelFunc
}

// newEnv returns the Env of one scenario run over HTTP/1.1; t's cleanups
// release it.
func newEnv(t testing.TB, h Harness) *Env { return newEnvOver(t, h, HTTP1) }

// newEnvOver is newEnv over tr.
func newEnvOver(t testing.TB, h Harness, tr Transport) *Env {
	ht := newTransport(tr)
	ctx, cancel := context.WithCancel(context.Background())
	e := &Env{Client: &http.Client{Transport: ht}, Timeout: DefaultTimeout, Transport: tr, h: h, transport: ht, ctx: ctx, cancel: cancel}
	t.Cleanup(e.stop)
	return e
}

// stop ends the scenario's context and drops idle client connections. It is
// idempotent.
func (e *Env) stop() {
	e.cancel()
	e.transport.CloseIdleConnections()
}

// Context returns a context that is done once the scenario has ended (before
// its servers stop). Producers in a scenario's handlers that wait for
// anything besides their target's Done select on it too, so that none
// outlives the scenario.
func (e *Env) Context() context.Context { return e.ctx }

// Serve serves h through the harness, passing opts to the adapter, on a
// server speaking e.Transport (started by the suite for a [HandlerHarness],
// by the harness's Serve otherwise), and returns the server's base URL
// (without a trailing slash).
func (e *Env) Serve(t testing.TB, h Handler, opts ...core.Option) string {
	t.Helper()
	var base string
	if hh, ok := e.h.(HandlerHarness); ok {
		base = serveOn(t, e.Transport, hh.Handler(t, h, opts...))
	} else {
		if e.Transport != HTTP1 {
			t.Fatalf("conformance: the harness serves a base URL only (no HandlerHarness), so HTTP/1.1 only; got transport %s", e.Transport)
		}
		base = e.h.Serve(t, h, opts...)
	}
	// Registered after the harness's own cleanup, so it runs before it:
	// producers wake up and idle connections go before the server stops.
	t.Cleanup(e.stop)
	return strings.TrimSuffix(base, "/")
}

// NewRequest returns a request, failing the test on a malformed URL. An
// empty method means GET.
func NewRequest(t testing.TB, method, url string, header http.Header, body string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("conformance: bad request %s %s: %v", method, url, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return req
}

// Do sends req under e.Timeout (counted until its body is read or closed)
// and returns the response, failing the test when no response arrives. The
// body is closed by the test's cleanup if not before.
func (e *Env) Do(t testing.TB, req *http.Request) *http.Response {
	t.Helper()
	resp, _ := e.do(t, req)
	return resp
}

func (e *Env) do(t testing.TB, req *http.Request) (*http.Response, context.CancelFunc) {
	t.Helper()
	parent := req.Context()
	if parent == context.Background() {
		parent = e.ctx
	}
	ctx, cancel := context.WithTimeout(parent, e.Timeout)
	resp, err := e.Client.Do(req.WithContext(ctx))
	if err != nil {
		cancel()
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	if resp.ProtoMajor != protoMajor(e.Transport) {
		t.Fatalf("%s %s: got a response over %s; want it over %s", req.Method, req.URL, resp.Proto, e.Transport)
	}
	return resp, cancel
}

// Stream sends req, checks that the response is a 200 event stream (any
// Content-Type whose media type is text/event-stream; see the headers
// scenario for the exact header) and returns it, ready to read. Like a
// browser, it sends Accept: text/event-stream unless req has an Accept
// header.
func (e *Env) Stream(t testing.TB, req *http.Request) *Stream {
	t.Helper()
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "text/event-stream")
	}
	resp, cancel := e.do(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: got status %d (body %q); want 200", req.Method, req.URL.Path, resp.StatusCode, expect.ReadSome(resp.Body))
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/event-stream" {
		t.Fatalf("%s %s: got Content-Type %q; want text/event-stream", req.Method, req.URL.Path, resp.Header.Get("Content-Type"))
	}
	return newStream(resp, cancel)
}

// Get opens a GET event stream on url; see [Env.Stream].
func (e *Env) Get(t testing.TB, url string) *Stream {
	t.Helper()
	return e.Stream(t, NewRequest(t, http.MethodGet, url, nil, ""))
}

// Events opens a GET event stream on url, reads n events and closes it,
// failing the test if fewer arrive within e.Timeout.
func (e *Env) Events(t testing.TB, url string, n int) []client.Event {
	t.Helper()
	st := e.Get(t, url)
	defer st.Close()
	evs := make([]client.Event, 0, n)
	for len(evs) < n {
		ev, err := st.Next(0)
		if err != nil {
			t.Fatalf("GET %s: after %d events: %v; want %d events", url, len(evs), err, n)
		}
		evs = append(evs, ev)
	}
	return evs
}

// Stream is an open event stream read with the spec-exact [client.Parser].
// It is meant for the one goroutine of a scenario.
type Stream struct {
	// Response is the HTTP response; its body is what the parser reads.
	Response *http.Response
	// Parser parses the body. Stream installs its OnComment and OnRetry.
	Parser *client.Parser
	// Comments holds the text of every comment line read so far ("" for a
	// ":" heartbeat).
	Comments []string
	// Retries holds every retry value read so far.
	Retries []time.Duration
	// OnComment, when set, is called for each comment after it is recorded.
	OnComment func(text string)

	cancel context.CancelFunc
}

func newStream(resp *http.Response, cancel context.CancelFunc) *Stream {
	s := &Stream{Response: resp, Parser: client.NewParser(resp.Body), cancel: cancel}
	s.Parser.OnComment = func(text string) {
		s.Comments = append(s.Comments, text)
		if s.OnComment != nil {
			s.OnComment(text)
		}
	}
	s.Parser.OnRetry = func(d time.Duration) { s.Retries = append(s.Retries, d) }
	return s
}

// ErrTimeout is wrapped by the error of [Stream.Next] when no event arrived
// in time.
var ErrTimeout = errors.New("conformance: timed out")

// Next returns the next event. When within is positive and no event is
// complete within it, the stream is cancelled (it cannot be read further)
// and the error wraps [ErrTimeout]; the request's own deadline (Env.Timeout)
// applies in any case. At the end of the stream the error is io.EOF.
func (s *Stream) Next(within time.Duration) (client.Event, error) {
	var timer *time.Timer
	if within > 0 {
		timer = time.AfterFunc(within, s.cancel)
	}
	ev, err := s.Parser.Next()
	switch {
	case err == nil || err == io.EOF:
	case timer != nil && !timer.Stop():
		err = fmt.Errorf("%w: no event within %v (%v)", ErrTimeout, within, err)
	case errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("%w: the request's deadline passed (%v)", ErrTimeout, err)
	}
	if timer != nil {
		timer.Stop()
	}
	return ev, err
}

// Close cancels the request and closes the body: the client goes away.
func (s *Stream) Close() {
	s.cancel()
	s.Response.Body.Close()
}

// Expect reads events and compares them with want, in order; with wantEnd
// it also requires the stream to end right after them. It fails the test at
// the first difference. Only the request's deadline bounds it; see
// [Stream.ExpectWithin].
func (s *Stream) Expect(t testing.TB, want []client.Event, wantEnd bool) {
	t.Helper()
	s.ExpectWithin(t, want, wantEnd, 0)
}

// ExpectWithin is [Stream.Expect] with each event (and the end) bounded by
// within, as [Stream.Next] does.
func (s *Stream) ExpectWithin(t testing.TB, want []client.Event, wantEnd bool, within time.Duration) {
	t.Helper()
	for i, w := range want {
		got, err := s.Next(within)
		if err != nil {
			t.Fatalf("event %d: got %s; want %s", i, expect.DescribeErr(err), expect.Describe(w))
		}
		if d := expect.DiffEvent(got, w); d != "" {
			t.Fatalf("event %d: %s", i, d)
		}
	}
	if !wantEnd {
		return
	}
	if got, err := s.Next(within); err != io.EOF {
		if err == nil {
			t.Fatalf("after %d events: got extra event %s; want the end of the stream", len(want), expect.Describe(got))
		}
		t.Fatalf("after %d events: got %s; want the end of the stream (io.EOF)", len(want), expect.DescribeErr(err))
	}
}
