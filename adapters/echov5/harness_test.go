package echov5sse_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/labstack/echo/v5"

	echov5sse "github.com/ssekit/ssekit/adapters/echov5"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// harness serves a conformance handler on every path and method of an Echo
// instance, through Handle. Once the server is closed it fails the test if
// Echo or net/http logged anything.
var harness = conformance.HarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) string {
	e := echo.New()
	var log ssetest.LogBuffer
	e.Logger = slog.New(slog.NewTextHandler(&log, nil))
	e.Any("/*", echov5sse.Handle(func(c *echo.Context) (core.EventTarget, error) {
		return h(request(c))
	}, opts...))
	return ssetest.StartServer(t, e, &log, nil).URL
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

// TestHarness checks the harness's request mapping on its own, including the
// root path, a method other than GET and the request body.
func TestHarness(t *testing.T) {
	got := make(chan conformance.Request, 1)
	bodies := make(chan string, 1)
	base := harness.Serve(t, func(r conformance.Request) (core.EventTarget, error) {
		b, _ := io.ReadAll(r.Body)
		bodies <- string(b)
		got <- r
		tg := core.NewTarget()
		tg.Close()
		return tg, nil
	})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: ssetest.Timeout}
	for _, tc := range []struct{ method, path, query, body string }{
		{http.MethodGet, "/", "", ""},
		{http.MethodPost, "/a/b", "x=1&y=2", "posted"},
	} {
		req, err := http.NewRequest(tc.method, base+tc.path+"?"+tc.query, bytes.NewBufferString(tc.body))
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
		r, body := <-got, <-bodies
		if resp.StatusCode != http.StatusOK || r.Method != tc.method || r.Path != tc.path || r.Query != tc.query ||
			r.LastEventID != "7" || r.Header.Get("Last-Event-ID") != "7" || r.Context == nil || body != tc.body {
			t.Errorf("%s %s?%s: got %d %+v, body %q", tc.method, tc.path, tc.query, resp.StatusCode, r, body)
		}
	}
}
