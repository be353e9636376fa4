package echov5sse_test

import (
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v5"

	echov5sse "github.com/ssekit/ssekit/adapters/echov5"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// TestPanicsVisible guards against panics that vanished: a handler's or a
// stream's panic is logged with its stack through Echo's logger, and reaches
// OnEnd.
func TestPanicsVisible(t *testing.T) {
	var log ssetest.LogBuffer
	serve := func(t *testing.T, h func() (core.EventTarget, error), opts ...core.Option) string {
		e := echo.New()
		e.Logger = slog.New(slog.NewTextHandler(&log, nil))
		e.GET("/sse", echov5sse.Handle(func(*echo.Context) (core.EventTarget, error) { return h() }, opts...))
		ts := httptest.NewServer(e)
		t.Cleanup(ts.Close)
		return ts.URL
	}
	ssetest.PanicsVisible(t, serve, log.Panics)
}
