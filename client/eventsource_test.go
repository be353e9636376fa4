package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout bounds every test: no iteration may run longer.
const testTimeout = 10 * time.Second

// request is what the server saw of one request.
type request struct {
	Method, Path, Body string
	Header             http.Header
}

// server is a loopback test server that records its requests and numbers
// them: handle gets hit 1 for the first request.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

func newServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, hit int)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, request{r.Method, r.URL.Path, string(body), r.Header.Clone()})
		hit := len(s.reqs)
		s.mu.Unlock()
		handle(w, r, hit)
	}))
	t.Cleanup(s.Close)
	return s
}

// requests returns the requests seen so far.
func (s *server) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// options returns fast, deterministic options for s: no jitter.
func (s *server) options() Options {
	return Options{Client: s.Client(), Retry: 10 * time.Millisecond, MaxRetry: 40 * time.Millisecond, Jitter: -1}
}

// stream answers 200 text/event-stream with body, flushed.
func stream(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/event-stream")
	_, _ = io.WriteString(w, body)
	w.(http.Flusher).Flush()
}

// noContent answers 204.
func noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// collect ranges over es.Events until the iteration ends, or until it has
// yielded max events (max > 0), and then breaks. It fails the test if the
// iteration outlives testTimeout. The context stays alive until the test
// ends, so that only the break can close the connection.
func collect(t *testing.T, es *EventSource, max int) ([]Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	var events []Event
	for ev, err := range es.Events(ctx) {
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("iteration still running after %v (events so far %q)", testTimeout, events)
			}
			return events, err
		}
		events = append(events, ev)
		if len(events) == max {
			break
		}
	}
	return events, nil
}

// wait fails the test unless c is closed or receives within testTimeout.
func wait(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(testTimeout):
		t.Fatalf("%s: not after %v", what, testTimeout)
	}
}

func ev(typ, data, id string) Event { return Event{Type: typ, Data: data, LastEventID: id} }

func TestOneConnection(t *testing.T) {
	t.Parallel()
	gone := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, hit int) {
		stream(w, ": hi\nevent: add\nid: 1\ndata: a\ndata: b\n\ndata: c\n\nid: 3\ndata: d\n\n")
		<-r.Context().Done()
		close(gone)
	})
	var opened []int
	var comments []string
	o := srv.options()
	o.OnOpen = func(resp *http.Response) { opened = append(opened, resp.StatusCode) }
	o.OnComment = func(text string) { comments = append(comments, text) }
	o.OnReconnect = func(err error, _ time.Duration) { t.Errorf("OnReconnect(%v): want no reconnection", err) }
	es := NewEventSource(srv.URL, o)

	// LastEventID may be read from another goroutine during the iteration.
	stop, polled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(polled)
		for range 1000 {
			select {
			case <-stop:
				return
			default:
				_ = es.LastEventID()
			}
		}
	}()
	events, err := collect(t, es, 3)
	close(stop)
	<-polled

	if err != nil {
		t.Fatalf("iteration ended with %v; want a break after 3 events", err)
	}
	want := []Event{ev("add", "a\nb", "1"), ev("message", "c", "1"), ev("message", "d", "3")}
	if !slices.Equal(events, want) {
		t.Errorf("events: got %q; want %q", events, want)
	}
	if got := es.LastEventID(); got != "3" {
		t.Errorf("LastEventID: got %q; want %q", got, "3")
	}
	if !slices.Equal(opened, []int{200}) {
		t.Errorf("OnOpen statuses: got %v; want [200]", opened)
	}
	if !slices.Equal(comments, []string{" hi"}) {
		t.Errorf("comments: got %q; want [\" hi\"]", comments)
	}
	wait(t, gone, "server sees the client go after break")
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests; want 1", len(reqs))
	}
	h := reqs[0].Header
	if reqs[0].Method != http.MethodGet || h.Get("Accept") != "text/event-stream" || h.Get("Cache-Control") != "no-cache" ||
		h.Values("Last-Event-ID") != nil {
		t.Errorf("request: got %s Accept=%q Cache-Control=%q Last-Event-ID=%q; want GET text/event-stream no-cache and no Last-Event-ID",
			reqs[0].Method, h.Get("Accept"), h.Get("Cache-Control"), h.Values("Last-Event-ID"))
	}
}

