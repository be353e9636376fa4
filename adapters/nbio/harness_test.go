package nbiosse_test

import (
	"context"
	"net/http"
	"testing"

	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
)

// harness serves a conformance handler on every path and method through
// nbiosse.Handle, on an nbhttp engine stopped when the test ends. nbhttp
// speaks HTTP/1.x only.
var harness = conformance.HarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) string {
	return serve(t, nbiosse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return h(request(r))
	}, opts...))
})

// request maps an nbhttp request to the suite's view of it. nbhttp reuses
// the request once the handler returns: the mapping holds copies, and no
// context that ends with the connection.
func request(r *http.Request) conformance.Request {
	return conformance.Request{
		Method:      r.Method,
		Path:        r.URL.Path,
		Query:       r.URL.RawQuery,
		LastEventID: nbiosse.LastEventID(r),
		Header:      r.Header.Clone(),
		Context:     context.Background(),
		Body:        r.Body,
	}
}

// TestHarness checks the harness's request mapping on its own.
func TestHarness(t *testing.T) { conformance.CheckHarness(t, harness) }
