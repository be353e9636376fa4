package ginsse_test

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	ginsse "github.com/ssekit/ssekit/adapters/gin"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
)

// harness answers a conformance handler on every path and method of a gin
// engine, through Handle; the suite serves it over HTTP/1.1, h2 and h2c.
var harness = conformance.HandlerHarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) http.Handler {
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
	return r
})

// TestHarness checks the harness's request mapping on its own.
func TestHarness(t *testing.T) { conformance.CheckHarness(t, harness) }
