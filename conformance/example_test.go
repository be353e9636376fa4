package conformance_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
)

// A harness for an adapter built on net/http: here the package's own net/http
// adapter, nethttpsse.Handle, stands for "your adapter". The harness returns
// the adapter's http.Handler and the suite serves it itself over HTTP/1.1,
// HTTP/2 over TLS and h2c, so the subtests are TestConformance/http1/...,
// TestConformance/h2/... and TestConformance/h2c/.... The test function is
// shown as a comment, since an example has no *testing.T.
func Example() {
	harness := conformance.HandlerHarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) http.Handler {
		return nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
			return h(conformance.Request{
				Method:      r.Method,
				Path:        r.URL.Path,
				Query:       r.URL.RawQuery,
				LastEventID: nethttpsse.LastEventID(r),
				Header:      r.Header,
				Context:     r.Context(),
				Body:        r.Body,
			})
		}, opts...)
	})

	// In the adapter's tests:
	//
	//	func TestConformance(t *testing.T) {
	//		conformance.Run(t, harness)
	//	}
	fmt.Println(conformance.HarnessTransports(harness))
	// Output: [http1 h2 h2c]
}

// A harness that starts its server itself and gives only its base URL, as one
// for a framework that is not an http.Handler must (fasthttp has no HTTP/2):
// the suite then runs over HTTP/1.1 only.
func ExampleHarnessFunc() {
	harness := conformance.HarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) string {
		srv := httptest.NewServer(nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
			return h(conformance.Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
				LastEventID: nethttpsse.LastEventID(r), Header: r.Header, Context: r.Context(), Body: r.Body})
		}, opts...))
		t.Cleanup(srv.Close)
		return srv.URL
	})
	fmt.Println(conformance.HarnessTransports(harness))
	// Output: [http1]
}

// Scenarios are data: a runner for another client lists them, serves each
// Handler and holds its client to Want and WantEnd.
func ExampleScenarios() {
	for _, s := range conformance.Scenarios()[:3] {
		fmt.Println(s.Name, len(s.Want), s.WantEnd)
	}
	// Output:
	// danet-example 5 true
	// ids 5 true
	// retry 2 true
}
