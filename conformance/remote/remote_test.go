package remote_test

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/conformance/remote"
	"github.com/ssekit/ssekit/core"
)

var update = flag.Bool("update", false, "rewrite docs/protocol.md")

// notRemote lists the scenarios that cannot be checked remotely.
var notRemote = []string{"shutdown", "producer-after-disconnect", "refused-after-shutdown", "on-end-every-request"}

// serveProtocol serves the scenario protocol through the net/http adapter,
// its writer wrapped by wrap (if not nil), and returns the base URL.
func serveProtocol(t *testing.T, wrap func(http.ResponseWriter) http.ResponseWriter) string {
	t.Helper()
	h := remote.ProtocolHandler(remote.Scenarios(), func(h conformance.Handler, opts ...core.Option) http.Handler {
		inner := nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) { return h(request(r)) }, opts...)
		if wrap == nil {
			return inner
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { inner.ServeHTTP(wrap(w), r) })
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestRemoteScenarios checks the list: one per scenario of the suite, in
// order, each with a route and a handler unless it cannot be checked
// remotely.
func TestRemoteScenarios(t *testing.T) {
	suite := conformance.Scenarios()
	forms := remote.Scenarios()
	if len(forms) != len(suite) {
		t.Fatalf("got %d remote scenarios; want %d, one per scenario", len(forms), len(suite))
	}
	for i, r := range forms {
		if r.Name != suite[i].Name {
			t.Errorf("remote scenario %d: got %q; want %q", i, r.Name, suite[i].Name)
		}
		switch {
		case slices.Contains(notRemote, r.Name):
			if r.Form != remote.None || r.Handler != nil || r.Note == "" {
				t.Errorf("%s: got form %v, a handler %v, note %q; want none, no handler, a note", r.Name, r.Form, r.Handler != nil, r.Note)
			}
		case r.Form == remote.None:
			t.Errorf("%s: not checkable remotely; want a remote form", r.Name)
		case r.Handler == nil || len(r.Requests) == 0 || r.Requests[0].Path != r.Path():
			t.Errorf("%s: no handler, or no request to %s", r.Name, r.Path())
		case r.Form == remote.Weaker && r.Note == "":
			t.Errorf("%s: a weaker form that does not say what it leaves out", r.Name)
		}
	}
}

// TestRemoteReference runs the remote forms against the reference: the
// net/http adapter serving the protocol. Everything checkable passes.
func TestRemoteReference(t *testing.T) {
	t.Parallel()
	base := serveProtocol(t, nil)
	var seen []string
	results := remote.Check(t.Context(), base, remote.Scenarios(), remote.Options{
		OnResult: func(r remote.Result) { seen = append(seen, r.Name) },
	})
	for _, r := range results {
		want := remote.Pass
		if slices.Contains(notRemote, r.Name) {
			want = remote.NotCheckable
		}
		if r.Outcome != want {
			t.Errorf("%s: got %v; want %v: %q", r.Name, r.Outcome, want, r.Messages)
		}
	}
	if len(seen) != len(results) {
		t.Errorf("OnResult was called %d times; want %d", len(seen), len(results))
	}
}

// TestRemoteUnderPrefix checks a base URL with a path: routes are relative
// to it, the raw-connection scenario included.
func TestRemoteUnderPrefix(t *testing.T) {
	t.Parallel()
	h := remote.ProtocolHandler(remote.Scenarios(), func(h conformance.Handler, opts ...core.Option) http.Handler {
		return nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) { return h(request(r)) }, opts...)
	})
	mux := http.NewServeMux()
	mux.Handle("/sse/", http.StripPrefix("/sse", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	var pick []remote.Scenario
	for _, s := range remote.Scenarios() {
		if slices.Contains([]string{"ids", "handler-panic", "last-event-id", "stalled-reader", "shutdown"}, s.Name) {
			pick = append(pick, s)
		}
	}
	for _, r := range remote.Check(t.Context(), srv.URL+"/sse/", pick, remote.Options{Parallel: 1}) {
		if r.Outcome == remote.Fail {
			t.Errorf("%s: %q", r.Name, r.Messages)
		}
	}
}

// noFlush is a writer whose Flush does nothing: the server's buffers decide
// when bytes leave. Unwrap still reaches the connection's write deadline.
type noFlush struct{ http.ResponseWriter }

func (noFlush) Flush()                        {}
func (w noFlush) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// headerOver sets a header over the adapter's on event streams.
type headerOver struct {
	http.ResponseWriter
	name, value string
}

func (w headerOver) WriteHeader(code int) {
	if w.Header().Get("Content-Type") == "text/event-stream" {
		w.Header().Set(w.name, w.value)
	}
	w.ResponseWriter.WriteHeader(code)
}
func (w headerOver) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestRemoteBroken checks that the remote forms catch broken servers, and
// blame the right scenarios.
func TestRemoteBroken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		wrap    func(http.ResponseWriter) http.ResponseWriter
		failing []string
	}{
		{"no-flush", func(w http.ResponseWriter) http.ResponseWriter { return noFlush{w} }, []string{
			"heartbeat", "flush-per-event", "headers", "headers-before-first-event", "client-disconnect-idle",
		}},
		{"charset", func(w http.ResponseWriter) http.ResponseWriter {
			return headerOver{w, "Content-Type", "text/event-stream; charset=utf-8"}
		}, []string{"headers"}},
		{"casing", func(w http.ResponseWriter) http.ResponseWriter {
			return headerOver{w, "Content-Type", "Text/Event-Stream"}
		}, []string{"headers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := serveProtocol(t, tc.wrap)
			for _, r := range remote.Check(t.Context(), base, remote.Scenarios(), remote.Options{}) {
				want := remote.Pass
				switch {
				case slices.Contains(notRemote, r.Name):
					want = remote.NotCheckable
				case slices.Contains(tc.failing, r.Name):
					want = remote.Fail
				}
				if r.Outcome != want {
					t.Errorf("%s: got %v; want %v: %q", r.Name, r.Outcome, want, r.Messages)
				}
			}
		})
	}
}

