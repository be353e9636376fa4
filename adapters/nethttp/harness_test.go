package nethttpsse_test

import (
	"net/http"
	"testing"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
)

// harness answers a conformance handler on every path and method through
// Handle; the suite serves it over HTTP/1.1, h2 and h2c.
var harness = conformance.HandlerHarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) http.Handler {
	return nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return h(request(r))
	}, opts...)
})

// request maps a net/http request to the suite's view of it.
func request(r *http.Request) conformance.Request {
	return conformance.Request{
		Method:      r.Method,
		Path:        r.URL.Path,
		Query:       r.URL.RawQuery,
		LastEventID: nethttpsse.LastEventID(r),
		Header:      r.Header,
		Context:     r.Context(),
		Body:        r.Body,
	}
}

// TestHarness checks the harness's request mapping on its own.
func TestHarness(t *testing.T) { conformance.CheckHarness(t, harness) }
