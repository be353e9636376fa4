package subjects

import (
	"net"

	"github.com/labstack/echo/v4"

	echosse "github.com/ssekit/ssekit/adapters/echo"
	"github.com/ssekit/ssekit/core"
)

func newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	return e
}

func startEchoAdapter(ln net.Listener, s *Server, _ []core.Option) func() error {
	e := newEcho()
	h := echosse.Handle(func(c echo.Context) (core.EventTarget, error) {
		return s.adapterRoute(c.Request().URL.Path, c.QueryParam("n"))
	}, s.adapterOptions()...)
	e.GET("/burst", h)
	e.GET("/lone", h)
	e.GET("/idle", h)
	return serveHTTP(ln, e)
}

// startEchoBaseline is a hand-written Echo handler: fmt.Fprintf each event to
// c.Response(), then Flush.
func startEchoBaseline(ln net.Listener, s *Server, _ []core.Option) func() error {
	e := newEcho()
	h := func(c echo.Context) error {
		w := c.Response()
		flush := func() error { w.Flush(); return nil }
		s.baselineHTTP(c.Request().Context(), c.Request().URL.Path, c.QueryParam("n"), w, flush,
			func(ts int64) error { return writeTick(w, ts) },
			func() error { return writeBurstEvent(w) })
		return nil
	}
	e.GET("/burst", h)
	e.GET("/lone", h)
	e.GET("/idle", h)
	return serveHTTP(ln, e)
}
