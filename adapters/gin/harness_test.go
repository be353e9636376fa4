package ginsse_test

import (
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	ginsse "github.com/ssekit/ssekit/adapters/gin"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
)

// harness serves a conformance handler on every path and method of a gin
// engine, through Handle.
var harness = conformance.HarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) string {
	r := gin.New()
	r.Any("/*path", ginsse.Handle(func(c *gin.Context) (core.EventTarget, error) {
		return h(conformance.Request{
			Method:      c.Request.Method,
			Path:        c.Request.URL.Path,
			Query:       c.Request.URL.RawQuery,
			LastEventID: ginsse.LastEventID(c),
			Header:      c.Request.Header,
			Context:     c.Request.Context(),
			Body:        c.Request.Body,
		})
	}, opts...))
	ts := httptest.NewServer(r)
	t.Cleanup(ts.Close)
	return ts.URL
})

// TestHarness checks the harness's request mapping on its own.
func TestHarness(t *testing.T) { conformance.CheckHarness(t, harness) }