// TestRemoteCancelled checks that a cancelled run reports every checkable
// scenario as failed (not run), at once.
func TestRemoteCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, r := range remote.Check(ctx, "http://127.0.0.1:1", remote.Scenarios(), remote.Options{}) {
		switch {
		case r.Form == remote.None && r.Outcome != remote.NotCheckable,
			r.Form != remote.None && (r.Outcome != remote.Fail || !strings.Contains(r.Messages[0], "not run")):
			t.Errorf("%s: got %v %q", r.Name, r.Outcome, r.Messages)
		}
	}
}

// TestProtocolBytes checks the protocol against the scenarios: the bytes of
// each stream parse to what its client must see.
func TestProtocolBytes(t *testing.T) {
	entries, err := remote.Protocol(remote.Scenarios())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(entries), len(conformance.Scenarios())-len(notRemote); got != want {
		t.Errorf("got %d entries; want %d", got, want)
	}
	for _, e := range entries {
		for _, ex := range e.Exchanges {
			rq := ex.Request
			if ex.Status != rq.WantStatus {
				t.Errorf("%s %s: got status %d; want %d", e.Name, rq.Path, ex.Status, rq.WantStatus)
				continue
			}
			if ex.Status != http.StatusOK {
				continue
			}
			got := client.ParseAll([]byte(ex.Body))
			if rq.WantEnd && len(got) != len(rq.Want) || len(got) < len(rq.Want) && !ex.Endless {
				t.Errorf("%s %s: the bytes parse to %d events; want %d", e.Name, rq.Path, len(got), len(rq.Want))
				continue
			}
			for i := range min(len(got), len(rq.Want)) {
				if got[i] != rq.Want[i] {
					t.Errorf("%s %s: event %d: got %+q; want %+q", e.Name, rq.Path, i, shortEvent(got[i]), shortEvent(rq.Want[i]))
				}
			}
		}
	}
}

// protocolDoc is the generated document, relative to this package.
const protocolDoc = "../../docs/protocol.md"

// TestProtocolDoc keeps docs/protocol.md, the scenario protocol, equal to
// what the scenarios generate.
func TestProtocolDoc(t *testing.T) {
	var want bytes.Buffer
	if err := remote.WriteProtocol(&want, remote.Scenarios()); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(protocolDoc, want.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("docs/protocol.md is out of date: run go test ./conformance/remote -run TestProtocolDoc -update")
	}
}