func TestReconnectResumes(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, hit int) {
		switch hit {
		case 1:
			stream(w, "id: 1\ndata: a\n\nid: 2\ndata: b\n\n")
		case 2:
			stream(w, "data: c\n\nid: 3\ndata: d\n\nid: 4\n\n") // ends with an id-only block
		default:
			noContent(w)
		}
	})
	type reconnect struct {
		err   error
		delay time.Duration
	}
	var reconnects []reconnect
	o := srv.options()
	o.OnReconnect = func(err error, d time.Duration) { reconnects = append(reconnects, reconnect{err, d}) }
	es := NewEventSource(srv.URL, o)
	events, err := collect(t, es, 0)
	if !errors.Is(err, ErrNoContent) {
		t.Errorf("final error: got %v; want ErrNoContent", err)
	}
	// The id persists into the second connection: c carries 2.
	want := []Event{ev("message", "a", "1"), ev("message", "b", "2"), ev("message", "c", "2"), ev("message", "d", "3")}
	if !slices.Equal(events, want) {
		t.Errorf("events: got %q; want %q", events, want)
	}
	var ids []string
	for _, r := range srv.requests() {
		ids = append(ids, r.Header.Get("Last-Event-ID"))
	}
	if want := []string{"", "2", "4"}; !slices.Equal(ids, want) {
		t.Errorf("Last-Event-ID per request: got %q; want %q", ids, want)
	}
	if got := es.LastEventID(); got != "4" {
		t.Errorf("LastEventID: got %q; want %q", got, "4")
	}
	wantReconnects := []reconnect{{io.EOF, 10 * time.Millisecond}, {io.EOF, 10 * time.Millisecond}}
	if !slices.Equal(reconnects, wantReconnects) {
		t.Errorf("OnReconnect calls: got %v; want %v", reconnects, wantReconnects)
	}
}

