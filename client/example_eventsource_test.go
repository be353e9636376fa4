package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/ssekit/ssekit/client"
)

func ExampleEventSource() {
	// A server whose first stream drops after two events; when the client
	// comes back with Last-Event-ID 2 it resumes with one more event, then
	// answers 204 No Content to say there is nothing more.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Last-Event-ID") {
		case "":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "retry: 10\n\nid: 1\ndata: hello\n\nid: 2\nevent: greeting\ndata: world\n\n")
		case "2":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "id: 3\ndata: resumed\n\n")
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()

	es := client.NewEventSource(srv.URL, client.Options{
		OnReconnect: func(err error, delay time.Duration) {
			fmt.Printf("connection ended (%v); reconnecting after at least %v\n", err, delay.Truncate(10*time.Millisecond))
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ev, err := range es.Events(ctx) {
		if err != nil { // the final step: why the iteration ended
			if errors.Is(err, client.ErrNoContent) {
				fmt.Println("the server says there is nothing more")
			} else {
				fmt.Println("error:", err)
			}
			break
		}
		fmt.Printf("%s %q (id %s)\n", ev.Type, ev.Data, ev.LastEventID)
	}
	fmt.Println("last event ID:", es.LastEventID())
	// Output:
	// message "hello" (id 1)
	// greeting "world" (id 2)
	// connection ended (EOF); reconnecting after at least 10ms
	// message "resumed" (id 3)
	// connection ended (EOF); reconnecting after at least 10ms
	// the server says there is nothing more
	// last event ID: 3
}
