package echosse_test

import (
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	echosse "github.com/ssekit/ssekit/adapters/echo"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
)

// harness serves a conformance handler on every path and method of an Echo
// instance, through Handle.
var harness = conformance.HarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) string {
	e := echo.New()
	e.Any("/*", echosse.Handle(func(c echo.Context) (core.EventTarget, error) {
		r := c.Request()
		return h(conformance.Request{
			Method:      r.Method,
			Path:        r.URL.Path,
			Query:       r.URL.RawQuery,
			LastEventID: echosse.LastEventID(c),
			Header:      r.Header,
			Context:     r.Context(),
			Body:        r.Body,
		})
	}, opts...))
	ts := httptest.NewServer(e)
	t.Cleanup(ts.Close)
	return ts.URL
})

// TestHarness checks the harness's request mapping on its own.
func TestHarness(t *testing.T) { conformance.CheckHarness(t, harness) }
