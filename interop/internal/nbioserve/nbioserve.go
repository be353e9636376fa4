// Package nbioserve runs the interop tests' nbhttp engines for the nbio
// adapter (adapters/nbio).
package nbioserve

import (
	"net"
	"net/http"
	"time"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"

	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
	"github.com/ssekit/ssekit/adapters/nbio/nbiotest"
)

// Start serves h on an nbhttp engine prepared with nbiosse.Attach, on ln;
// keepalive, when not 0, bounds how long a connection may take to send a
// request (nbhttp's KeepaliveTime, its only read timeout). stop closes every
// connection and waits for the engine's goroutines.
func Start(ln net.Listener, h http.Handler, keepalive time.Duration) (stop func(), err error) {
	logging.SetLevel(logging.LevelError) // no start and stop banners
	e := nbhttp.NewEngine(nbhttp.Config{
		Network:       "tcp",
		Addrs:         []string{ln.Addr().String()},
		Listen:        func(string, string) (net.Listener, error) { return ln, nil },
		Handler:       h,
		NPoller:       1,
		KeepaliveTime: keepalive,
	})
	nbiosse.Attach(e)
	nbiotest.RaceShim(e)
	if err := e.Start(); err != nil {
		_ = ln.Close()
		return nil, err
	}
	return e.Stop, nil
}
