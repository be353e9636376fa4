package nbiosse_test

import (
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/lesismal/nbio"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"go.uber.org/goleak"

	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
	"github.com/ssekit/ssekit/internal/ssetest"
)

func TestMain(m *testing.M) {
	logging.SetLevel(logging.LevelError) // no start and stop banners
	goleak.VerifyTestMain(m)
}

// raceShim makes visible to the race detector the hand-off of each new
// connection from nbhttp's accepting goroutine to a poller goroutine, which
// goes through epoll (a syscall) and so looks like a data race on the
// connection's fields inside nbhttp (Conn.RemoteAddr in
// ServerProcessor.OnComplete). It adds a lock both sides take and changes
// nothing else: the data handler it installs is nbhttp's own.
func raceShim(e *nbhttp.Engine) {
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

// serve runs h on an nbhttp engine prepared with nbiosse.Attach, on a
// loopback listener, until the test ends, and returns its base URL.
func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	return serveConf(t, h, nil)
}

// serveConf is serve with the engine's configuration changed by conf.
func serveConf(t testing.TB, h http.Handler, conf func(*nbhttp.Config)) string {
	t.Helper()
	ln := ssetest.Listen(t)
	c := nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{ln.Addr().String()},
		Listen:  func(string, string) (net.Listener, error) { return ln, nil },
		Handler: h,
		NPoller: 1,
	}
	if conf != nil {
		conf(&c)
	}
	e := nbhttp.NewEngine(c)
	nbiosse.Attach(e)
	raceShim(e)
	if err := e.Start(); err != nil {
		t.Fatalf("engine start: %v", err)
	}
	t.Cleanup(e.Stop)
	return "http://" + ln.Addr().String()
}
