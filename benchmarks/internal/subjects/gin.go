package subjects

import (
	"net"
	"strconv"

	"github.com/gin-contrib/sse"
	"github.com/gin-gonic/gin"

	ginsse "github.com/ssekit/ssekit/adapters/gin"
	"github.com/ssekit/ssekit/core"
)

func newGin() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	return gin.New()
}

func startGinAdapter(ln net.Listener, s *Server, _ []core.Option) func() error {
	r := newGin()
	h := ginsse.Handle(func(c *gin.Context) (core.EventTarget, error) {
		return s.adapterRoute(c.Request.URL.Path, c.Query("n"))
	}, s.adapterOptions()...)
	r.GET("/burst", h)
	r.GET("/lone", h)
	r.GET("/idle", h)
	return serveHTTP(ln, r)
}

// startGinBaseline streams with Gin's own SSE rendering:
// c.Render(-1, sse.Event{...}) then c.Writer.Flush().
func startGinBaseline(ln net.Listener, s *Server, _ []core.Option) func() error {
	r := newGin()
	h := func(c *gin.Context) {
		flush := func() error { c.Writer.Flush(); return nil }
		s.baselineHTTP(c.Request.Context(), c.Request.URL.Path, c.Query("n"), c.Writer, flush,
			func(ts int64) error {
				c.Render(-1, sse.Event{Event: EventName, Data: strconv.FormatInt(ts, 10)})
				return nil
			},
			func() error {
				c.Render(-1, sse.Event{Event: EventName, Data: Payload})
				return nil
			})
	}
	r.GET("/burst", h)
	r.GET("/lone", h)
	r.GET("/idle", h)
	return serveHTTP(ln, r)
}
