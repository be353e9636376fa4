// The example runs in builds without the race detector only: nbhttp hands
// each new connection from its accepting goroutine to a poller through epoll,
// which the detector cannot see, so it reports a race inside nbhttp
// (Conn.RemoteAddr). The tests serve through nbiotest.RaceShim, which makes
// that hand-off visible; the example shows what a user writes.

//go:build !race

package nbiosse_test

import (
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/lesismal/nbio/nbhttp"

	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
	"github.com/ssekit/ssekit/core"
)

// A stream on an nbhttp engine: the handler returns a target; the stream
// then runs without a goroutine of its own.
func ExampleHandle() {
	mux := http.NewServeMux()
	mux.Handle("GET /sse", nbiosse.Handle(func(r *http.Request) (core.EventTarget, error) {
		t := core.NewTarget()
		go func() {
			t.Dispatch(core.Message{ID: "1", Event: "hello", Data: "world"})
			t.Dispatch(core.Message{Event: "close", Data: "bye"})
		}()
		return t, nil
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	engine := nbhttp.NewEngine(nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{ln.Addr().String()},
		Listen:  func(string, string) (net.Listener, error) { return ln, nil },
		Handler: mux,
	})
	nbiosse.Attach(engine)
	if err := engine.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer engine.Stop()
	resp, err := http.Get("http://" + ln.Addr().String() + "/sse")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	// Output:
	// id: 1
	// event: hello
	// data: world
	//
	// event: close
	// data: bye
}
