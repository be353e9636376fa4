// Package danet is the Danet SSE example without its web framework: the
// stream, the page that shows it live in a browser, the servers' timeouts
// and the main loop. Each framework serves it from a directory of its own,
// a module of its own but for net/http, so that running one downloads that
// framework only:
//
//	go run ./examples/danet/nethttp -addr 127.0.0.1:8080
//	go run ./examples/danet/gin -addr 127.0.0.1:8080
//	go run ./examples/danet/echo -addr 127.0.0.1:8080
//	go run ./examples/danet/fiber -addr 127.0.0.1:8080
//
// then open http://127.0.0.1:8080/. The stream sends four "hello" events with
// ids 0 to 3, 100 ms apart, then a "close" event, which ends the response.
//
// The tests every framework runs are in package danettest.
package danet

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"html"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/ssekit/ssekit/core"
)

//go:embed page.html
var page embed.FS

// Framework is a web framework that serves the example.
type Framework struct {
	// Name is the framework's name, shown on the page: "Gin".
	Name string
	// Serve serves the example on ln, its streams in streams, and returns
	// the function that stops the server.
	Serve func(ln net.Listener, streams *core.Group) (stop func(context.Context) error)
}

// Main is the main function of the example on fw: it serves the example
// on the address given by -addr until SIGINT or SIGTERM, then shuts down.
func Main(fw Framework) {
	addr := flag.String("addr", "127.0.0.1:8080", "the address to listen on")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "danet: unexpected arguments %q (the framework is the directory you run: ./examples/danet/nethttp, gin, echo or fiber)\n", flag.Args())
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	var streams core.Group
	stop := fw.Serve(ln, &streams)
	log.Printf("danet example on %s: open http://%s/", fw.Name, ln.Addr())

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	<-ctx.Done()
	shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	if err := errors.Join(streams.Shutdown(shutdown), stop(shutdown)); err != nil {
		log.Print(err)
	}
}

// Events is the handler body of the Danet example, the same on every
// framework: the stream that follows lastEventID (empty: from the start).
func Events(lastEventID string) (core.EventTarget, error) {
	t := core.NewTarget()
	start := 0
	if lastEventID != "" {
		n, err := strconv.Atoi(lastEventID)
		if err != nil {
			return nil, core.Error(http.StatusBadRequest, "bad Last-Event-ID")
		}
		start = n + 1
	}
	go func() {
		defer t.Close()
		for id := start; id < 4; id++ {
			if t.Dispatch(core.Message{ID: strconv.Itoa(id), Event: "hello", Data: "world", Retry: time.Second}) != nil {
				return
			}
			select {
			case <-time.After(100 * time.Millisecond):
			case <-t.Done():
				return
			}
		}
		t.Dispatch(core.Message{ID: "4", Event: "close", Data: "close", Retry: time.Second})
	}()
	return t, nil
}

// ServerTimeouts bound how long a client can hold a connection without
// sending a request: every server of the example sets them.
type ServerTimeouts struct {
	ReadHeader time.Duration // the request line and headers (Fiber: see Body)
	Body       time.Duration // a request body (Fiber: headers and body)
	Idle       time.Duration // a keep-alive connection between requests
}

// Timeouts are the servers' timeouts; the tests shorten them.
var Timeouts = ServerTimeouts{ReadHeader: 5 * time.Second, Body: 10 * time.Second, Idle: 60 * time.Second}

// MaxBody bounds a request body: no route of the example reads one.
const MaxBody = 4 << 10

// NewServer returns the net/http server of the example (net/http, Gin and
// Echo) for h. ReadTimeout and WriteTimeout stay 0: on net/http they would
// end every event stream after that long. guardBodies bounds reading a
// body instead, and the ssekit adapter bounds each write of a stream
// (core.WithWriteTimeout). On shutdown, the streams end first.
func NewServer(h http.Handler, streams *core.Group) *http.Server {
	srv := &http.Server{
		Handler:           guardBodies(h),
		ReadHeaderTimeout: Timeouts.ReadHeader, // slow or partial headers
		IdleTimeout:       Timeouts.Idle,       // idle keep-alive connections
		MaxHeaderBytes:    64 << 10,
	}
	srv.RegisterOnShutdown(streams.Close)
	return srv
}

// guardBodies bounds every request that carries a body (an EventSource
// never sends one): it must arrive within Timeouts.Body, a read deadline on
// this request only, which also covers what net/http reads of an unread
// body after the handler, and hold at most MaxBody bytes. Requests without
// a body are left alone: a read deadline on a stream's connection would end
// the stream when it passed.
func guardBodies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 { // a length, or -1: chunked
			if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(Timeouts.Body)); err != nil {
				http.Error(w, "cannot bound the body", http.StatusInternalServerError)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		}
		h.ServeHTTP(w, r)
	})
}

// PageHandler serves the page, telling it which framework serves the stream.
func PageHandler(framework string) http.Handler {
	b, err := page.ReadFile("page.html")
	if err != nil {
		panic(err)
	}
	b = bytes.Replace(b, []byte("{{FRAMEWORK}}"), []byte(html.EscapeString(framework)), 1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b)
	})
}
