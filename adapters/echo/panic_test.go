package echosse_test

import (
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	echosse "github.com/ssekit/ssekit/adapters/echo"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// TestPanicsVisible guards against panics that vanished: a handler's or a
// stream's panic is logged with its stack through Echo's logger, as its
// Recover middleware does, and reaches OnEnd.
func TestPanicsVisible(t *testing.T) {
	var log ssetest.LogBuffer
	serve := func(t *testing.T, h func() (core.EventTarget, error), opts ...core.Option) string {
		e := echo.New()
		e.Logger.SetOutput(&log)
		e.GET("/sse", echosse.Handle(func(echo.Context) (core.EventTarget, error) { return h() }, opts...))
		ts := httptest.NewServer(e)
		t.Cleanup(ts.Close)
		return ts.URL
	}
	ssetest.PanicsVisible(t, serve, log.Panics)
}
