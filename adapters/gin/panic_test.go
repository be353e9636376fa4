package ginsse_test

import (
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// TestPanicsVisible guards against panics that vanished: a handler's or a
// stream's panic is written with its stack where gin.Recovery writes the
// panics it recovers (gin.DefaultErrorWriter), and reaches OnEnd.
func TestPanicsVisible(t *testing.T) {
	var log ssetest.LogBuffer
	old := gin.DefaultErrorWriter
	gin.DefaultErrorWriter = &log
	t.Cleanup(func() { gin.DefaultErrorWriter = old })
	ssetest.PanicsVisible(t, func(t *testing.T, h func() (core.EventTarget, error), opts ...core.Option) string {
		return serveSSE(t, h, nil, opts...).URL
	}, log.Panics)
}
