package subjects

import (
	"bufio"
	"context"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"

	fibersse "github.com/ssekit/ssekit/adapters/fiber"
	"github.com/ssekit/ssekit/core"
)

func newFiber() *fiber.App {
	return fiber.New(fiber.Config{DisableStartupMessage: true})
}

// serveFiber serves app on ln; stop shuts it down (streams see the server's
// Done channel close, or s.quit).
func serveFiber(ln net.Listener, app *fiber.App) func() error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = app.Listener(ln)
	}()
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := app.ShutdownWithContext(ctx)
		<-done
		return err
	}
}

func startFiberAdapter(ln net.Listener, s *Server, _ []core.Option) func() error {
	app := newFiber()
	h := fibersse.Handle(func(c *fiber.Ctx) (core.EventTarget, error) {
		return s.adapterRoute(c.Path(), c.Query("n"))
	}, s.adapterOptions()...)
	app.Get("/burst", h)
	app.Get("/lone", h)
	app.Get("/idle", h)
	return serveFiber(ln, app)
}

// startFiberBaseline streams with fasthttp's own body stream writer, reached
// through Fiber: fmt.Fprintf each event to the *bufio.Writer, then Flush.
func startFiberBaseline(ln net.Listener, s *Server, _ []core.Option) func() error {
	app := newFiber()
	h := func(c *fiber.Ctx) error {
		path, n := c.Path(), c.Query("n")
		path, n = string([]byte(path)), string([]byte(n)) // the ctx is recycled
		c.Set("Content-Type", "text/event-stream")
		c.Set("Cache-Control", "no-cache")
		rctx := c.Context()
		rctx.Response.ImmediateHeaderFlush = true
		s.enter()
		rctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			defer s.leave()
			if w.Flush() != nil {
				return
			}
			switch path {
			case "/burst":
				for range burstCount(n) {
					if writeBurstEvent(w) != nil || w.Flush() != nil {
						return
					}
				}
			case "/lone":
				snd := newChanSender()
				s.lone <- snd
				snd.loop(nil, s.quit, func(ts int64) error {
					if err := writeTick(w, ts); err != nil {
						return err
					}
					return w.Flush()
				})
			case "/idle":
				<-s.quit
			}
		})
		return nil
	}
	app.Get("/burst", h)
	app.Get("/lone", h)
	app.Get("/idle", h)
	return serveFiber(ln, app)
}
