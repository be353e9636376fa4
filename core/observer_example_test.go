package core_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

// endCounter is a core.Observer that counts stream ends by route and reason.
type endCounter struct {
	mu   sync.Mutex
	ends map[string]int
}

func (c *endCounter) StreamStart(info core.StreamInfo) core.StreamObserver {
	return &streamCounter{c: c, route: info.Route}
}

func (c *endCounter) StreamRejected(info core.StreamInfo, reason core.EndReason, err error) {
	c.count(info.Route, reason)
}

func (c *endCounter) count(route string, reason core.EndReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ends[route+" "+string(reason)]++
}

// streamCounter hears of one stream.
type streamCounter struct {
	c      *endCounter
	route  string
	events int
}

func (s *streamCounter) Wrote(events, bytes int)      { s.events += events }
func (s *streamCounter) Heartbeat()                   {}
func (s *streamCounter) DispatchWaited(time.Duration) {}
func (s *streamCounter) End(reason core.EndReason, err error) {
	fmt.Printf("%s ended (%s) after %d events\n", s.route, reason, s.events)
	s.c.count(s.route, reason)
}

// An Observer sees every stream start and end, labelled by route: what the
// metrics modules (metrics/promsse, metrics/otelsse) are built on.
func ExampleWithObserver() {
	obs := &endCounter{ends: map[string]int{}}
	mux := http.NewServeMux()
	mux.Handle("GET /ticks", nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		t := core.NewTarget()
		t.Dispatch(core.Message{Data: "1"})
		t.Dispatch(core.Message{Data: "2"})
		t.Close()
		return t, nil
	}, core.WithObserver(obs)))
	mux.Handle("GET /private", nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return nil, core.Error(http.StatusUnauthorized, "who are you?")
	}, core.WithObserver(obs), core.WithRoute("private")))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, path := range []string{"/ticks", "/private"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	obs.mu.Lock()
	fmt.Println(obs.ends)
	obs.mu.Unlock()
	// Output:
	// GET /ticks ended (closed) after 2 events
	// map[GET /ticks closed:1 private handler_error:1]
}
