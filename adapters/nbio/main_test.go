package nbiosse_test

import (
	"net"
	"net/http"
	"testing"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"go.uber.org/goleak"

	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
	"github.com/ssekit/ssekit/adapters/nbio/nbiotest"
	"github.com/ssekit/ssekit/internal/ssetest"
)

func TestMain(m *testing.M) {
	logging.SetLevel(logging.LevelError) // no start and stop banners
	goleak.VerifyTestMain(m)
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
	nbiotest.RaceShim(e)
	if err := e.Start(); err != nil {
		t.Fatalf("engine start: %v", err)
	}
	t.Cleanup(e.Stop)
	return "http://" + ln.Addr().String()
}
