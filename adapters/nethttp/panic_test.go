package nethttpsse_test

import (
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"testing"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// TestPanicsVisible guards against panics that vanished: a handler's or a
// stream's panic is logged with its stack to the server's ErrorLog, as
// net/http logs its own handlers' panics, and reaches OnEnd.
func TestPanicsVisible(t *testing.T) {
	var log ssetest.LogBuffer
	serve := func(t *testing.T, h func() (core.EventTarget, error), opts ...core.Option) string {
		ts := httptest.NewUnstartedServer(nethttpsse.Handle(func(*http.Request) (core.EventTarget, error) { return h() }, opts...))
		ts.Config.ErrorLog = stdlog.New(&log, "", 0)
		ts.Start()
		t.Cleanup(ts.Close)
		return ts.URL
	}
	ssetest.PanicsVisible(t, serve, log.Panics)
}
