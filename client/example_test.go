package client_test

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ssekit/ssekit/client"
)

func ExampleParser() {
	stream := ": welcome\n" +
		"retry: 3000\n" +
		"event: greeting\n" +
		"id: 1\n" +
		"data: hello\n" +
		"data: world\n" +
		"\n" +
		"data: no type, same id\r\n\r\n" +
		"data: never dispatched: the stream ends first"

	p := client.NewParser(strings.NewReader(stream))
	p.OnComment = func(text string) { fmt.Printf("comment %q\n", text) }
	p.OnRetry = func(d time.Duration) { fmt.Println("retry", d) }
	for {
		ev, err := p.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("%s %q (id %q)\n", ev.Type, ev.Data, ev.LastEventID)
	}
	// Output:
	// comment " welcome"
	// retry 3s
	// greeting "hello\nworld" (id "1")
	// message "no type, same id" (id "1")
}

func ExampleParseAll() {
	for _, ev := range client.ParseAll([]byte("data: YHOO\ndata: +2\ndata: 10\n\n")) {
		fmt.Printf("%s %q\n", ev.Type, ev.Data)
	}
	// Output:
	// message "YHOO\n+2\n10"
}
