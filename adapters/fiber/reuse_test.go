package fibersse_test

import (
	"context"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	fibersse "github.com/ssekit/ssekit/adapters/fiber"
	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/brokertest"
)

// A broker route written as users write it subscribes under c.Params, a
// string into the buffer Fiber reuses for the next request: the broker
// copies it, so the stream still gets its topic's events after hundreds of
// other requests, and ending it leaves the broker serving.
func TestBrokerTopicFromParams(t *testing.T) {
	b := broker.New(broker.Options{})
	t.Cleanup(func() {
		brokertest.Within(t, 10*time.Second, "broker Shutdown", func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := b.Shutdown(ctx); err != nil {
				t.Errorf("broker Shutdown: %v", err)
			}
		})
	})
	ended := make(chan error, 1)
	app := newApp()
	app.Get("/t/:topic", fibersse.Handle(func(c *fiber.Ctx) (core.EventTarget, error) {
		return b.Subscribe(c.UserContext(), []string{c.Params("topic")}, fibersse.LastEventID(c))
	}, core.WithOnEnd(func(err error) { ended <- err })))
	app.Get("/o/:name", func(c *fiber.Ctx) error { return c.SendString(c.Params("name")) })
	brokertest.ReusedParams(t, serve(t, app), brokertest.Broker{
		Publish: b.Publish,
		Subscribe: func(ctx context.Context, topics []string, last string) (core.EventTarget, error) {
			return b.Subscribe(ctx, topics, last)
		},
	}, ended)
}
