package subjects

import (
	"net"
	"net/http"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"

	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
	"github.com/ssekit/ssekit/adapters/nbio/nbiotest"
	"github.com/ssekit/ssekit/core"
)

// startNbioAdapter serves the routes with the nbio adapter on an nbhttp
// engine (an event loop: no goroutine per idle stream).
func startNbioAdapter(ln net.Listener, s *Server, _ []core.Option) func() error {
	h := nbiosse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return s.adapterRoute(r.URL.Path, r.URL.Query().Get("n"))
	}, s.adapterOptions()...)
	return ServeNbio(ln, h)
}

// ServeNbio serves h on an nbhttp engine prepared with nbiosse.Attach, on
// ln (for the subjects and the fanout command); stop closes every
// connection.
func ServeNbio(ln net.Listener, h http.Handler) func() error {
	logging.SetLevel(logging.LevelError)
	e := nbhttp.NewEngine(nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{ln.Addr().String()},
		Listen:  func(string, string) (net.Listener, error) { return ln, nil },
		Handler: h,
	})
	nbiosse.Attach(e)
	nbiotest.RaceShim(e)
	if err := e.Start(); err != nil {
		_ = ln.Close()
		return func() error { return err }
	}
	return func() error {
		e.Stop()
		return nil
	}
}
