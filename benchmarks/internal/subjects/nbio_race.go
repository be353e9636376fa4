//go:build race

package subjects

import (
	"net"
	"sync"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"
)

// raceShim makes visible to the race detector the hand-off of each new
// connection from nbhttp's accepting goroutine to a poller goroutine, which
// goes through epoll (a syscall) and so looks like a data race on the
// connection's fields inside nbhttp. Race builds only: it adds a lock both
// sides take; the data handler it installs is nbhttp's own.
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