func TestServerRetry(t *testing.T) {
	t.Parallel()
	start := time.Now()
	var ended, started atomic.Int64 // time since start, set by the handler
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, hit int) {
		switch hit {
		case 1:
			stream(w, "retry: 50\ndata: x\n\n")
			ended.Store(int64(time.Since(start))) // before the body can end
		default:
			started.Store(int64(time.Since(start)))
			noContent(w)
		}
	})
	var delays []time.Duration
	o := srv.options()
	o.OnReconnect = func(_ error, d time.Duration) { delays = append(delays, d) }
	if _, err := collect(t, NewEventSource(srv.URL, o), 0); !errors.Is(err, ErrNoContent) {
		t.Fatalf("final error: got %v; want ErrNoContent", err)
	}
	if want := []time.Duration{50 * time.Millisecond}; !slices.Equal(delays, want) {
		t.Errorf("reconnection delays: got %v; want %v (the server's retry replaces Options.Retry)", delays, want)
	}
	if gap := time.Duration(started.Load() - ended.Load()); gap < 50*time.Millisecond {
		t.Errorf("reconnected %v after the stream ended; want at least 50ms", gap)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	const maxDur = time.Duration(math.MaxInt64)
	tests := []struct {
		base, maxWait time.Duration
		failures      int
		jitter, r     float64
		want          time.Duration
	}{
		// After a successful connection, or one failure: the reconnection time.
		{base: 10 * ms, maxWait: 100 * ms, failures: 0, want: 10 * ms},
		{base: 10 * ms, maxWait: 100 * ms, failures: 1, want: 10 * ms},
		// Then doubling, up to the cap.
		{base: 10 * ms, maxWait: 100 * ms, failures: 2, want: 20 * ms},
		{base: 10 * ms, maxWait: 100 * ms, failures: 3, want: 40 * ms},
		{base: 10 * ms, maxWait: 100 * ms, failures: 4, want: 80 * ms},
		{base: 10 * ms, maxWait: 100 * ms, failures: 5, want: 100 * ms},
		{base: 10 * ms, maxWait: 100 * ms, failures: 64, want: 100 * ms},
		{base: 10 * ms, maxWait: 100 * ms, failures: math.MaxInt, want: 100 * ms},
		// The cap never shortens a longer reconnection time the server set.
		{base: 5 * time.Second, maxWait: 100 * ms, failures: 0, want: 5 * time.Second},
		{base: 5 * time.Second, maxWait: 100 * ms, failures: 9, want: 5 * time.Second},
		// A zero reconnection time still backs off, from minBackoff.
		{base: 0, maxWait: time.Second, failures: 1, want: 0},
		{base: 0, maxWait: time.Second, failures: 3, want: 4 * minBackoff},
		{base: 0, maxWait: minBackoff / 2, failures: 3, want: minBackoff / 2},
		// No cap: doubling saturates instead of overflowing.
		{base: time.Second, maxWait: maxDur, failures: 34, want: time.Second << 33},
		{base: time.Second, maxWait: maxDur, failures: 35, want: maxDur},
		{base: time.Second, maxWait: maxDur, failures: 1000, want: maxDur},
		// Jitter only adds, up to jitter×wait.
		{base: 100 * ms, maxWait: time.Second, failures: 0, jitter: 0.2, r: 0, want: 100 * ms},
		{base: 100 * ms, maxWait: time.Second, failures: 0, jitter: 0.2, r: 0.5, want: 110 * ms},
		{base: 100 * ms, maxWait: time.Second, failures: 3, jitter: 0.5, r: 0.5, want: 500 * ms},
		{base: 100 * ms, maxWait: time.Second, failures: 9, jitter: 0.2, r: 0.999999, want: 1199999800 * time.Nanosecond},
		{base: maxDur, maxWait: time.Second, failures: 0, jitter: 0.2, r: 0.5, want: maxDur},
		{base: maxDur / 2, maxWait: time.Second, failures: 0, jitter: 1.5, r: 0.9, want: maxDur},
	}
	for _, tc := range tests {
		got := backoff(tc.base, tc.maxWait, tc.failures, tc.jitter, tc.r)
		if got != tc.want {
			t.Errorf("backoff(%v, %v, %d, %v, %v): got %v; want %v", tc.base, tc.maxWait, tc.failures, tc.jitter, tc.r, got, tc.want)
		}
	}
}

