package echosse_test

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	echosse "github.com/ssekit/ssekit/adapters/echo"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
)

// harness answers a conformance handler on every path and method of an Echo
// instance, through Handle; the suite serves it over HTTP/1.1, h2 and h2c.
var harness = conformance.HandlerHarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) http.Handler {
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
	return e
})

// TestHarness checks the harness's request mapping on its own.
func TestHarness(t *testing.T) { conformance.CheckHarness(t, harness) }
