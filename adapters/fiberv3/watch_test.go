package fiberv3sse_test

import (
	"testing"
	"time"

	"github.com/gofiber/fiber/v3"

	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// The connection watch (adapter/fasthttpsse) notices a client that leaves
// an idle stream. The checks are shared with fiber (internal/ssetest);
// every stream here is idle: no heartbeat.
var idle = core.WithHeartbeat(-1)

// 1000 clients that each open an idle stream and close the connection leave
// no stream behind, with no heartbeat to notice them.
func TestChurnIdle(t *testing.T) {
	const n = 1000
	ssetest.ChurnIdle(t, sseServer(t, false, fiber.Config{}, ssetest.NewTargets(n), idle), n)
}

// The watch does not break keep-alive: after an idle stream that ends
// normally, the connection serves the next request, and fasthttp's own read
// deadlines apply again. The stream outlives the server's ReadTimeout, which
// is the request's, not the response's.
func TestKeepAliveAfterIdleStream(t *testing.T) {
	cfg := fiber.Config{ReadTimeout: 100 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}
	ssetest.KeepAliveAfterIdleStream(t, sseServer(t, false, cfg, ssetest.NewTargets(1), idle),
		300*time.Millisecond, cfg.IdleTimeout)
}

// The watch is not stopped by the request's ReadTimeout: a client that
// closes an idle stream after it is noticed at once.
func TestDisconnectAfterReadTimeout(t *testing.T) {
	cfg := fiber.Config{ReadTimeout: 100 * time.Millisecond}
	ssetest.DisconnectAfterReadTimeout(t, sseServer(t, false, cfg, ssetest.NewTargets(1), idle))
}

// A client that pipelines a request while a stream runs: the stream goes on
// (the watch only peeks, as net/http's background read keeps the byte it
// read), and the request is served on the same connection after it.
func TestPipelinedDuringStream(t *testing.T) {
	ssetest.PipelinedDuringStream(t, sseServer(t, false, fiber.Config{}, ssetest.NewTargets(1), idle))
}

// Over TLS, bytes that arrive during a stream may be the client's
// close_notify: the stream ends cleanly, and a pipelined request is then
// served on the same connection, intact.
func TestPipelinedDuringStreamTLS(t *testing.T) {
	ssetest.PipelinedDuringStreamTLS(t, sseServer(t, true, fiber.Config{}, ssetest.NewTargets(1), idle))
}

// After a stream that ends normally, a TLS connection is kept alive too.
func TestKeepAliveAfterIdleStreamTLS(t *testing.T) {
	ssetest.KeepAliveAfterIdleStream(t, sseServer(t, true, fiber.Config{}, ssetest.NewTargets(1), idle),
		100*time.Millisecond, 0)
}
