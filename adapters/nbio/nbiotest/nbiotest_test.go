package nbiotest_test

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"

	"github.com/ssekit/ssekit/adapters/nbio/nbiotest"
)

// TestRaceShim serves a request on each of 200 new connections, one after
// another, through an engine with the shim: each is answered as without it,
// and under -race the detector reports nothing (without the shim it reports
// nbhttp's hand-off in most runs).
func TestRaceShim(t *testing.T) {
	logging.SetLevel(logging.LevelError)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := nbhttp.NewEngine(nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{ln.Addr().String()},
		Listen:  func(string, string) (net.Listener, error) { return ln, nil },
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.RemoteAddr) }),
		NPoller: 1,
	})
	nbiotest.RaceShim(e)
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	for i := range 200 { // a new connection each, closed by the client
		tr := &http.Transport{}
		c := &http.Client{Timeout: 10 * time.Second, Transport: tr}
		resp, err := c.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if err != nil || resp.StatusCode != http.StatusOK || len(b) == 0 {
			t.Fatalf("status %d, body %q, %v", resp.StatusCode, b, err)
		}
	}
}
