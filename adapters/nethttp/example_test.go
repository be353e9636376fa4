package nethttpsse_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

// The route of Danet's documentation: four "hello" events, then a "close"
// event that ends the response. The output pins the exact bytes on the wire.
// (Danet's example pauses 100ms between events; this one does not, to keep
// the example fast.)
func ExampleHandle() {
	mux := http.NewServeMux()
	mux.Handle("GET /sse", nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		t := core.NewTarget()
		go func() {
			defer t.Close()
			for id := 0; id < 4; id++ {
				t.Dispatch(core.Message{ID: strconv.Itoa(id), Event: "hello", Data: "world", Retry: time.Second})
			}
			t.Dispatch(core.Message{ID: "4", Event: "close", Data: "close", Retry: time.Second})
		}()
		return t, nil
	}))

	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/sse")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Header.Get("Content-Type"))
	fmt.Print(string(body))
	// Output:
	// text/event-stream
	// id: 0
	// event: hello
	// retry: 1000
	// data: world
	//
	// id: 1
	// event: hello
	// retry: 1000
	// data: world
	//
	// id: 2
	// event: hello
	// retry: 1000
	// data: world
	//
	// id: 3
	// event: hello
	// retry: 1000
	// data: world
	//
	// id: 4
	// event: close
	// retry: 1000
	// data: close
}
