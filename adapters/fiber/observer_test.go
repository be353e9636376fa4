package fibersse_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	fibersse "github.com/ssekit/ssekit/adapters/fiber"
	"github.com/ssekit/ssekit/core"
)

// lockedBuffer is a bytes.Buffer for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The stream's log record carries the id Fiber's requestid middleware gave
// the request (copied: Fiber reuses the buffer it points into), and the
// route pattern.
func TestLoggerRequestID(t *testing.T) {
	var logs lockedBuffer
	app := newApp()
	app.Use(requestid.New())
	app.Get("/rooms/:room", fibersse.Handle(func(*fiber.Ctx) (core.EventTarget, error) {
		tg := core.NewTarget()
		tg.Dispatch(core.Message{Data: "hi"})
		tg.Close()
		return tg, nil
	}, core.WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))))
	base := serve(t, app)
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(base + "/rooms/lobby")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	id := res.Header.Get(fiber.HeaderXRequestID)
	if id == "" {
		t.Fatal("no request id in the response")
	}
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if got = logs.String(); got != "" {
			break
		}
	}
	for _, want := range []string{`msg="sse stream ended"`, "reason=closed", "adapter=fiber", "route=/rooms/:room", "request_id=" + id, "events=1"} {
		if !strings.Contains(got, want) {
			t.Fatalf("log %q lacks %q", got, want)
		}
	}
}
