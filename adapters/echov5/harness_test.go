package echov5sse_test

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/labstack/echo/v5"

	echov5sse "github.com/ssekit/ssekit/adapters/echov5"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// harness answers a conformance handler on every path and method of an Echo
// instance, through Handle; the suite serves it over HTTP/1.1, h2 and h2c
// (and fails the test if net/http logs anything). Once the server is closed
// it fails the test if Echo logged anything.
var harness = conformance.HandlerHarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) http.Handler {
	e := echo.New()
	var log ssetest.LogBuffer
	e.Logger = slog.New(slog.NewTextHandler(&log, nil))
	e.Any("/*", echov5sse.Handle(func(c *echo.Context) (core.EventTarget, error) {
		return h(request(c))
	}, opts...))
	t.Cleanup(func() { // after the suite has closed the server
		if s := log.String(); s != "" {
			t.Errorf("Echo logged: %s", s)
		}
	})
	return e
})

// request maps what a conformance handler sees out of c.
func request(c *echo.Context) conformance.Request {
	r := c.Request()
	return conformance.Request{
		Method:      r.Method,
		Path:        r.URL.Path,
		Query:       r.URL.RawQuery,
		LastEventID: echov5sse.LastEventID(c),
		Header:      r.Header,
		Context:     r.Context(),
		Body:        r.Body,
	}
}

// TestHarness checks the harness's request mapping on its own.
func TestHarness(t *testing.T) { conformance.CheckHarness(t, harness) }
