// Package nbioserve runs the interop tests' nbhttp engines for the nbio
// adapter (adapters/nbio).
package nbioserve

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"

	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
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
	raceShim(e)
	if err := e.Start(); err != nil {
		_ = ln.Close()
		return nil, err
	}
	return e.Stop, nil
}

// raceShim makes visible to the race detector the hand-off of each new
// connection from nbhttp's accepting goroutine to a poller goroutine, which
// goes through epoll (a syscall) and so looks like a data race on the
// connection's fields inside nbhttp. It adds a lock both sides take; the
// data handler it installs is nbhttp's own. (adapters/nbio's tests have the
// same shim.)
func raceShim(e *nbhttp.Engine) {
	var mu sync.Mutex
	var handed int
	e.OnOpen(func(net.Conn) {
		mu.Lock()
		handed++
		mu.Unlock()
	})
	e.Engine.OnData(func(c *nbio.Conn, data []byte) {
		mu.Lock()
		_ = handed
		mu.Unlock()
		c.DataHandler()(c, data)
	})
}
