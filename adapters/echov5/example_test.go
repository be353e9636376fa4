package echov5sse_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/labstack/echo/v5"

	echov5sse "github.com/ssekit/ssekit/adapters/echov5"
	"github.com/ssekit/ssekit/core"
)

// The Danet-style route: the handler returns a target at once and a goroutine
// dispatches four "hello" events, then a "close" event that is sent and ends
// the response. A handler error (here, a missing token) answers 401 through
// Echo's HTTPErrorHandler instead.
func ExampleHandle() {
	e := echo.New()
	e.GET("/sse", echov5sse.Handle(func(c *echo.Context) (core.EventTarget, error) {
		if c.QueryParam("token") == "" {
			return nil, echo.NewHTTPError(http.StatusUnauthorized, "missing token")
		}
		t := core.NewTarget()
		go func() {
			defer t.Close()
			for id := 0; id < 4; id++ {
				if t.Dispatch(core.Message{ID: strconv.Itoa(id), Event: "hello", Data: "world", Retry: time.Second}) != nil {
					return // the client left: stop producing
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Dispatch(core.Message{ID: "4", Event: "close", Data: "close", Retry: time.Second})
		}()
		return t, nil
	}))
	// e.Start(":8080") would serve it; here a test server answers two
	// requests.
	srv := httptest.NewServer(e)
	defer srv.Close()
	for _, path := range []string{"/sse", "/sse?token=t"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
		fmt.Print(string(body))
	}
	// Output:
	// 401 application/json
	// {"message":"missing token"}
	// 200 text/event-stream
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