// TestReconnectBackoff checks the waits an EventSource chooses, the reset on
// success, and MaxReconnects.
func TestReconnectBackoff(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	empty := func(w http.ResponseWriter) { stream(w, "") }   // opens, then ends with no byte: a failure
	ping := func(w http.ResponseWriter) { stream(w, ":\n") } // a heartbeat: a success
	hangUp := func(w http.ResponseWriter) {                  // a network error: no response at all
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}
	tests := []struct {
		name          string
		maxReconnects int
		respond       []func(http.ResponseWriter) // per hit; noContent after the last
		wantDelays    []time.Duration
		wantErr       []error // the final error matches each
	}{
		{
			name:          "failures grow, are capped, and reach MaxReconnects",
			maxReconnects: 5,
			respond:       []func(http.ResponseWriter){empty, empty, empty, empty, empty, empty, empty},
			wantDelays:    []time.Duration{10 * ms, 20 * ms, 40 * ms, 40 * ms, 40 * ms},
			wantErr:       []error{ErrMaxReconnects, io.EOF},
		},
		{
			name:          "network errors count as failures",
			maxReconnects: 2,
			respond:       []func(http.ResponseWriter){hangUp, hangUp, hangUp, hangUp},
			wantDelays:    []time.Duration{10 * ms, 20 * ms},
			wantErr:       []error{ErrMaxReconnects},
		},
		{
			name:          "success resets the backoff and the reconnection count",
			maxReconnects: 1,
			respond:       []func(http.ResponseWriter){ping, ping, ping},
			wantDelays:    []time.Duration{10 * ms, 10 * ms, 10 * ms},
			wantErr:       []error{ErrNoContent},
		},
		{
			name:       "failures after a success",
			respond:    []func(http.ResponseWriter){ping, empty, empty, empty, ping, empty},
			wantDelays: []time.Duration{10 * ms, 10 * ms, 20 * ms, 40 * ms, 10 * ms, 10 * ms},
			wantErr:    []error{ErrNoContent},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, hit int) {
				if hit > len(tc.respond) {
					noContent(w)
					return
				}
				tc.respond[hit-1](w)
			})
			var delays []time.Duration
			o := srv.options()
			o.MaxReconnects = tc.maxReconnects
			o.OnReconnect = func(_ error, d time.Duration) { delays = append(delays, d) }
			events, err := collect(t, NewEventSource(srv.URL, o), 0)
			if len(events) != 0 {
				t.Errorf("got events %q; want none", events)
			}
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("final error %v: does not match %v", err, want)
				}
			}
			if !slices.Equal(delays, tc.wantDelays) {
				t.Errorf("reconnection delays: got %v; want %v", delays, tc.wantDelays)
			}
			if got, want := len(srv.requests()), len(tc.wantDelays)+1; got != want {
				t.Errorf("got %d requests; want %d", got, want)
			}
		})
	}
}

// TestResponseHandling checks which responses open the stream and which end
// the iteration for good, without reconnecting.
func TestResponseHandling(t *testing.T) {
	t.Parallel()
	ok := func(contentType string) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = []string{contentType}
			_, _ = io.WriteString(w, "data: ok\n\n")
		}
	}
	status := func(code int) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", code) }
	}
	tests := []struct {
		name    string
		respond func(http.ResponseWriter, *http.Request)
		wantErr func(error) bool // nil: the stream opens
	}{
		{"event stream", ok("text/event-stream"), nil},
		{"charset parameter", ok("text/event-stream; charset=utf-8"), nil},
		{"media type case", ok("Text/Event-Stream"), nil},
		{"invalid parameter", ok("text/event-stream;charset="), nil},
		{"redirect followed", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/" {
				http.Redirect(w, r, "/moved", http.StatusTemporaryRedirect)
				return
			}
			ok("text/event-stream")(w, r)
		}, nil},
		{"204 No Content", func(w http.ResponseWriter, r *http.Request) { noContent(w) },
			func(err error) bool { return err == ErrNoContent }},
		{"500", status(500), isStatus(500)},
		{"404", status(404), isStatus(404)},
		{"503", status(503), isStatus(503)},
		{"201", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }, isStatus(201)},
		{"text/plain", ok("text/plain; charset=utf-8"), isContentType},
		{"no content type", ok(""), isContentType},
		{"similar type", ok("text/event-streams"), isContentType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, hit int) { tc.respond(w, r) })
			o := srv.options()
			o.OnReconnect = func(err error, _ time.Duration) { t.Errorf("OnReconnect(%v): want none", err) }
			events, err := collect(t, NewEventSource(srv.URL, o), 1)
			if tc.wantErr == nil {
				if err != nil || !slices.Equal(events, []Event{ev("message", "ok", "")}) {
					t.Errorf("got %q, %v; want the event and no error", events, err)
				}
				return
			}
			if len(events) != 0 || !tc.wantErr(err) {
				t.Errorf("got %q, error %v (%T); want no event and the right error", events, err, err)
			}
			if n := len(srv.requests()); n != 1 {
				t.Errorf("got %d requests; want 1: no reconnection", n)
			}
		})
	}
}

