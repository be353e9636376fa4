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

// A harness for an adapter serving plain net/http: here the package's own
// net/http adapter, nethttpsse.Handle, stands for "your adapter". The test
// function is shown as a comment, since an example has no *testing.T.
func Example() {
	harness := conformance.HarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) string {
		srv := httptest.NewServer(nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
			return h(conformance.Request{
				Method:      r.Method,
				Path:        r.URL.Path,
				Query:       r.URL.RawQuery,
				LastEventID: nethttpsse.LastEventID(r),
				Header:      r.Header,
				Context:     r.Context(),
				Body:        r.Body,
			})
		}, opts...))
		t.Cleanup(srv.Close)
		return srv.URL
	})

	// In the adapter's tests:
	//
	//	func TestConformance(t *testing.T) {
	//		conformance.Run(t, harness)
	//	}
	_ = harness
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
