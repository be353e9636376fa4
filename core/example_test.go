package core_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

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

// stdout is a core.Writer on standard output.
type stdout struct{}

func (stdout) Write(p []byte) (int, error) { return os.Stdout.Write(p) }
func (stdout) Flush() error                { return nil }

// A handler's target: dispatch from any goroutine; a close event ends the stream.
func ExampleTarget() {
	t := core.NewTarget()
	go func() {
		for id := range 2 {
			t.Dispatch(core.Message{ID: fmt.Sprint(id), Event: "hello", Data: "world"})
		}
		t.Dispatch(core.Message{Event: "close", Data: "close"})
	}()
	err := core.Run(context.Background(), stdout{}, t, core.Options{})
	fmt.Println("ended:", err)
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
	//
	// ended: <nil>
}