func isStatus(code int) func(error) bool {
	return func(err error) bool {
		var se *StatusError
		return errors.As(err, &se) && se.Code == code && se.StatusCode() == code &&
			strings.Contains(err.Error(), strconv.Itoa(code))
	}
}

func isContentType(err error) bool { return errors.Is(err, ErrContentType) }

// TestCancel cancels the context at each stage of the iteration: it must end
// at once with ctx.Err() and close any connection.
func TestCancel(t *testing.T) {
	t.Parallel()
	type env struct {
		cancel context.CancelFunc
		got    chan struct{} // closed by the loop body at the first event
	}
	tests := []struct {
		name   string
		handle func(e *env, w http.ResponseWriter, r *http.Request)
		onEv   func(e *env) // called from the loop body for each event
		retry  time.Duration
		onWait func(e *env) // OnReconnect
	}{
		{name: "while connecting", handle: func(e *env, w http.ResponseWriter, r *http.Request) {
			e.cancel() // the client is waiting for the response headers
			<-r.Context().Done()
		}},
		{name: "while reading", handle: func(e *env, w http.ResponseWriter, r *http.Request) {
			stream(w, "data: x\n\n")
			select {
			case <-e.got: // the client has the event and reads on
			case <-r.Context().Done(): // the test failed and gave up
			}
			e.cancel()
			<-r.Context().Done()
		}, onEv: func(e *env) { close(e.got) }},
		{name: "in the loop body", handle: func(e *env, w http.ResponseWriter, r *http.Request) {
			stream(w, "data: x\n\ndata: y\n\n")
			<-r.Context().Done()
		}, onEv: func(e *env) { e.cancel() }},
		{name: "while waiting to reconnect", retry: time.Hour, handle: func(e *env, w http.ResponseWriter, r *http.Request) {
			stream(w, "data: x\n\n")
		}, onWait: func(e *env) { e.cancel() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			e := &env{cancel: cancel, got: make(chan struct{})}
			gone := make(chan struct{})
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, hit int) {
				if hit > 1 {
					t.Errorf("request %d: want no reconnection", hit)
					return
				}
				defer close(gone)
				tc.handle(e, w, r)
			})
			o := srv.options()
			if tc.retry > 0 {
				o.Retry = tc.retry
			}
			if tc.onWait != nil {
				o.OnReconnect = func(error, time.Duration) { tc.onWait(e) }
			}
			es := NewEventSource(srv.URL, o)
			done := make(chan struct{})
			var errs []error
			var events int
			go func() {
				defer close(done)
				for _, err := range es.Events(ctx) {
					if err != nil {
						errs = append(errs, err)
						continue // the iteration must end by itself
					}
					if events++; events == 1 && tc.onEv != nil {
						tc.onEv(e)
					}
				}
			}()
			wait(t, done, "iteration ends after cancel")
			if len(errs) != 1 || errs[0] != context.Canceled {
				t.Errorf("errors yielded: got %v; want exactly [context.Canceled]", errs)
			}
			if events > 1 {
				t.Errorf("got %d events after cancelling in the loop body; want 1", events)
			}
			wait(t, gone, "server sees the request end")
		})
	}
}

// TestBreak checks that breaking out of the loop closes the connection, on an
// idle stream and on one the server keeps writing to.
func TestBreak(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		handle func(w http.ResponseWriter, r *http.Request)
	}{
		{"idle stream", func(w http.ResponseWriter, r *http.Request) {
			stream(w, "data: x\n\n")
			<-r.Context().Done()
		}},
		{"busy stream", func(w http.ResponseWriter, r *http.Request) {
			stream(w, "data: x\n\n")
			for i := range 1_000_000 { // until the write fails, bounded
				if _, err := fmt.Fprintf(w, "data: %d\n\n", i); err != nil {
					return
				}
				if r.Context().Err() != nil {
					return
				}
			}
			t.Error("the server could write a million events after the client broke off")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gone := make(chan struct{})
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, hit int) {
				defer close(gone)
				tc.handle(w, r)
			})
			events, err := collect(t, NewEventSource(srv.URL, srv.options()), 1)
			if err != nil || len(events) != 1 {
				t.Fatalf("got %q, %v; want one event", events, err)
			}
			wait(t, gone, "server sees the client go after break")
		})
	}
}

func TestRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      func(*Options)
		wantFirst Event // the stream's first event (sent with no id)
		check     func(t *testing.T, reqs []request)
	}{
		{
			name:      "defaults",
			wantFirst: ev("message", "x", ""),
			check: func(t *testing.T, reqs []request) {
				for i, r := range reqs {
					if r.Method != "GET" || r.Path != "/" || r.Header.Get("Accept") != "text/event-stream" ||
						r.Header.Get("Cache-Control") != "no-cache" {
						t.Errorf("request %d: got %s %s %v", i, r.Method, r.Path, r.Header)
					}
				}
			},
		},
		{
			name: "custom headers",
			opts: func(o *Options) {
				o.Header = http.Header{"Authorization": {"Bearer t"}, "x-custom": {"1", "2"},
					"Accept": {"text/event-stream, */*"}, "Last-Event-ID": {"spoofed"}}
			},
			wantFirst: ev("message", "x", ""),
			check: func(t *testing.T, reqs []request) {
				ids := []string{"", "5"}
				for i, r := range reqs {
					if r.Header.Get("Authorization") != "Bearer t" || !slices.Equal(r.Header.Values("X-Custom"), []string{"1", "2"}) ||
						r.Header.Get("Accept") != "text/event-stream, */*" || r.Header.Get("Last-Event-ID") != ids[i] {
						t.Errorf("request %d: got headers %v; want the custom ones and Last-Event-ID %q", i, r.Header, ids[i])
					}
				}
			},
		},
		{
			name:      "initial last event ID",
			opts:      func(o *Options) { o.LastEventID = "7" },
			wantFirst: ev("message", "x", "7"),
			check: func(t *testing.T, reqs []request) {
				if got := reqs[0].Header.Get("Last-Event-ID"); got != "7" {
					t.Errorf("first request: got Last-Event-ID %q; want %q", got, "7")
				}
			},
		},
		{
			name: "custom request",
			opts: func(o *Options) {
				o.NewRequest = func(ctx context.Context, url string) (*http.Request, error) {
					req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/query", strings.NewReader(`{"q":1}`))
					if err == nil {
						req.Header.Set("Content-Type", "application/json")
					}
					return req, err
				}
			},
			wantFirst: ev("message", "x", ""),
			check: func(t *testing.T, reqs []request) {
				ids := []string{"", "5"}
				for i, r := range reqs {
					if r.Method != "POST" || r.Path != "/query" || r.Body != `{"q":1}` || r.Header.Get("Content-Type") != "application/json" ||
						r.Header.Get("Accept") != "text/event-stream" || r.Header.Get("Last-Event-ID") != ids[i] {
						t.Errorf("request %d: got %s %s %q %v; want POST /query with the body and Last-Event-ID %q",
							i, r.Method, r.Path, r.Body, r.Header, ids[i])
					}
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, hit int) {
				if hit == 1 {
					stream(w, "data: x\n\nid: 5\ndata: y\n\n")
					return
				}
				noContent(w)
			})
			o := srv.options()
			if tc.opts != nil {
				tc.opts(&o)
			}
			events, err := collect(t, NewEventSource(srv.URL, o), 0)
			if want := []Event{tc.wantFirst, ev("message", "y", "5")}; !slices.Equal(events, want) {
				t.Errorf("events: got %q; want %q", events, want)
			}
			if !errors.Is(err, ErrNoContent) {
				t.Errorf("final error: got %v; want ErrNoContent", err)
			}
			reqs := srv.requests()
			if len(reqs) != 2 {
				t.Fatalf("got %d requests; want 2", len(reqs))
			}
			tc.check(t, reqs)
		})
	}
}

