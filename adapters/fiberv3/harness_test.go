package fiberv3sse_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/gofiber/fiber/v3"

	fiberv3sse "github.com/ssekit/ssekit/adapters/fiberv3"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// harness serves a conformance handler on every path and method through
// fiberv3sse.Handle, on a loopback listener stopped when the test ends.
var harness = conformance.HarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) string {
	app := newApp()
	app.Use(fiberv3sse.Handle(func(c fiber.Ctx) (core.EventTarget, error) {
		return h(request(c))
	}, opts...))
	return serve(t, app)
})

// request copies what a conformance handler sees out of c: Fiber's strings
// and byte slices point into buffers that are reused once the handler
// returns.
func request(c fiber.Ctx) conformance.Request {
	rctx := c.RequestCtx()
	hdr := http.Header{}
	for k, v := range rctx.Request.Header.All() {
		hdr.Add(string(k), string(v))
	}
	return conformance.Request{
		Method:      string(rctx.Method()),
		Path:        string(rctx.Path()),
		Query:       string(rctx.URI().QueryString()),
		LastEventID: fiberv3sse.LastEventID(c),
		Header:      hdr,
		Context:     context.Background(), // fasthttp has no per-request cancellation
		Body:        bytes.NewReader(bytes.Clone(rctx.Request.Body())),
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
	hc := ssetest.HTTPClient(t)
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
