package fiberv3sse_test

import (
	"os"
	"testing"

	"github.com/gofiber/fiber/v3"
	"github.com/gofiber/fiber/v3/log"

	fiberv3sse "github.com/ssekit/ssekit/adapters/fiberv3"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// TestPanicsVisible guards against panics that vanished: the adapter
// swallowed a stream's panic (which runs after the handler returned, out of
// reach of Fiber's recover middleware) without a word and without OnEnd. A
// handler's or a stream's panic is logged with its stack through Fiber's log
// package and reaches OnEnd.
func TestPanicsVisible(t *testing.T) {
	var buf ssetest.LogBuffer
	log.SetOutput(&buf)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	ssetest.PanicsVisible(t, func(t *testing.T, h func() (core.EventTarget, error), opts ...core.Option) string {
		app := newApp()
		app.Get("/sse", fiberv3sse.Handle(func(fiber.Ctx) (core.EventTarget, error) { return h() }, opts...))
		return serve(t, app)
	}, buf.Panics)
}
