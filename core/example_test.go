package core_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

// The wire bytes of the Danet example's first event and its close event.
func ExampleAppendMessage() {
	b, _ := core.AppendMessage(nil, core.Message{ID: "0", Event: "hello", Data: "world", Retry: time.Second})
	b, _ = core.AppendMessage(b, core.Message{Data: "two\nlines"})
	b, _ = core.AppendMessage(b, core.Message{Data: map[string]int{"n": 1}})
	os.Stdout.Write(b)
	// Output:
	// id: 0
	// event: hello
	// retry: 1000
	// data: world
	//
	// data: two
	// data: lines
	//
	// data: {"n":1}
}

// What the standard cannot carry is refused, never rewritten.
func ExampleAppendMessage_invalid() {
	_, err := core.AppendMessage(nil, core.Message{ID: "a\nb", Data: "x"})
	fmt.Println(errors.Is(err, core.ErrInvalidField), err)
	// Output: true ssekit: invalid field ID: contains CR, LF or NUL
}

// A handler's target: dispatch from any goroutine; a close event is sent,
// then ends the stream. Here the net/http adapter serves it.
func ExampleTarget() {
	srv := httptest.NewServer(nethttpsse.Handle(func(*http.Request) (core.EventTarget, error) {
		t := core.NewTarget()
		go func() {
			for id := range 2 {
				t.Dispatch(core.Message{ID: fmt.Sprint(id), Event: "hello", Data: "world"})
			}
			t.Dispatch(core.Message{Event: "close", Data: "close"})
		}()
		return t, nil
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	// Output:
	// id: 0
	// event: hello
	// data: world
	//
	// id: 1
	// event: hello
	// data: world
	//
	// event: close
	// data: close
}
