package ginsse_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	ginsse "github.com/ssekit/ssekit/adapters/gin"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
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
		})
	}, opts...))
	ts := httptest.NewServer(r)
	t.Cleanup(ts.Close)
	return ts.URL
})

// TestHarness checks the harness's request mapping on its own, including the
// root path and a method other than GET.
func TestHarness(t *testing.T) {
	got := make(chan conformance.Request, 1)
	base := harness.Serve(t, func(r conformance.Request) (core.EventTarget, error) {
		got <- r
		tg := core.NewTarget()
		tg.Close()
		return tg, nil
	})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: ssetest.Timeout}
	for _, tc := range []struct{ method, path, query string }{
		{http.MethodGet, "/", ""},
		{http.MethodPost, "/a/b", "x=1&y=2"},
	} {
		req, err := http.NewRequest(tc.method, base+tc.path+"?"+tc.query, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Last-Event-ID", "7")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		r := <-got
		if resp.StatusCode != http.StatusOK || r.Method != tc.method || r.Path != tc.path || r.Query != tc.query ||
			r.LastEventID != "7" || r.Header.Get("Last-Event-ID") != "7" || r.Context == nil {
			t.Errorf("%s %s?%s: got %d %+v", tc.method, tc.path, tc.query, resp.StatusCode, r)
		}
	}
}
