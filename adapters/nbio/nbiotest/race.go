//go:build race

package nbiotest

import (
	"net"
	"sync"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"
)

// RaceShim makes nbhttp's hand-off of each new connection, from the
// accepting goroutine to a poller, visible to the race detector (see the
// package comment). In this race build it sets e's OnOpen handler and its
// nbio engine's OnData handler: both take one lock, and OnData then calls
// nbhttp's own data handler of the connection, so that nothing else
// changes. Call it before e.Start. An OnOpen handler set before it is
// replaced, and one set after it undoes it: do not use it on an engine that
// needs its own OnOpen.
func RaceShim(e *nbhttp.Engine) {
	var mu sync.Mutex
	var handed int // written by the accepting side, read by the poller: the edge
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
