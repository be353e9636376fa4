package main

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ssekit/ssekit/examples/chat"
	"github.com/ssekit/ssekit/examples/chat/chattest"
)

func TestMain(m *testing.M) {
	// fasthttp's worker pool cleaner sleeps this long between rounds and
	// only then sees that the server stopped: keep it short so that it has
	// exited when goleak looks.
	fiberIdleWorkers = 10 * time.Millisecond
	goleak.VerifyTestMain(m,
		// fasthttp refreshes its cached Date header once a second on one
		// goroutine started by a package-level sync.Once (serverDateOnce in
		// header.go) the first time a server writes a response; it never exits.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	)
}

// TestChat runs the chat's tests on Fiber.
func TestChat(t *testing.T) { chattest.Run(t, chat.Framework{Name: "Fiber", Serve: serve}) }
