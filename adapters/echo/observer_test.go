package echosse_test

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	echosse "github.com/ssekit/ssekit/adapters/echo"
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

// The stream's log record carries the id Echo's RequestID middleware gave
// the request, and the route pattern.
func TestLoggerRequestID(t *testing.T) {
	var logs lockedBuffer
	ts := newServer(t, func(e *echo.Echo) {
		e.Use(middleware.RequestID())
		e.GET("/rooms/:room", echosse.Handle(func(echo.Context) (core.EventTarget, error) {
			tg := core.NewTarget()
			tg.Dispatch(core.Message{Data: "hi"})
			tg.Close()
			return tg, nil
		}, core.WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))))
	}, nil)
	res, cancel := get(t, ts, "/rooms/lobby")
	defer cancel()
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	id := res.Header.Get(echo.HeaderXRequestID)
	if id == "" {
		t.Fatal("no request id in the response")
	}
	got := logs.String()
	for _, want := range []string{`msg="sse stream ended"`, "reason=closed", "adapter=echo", "route=/rooms/:room", "request_id=" + id, "events=1"} {
		if !strings.Contains(got, want) {
			t.Fatalf("log %q lacks %q", got, want)
		}
	}
}
