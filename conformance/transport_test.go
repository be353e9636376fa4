package conformance_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
)

// nethttpHandlerHarness is the net/http adapter as a HandlerHarness: the
// suite serves it over every transport.
var nethttpHandlerHarness = conformance.HandlerHarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) http.Handler {
	return nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) { return h(request(r)) }, opts...)
})

// TestReferenceHarnessTransports runs the suite on the net/http adapter over
// HTTP/1.1, h2 and h2c, so a change to the suite is checked on every
// transport here.
func TestReferenceHarnessTransports(t *testing.T) {
	conformance.Run(t, nethttpHandlerHarness)
}

func TestHarnessTransports(t *testing.T) {
	if got, want := conformance.HarnessTransports(nethttpHandlerHarness), []conformance.Transport{conformance.HTTP1, conformance.H2, conformance.H2C}; !slices.Equal(got, want) {
		t.Errorf("HarnessTransports(a HandlerHarness): got %v; want %v", got, want)
	}
	if got, want := conformance.HarnessTransports(nethttpHarness), []conformance.Transport{conformance.HTTP1}; !slices.Equal(got, want) {
		t.Errorf("HarnessTransports(a base-URL Harness): got %v; want %v", got, want)
	}
}

func TestCheckHarnessTransports(t *testing.T) { conformance.CheckHarness(t, nethttpHandlerHarness) }

// plainWriter hides every optional interface of the ResponseWriter but
// Flush: no Unwrap, so the adapter cannot set write deadlines.
type plainWriter struct{ w http.ResponseWriter }

func (p plainWriter) Header() http.Header         { return p.w.Header() }
func (p plainWriter) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p plainWriter) WriteHeader(code int)        { p.w.WriteHeader(code) }
func (p plainWriter) Flush()                      { p.w.(http.Flusher).Flush() }

// brokenOverH2 are defects the suite must catch on every transport, HTTP/2
// included, each with the scenarios it must fail.
var brokenOverH2 = []struct {
	name    string
	wrap    func(http.Handler) http.Handler
	failing []string // KnownFailing names
	skip    []string // Skip names
}{
	{"connection-keep-alive", func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "keep-alive")
			w.Header().Set("Keep-Alive", "timeout=5")
			h.ServeHTTP(w, r)
		})
	}, []string{"headers"}, nil},
	{"content-type-charset", func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(headerOverride{w, "Content-Type", "text/event-stream; charset=utf-8"}, r)
		})
	}, []string{"headers"}, nil},
	// A client that stops reading blocks a write forever: over HTTP/2, on
	// flow control. (Over HTTP/1.1, TestBrokenAdaptersFail checks it.)
	{"no-write-deadline", func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(plainWriter{w}, r) })
	}, []string{"h2/stalled-reader", "h2c/stalled-reader"}, []string{"http1/stalled-reader"}},
}

// headerOverride sets one header just before the status is written.
type headerOverride struct {
	http.ResponseWriter
	k, v string
}

func (h headerOverride) WriteHeader(code int) {
	h.Header().Set(h.k, h.v)
	h.ResponseWriter.WriteHeader(code)
}

func (h headerOverride) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// TestBrokenOverH2 proves that the suite catches these defects over h2 and
// h2c as over HTTP/1.1: each broken handler must fail exactly its
// scenarios (KnownFailing fails the run if one passes). It runs in parallel
// with the other parallel tests, so without leak checks.
func TestBrokenOverH2(t *testing.T) {
	t.Parallel()
	for _, tc := range brokenOverH2 {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := conformance.HandlerHarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) http.Handler {
				return tc.wrap(nethttpHandlerHarness(t, h, opts...))
			})
			var pick []conformance.Scenario
			for _, s := range conformance.Scenarios() {
				if slices.ContainsFunc(tc.failing, func(n string) bool { return n == s.Name || strings.HasSuffix(n, "/"+s.Name) }) {
					pick = append(pick, s)
				}
			}
			conformance.RunScenarios(t, h, pick, conformance.KnownFailing(tc.failing...), conformance.Skip(tc.skip...),
				conformance.NoLeakCheck())
		})
	}
}