// TestRequestError checks that a request that cannot be built ends the
// iteration for good.
func TestRequestError(t *testing.T) {
	t.Parallel()
	errFactory := errors.New("factory failed")
	tests := []struct {
		name    string
		url     string
		factory func(context.Context, string) (*http.Request, error)
		want    func(error) bool
	}{
		{"bad URL", "http://[::1", nil, func(err error) bool {
			var ue *url.Error
			return errors.As(err, &ue)
		}},
		{"factory error", "http://127.0.0.1:1", func(context.Context, string) (*http.Request, error) { return nil, errFactory },
			func(err error) bool { return err == errFactory }},
		{"factory returns nil", "http://127.0.0.1:1", func(context.Context, string) (*http.Request, error) { return nil, nil },
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "nil request") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := Options{NewRequest: tc.factory, OnReconnect: func(err error, _ time.Duration) { t.Errorf("OnReconnect(%v): want none", err) }}
			events, err := collect(t, NewEventSource(tc.url, o), 0)
			if len(events) != 0 || !tc.want(err) {
				t.Errorf("got %q, %v; want no event and the request error", events, err)
			}
		})
	}
}

// TestNetHTTPEndToEnd runs the client against the real net/http adapter: the
// first stream sends ids 0..4 and ends, the second resumes after the
// Last-Event-ID it receives.
func TestNetHTTPEndToEnd(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var lastIDs []string
	ends := make(chan error, 2)
	h := nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		last := nethttpsse.LastEventID(r)
		mu.Lock()
		lastIDs = append(lastIDs, last)
		mu.Unlock()
		from := 0
		if last != "" {
			n, err := strconv.Atoi(last)
			if err != nil {
				return nil, core.Error(http.StatusBadRequest, "bad Last-Event-ID")
			}
			from = n + 1
		}
		tg := core.NewTarget()
		for i := from; i < min(from+5, 10); i++ {
			// Every message sets a short reconnection time.
			if err := tg.Dispatch(core.Message{ID: strconv.Itoa(i), Data: fmt.Sprint("event ", i), Retry: 10 * time.Millisecond}); err != nil {
				return nil, err
			}
		}
		if from == 0 {
			tg.Close() // the first stream ends after 0..4
		}
		return tg, nil
	}, core.WithOnEnd(func(err error) { ends <- err }))
	srv := httptest.NewServer(h)
	defer srv.Close()

	// Default options but the client: the reconnection time comes from the server.
	es := NewEventSource(srv.URL, Options{Client: srv.Client()})
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	seen := map[string]int{}
	for ev, err := range es.Events(ctx) {
		if err != nil {
			t.Fatalf("iteration ended with %v after %v", err, seen)
		}
		if want := "event " + ev.LastEventID; ev.Type != "message" || ev.Data != want {
			t.Errorf("got %q; want a message %q", ev, want)
		}
		seen[ev.LastEventID]++
		if ev.LastEventID == "9" {
			break
		}
	}
	for i := range 10 {
		if n := seen[strconv.Itoa(i)]; n != 1 {
			t.Errorf("event %d seen %d times; want once", i, n)
		}
	}
	if len(seen) != 10 {
		t.Errorf("got ids %v; want 0..9", seen)
	}
	// The first stream ended normally; the second because the client broke off.
	for i, want := range []error{nil, core.ErrClientGone} {
		select {
		case err := <-ends:
			if err != want {
				t.Errorf("stream %d ended with %v; want %v", i, err, want)
			}
		case <-time.After(testTimeout):
			t.Fatalf("stream %d did not end", i)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"", "4"}; !slices.Equal(lastIDs, want) {
		t.Errorf("Last-Event-ID per request: got %q; want %q", lastIDs, want)
	}
}
