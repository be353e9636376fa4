package fibersse_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/gofiber/fiber/v2"

	fibersse "github.com/ssekit/ssekit/adapters/fiber"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
)

// harness serves a conformance handler on every path and method through
// fibersse.Handle, on a loopback listener stopped when the test ends.
var harness = conformance.HarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) string {
	app := newApp()
	app.Use(fibersse.Handle(func(c *fiber.Ctx) (core.EventTarget, error) {
		return h(request(c))
	}, opts...))
	return serve(t, app)
})

// request copies what a conformance handler sees out of c: Fiber's strings
// point into buffers that are reused once the handler returns.
func request(c *fiber.Ctx) conformance.Request {
	rctx := c.Context()
	hdr := http.Header{}
	for k, v := range rctx.Request.Header.All() {
		hdr.Add(string(k), string(v))
	}
	return conformance.Request{
		Method:      string(rctx.Method()),
		Path:        string(rctx.Path()),
		Query:       string(rctx.URI().QueryString()),
		LastEventID: fibersse.LastEventID(c),
		Header:      hdr,
		Context:     context.Background(), // fasthttp has no per-request context
	}
}

// TestHarness checks the harness's request mapping on its own.
func TestHarness(t *testing.T) { conformance.CheckHarness(t, harness) }
