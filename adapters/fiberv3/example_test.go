package fiberv3sse_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v3"

	fiberv3sse "github.com/ssekit/ssekit/adapters/fiberv3"
	"github.com/ssekit/ssekit/core"
)

// The Danet-style route: the handler returns a target and dispatches on it
// from a goroutine; the "close" event is sent and then ends the response.
func Example() {
	app := fiber.New()
	app.Get("/sse", fiberv3sse.Handle(func(c fiber.Ctx) (core.EventTarget, error) {
		t := core.NewTarget()
		go func() {
			defer t.Close()
			for id := 0; id < 4; id++ {
				t.Dispatch(core.Message{ID: strconv.Itoa(id), Event: "hello", Data: "world", Retry: time.Second})
				time.Sleep(10 * time.Millisecond)
			}
			t.Dispatch(core.Message{ID: "4", Event: "close", Data: "close", Retry: time.Second})
		}()
		return t, nil
	}))
	// app.Listen(":3000") would serve it; here one request goes through
	// app.Test, which waits for the stream to end.
	resp, err := app.Test(httptest.NewRequest("GET", "/sse", nil), fiber.TestConfig{Timeout: 5 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	fmt.Print(string(body))
	// Output:
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
