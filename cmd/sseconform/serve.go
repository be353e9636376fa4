package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/conformance/remote"
	"github.com/ssekit/ssekit/core"
)

// shutdownTimeout bounds how long serve waits for streams and connections
// to end once interrupted.
const shutdownTimeout = 5 * time.Second

// runServe serves the reference implementation of the scenario protocol
// until ctx ends.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(stdout, stderr, err)
	}
	if len(pos) > 0 {
		return usageError(stdout, stderr, fmt.Errorf("serve takes no argument (got %q)", pos))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "sseconform serve: %v\n", err)
		return exitFail
	}
	g := new(core.Group)
	srv := &http.Server{
		Handler:           withDemo(referenceHandler(g), g),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(stderr, "sseconform serve: ", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "sseconform serve: the scenario protocol at %s (interrupt to stop)\n", base)
	fmt.Fprintf(stdout, "  try: sseconform %s\n", base)
	fmt.Fprintf(stdout, "       sseconform check -want-end -want-events %d %s%s\n", len(demoEvents), base, demoPath)

	code := exitOK
	select {
	case <-ctx.Done():
	case err := <-served:
		fmt.Fprintf(stderr, "sseconform serve: %v\n", err)
		return exitFail
	}
	// End every stream (net/http's Shutdown waits for them, it does not
	// end them), then the server.
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := g.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "sseconform serve: ending the streams: %v\n", err)
		code = exitFail
	}
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "sseconform serve: %v\n", err)
		srv.Close()
		code = exitFail
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "sseconform serve: %v\n", err)
		code = exitFail
	}
	return code
}

// referenceHandler serves every route of the scenario protocol with the
// net/http adapter, every stream in g.
func referenceHandler(g *core.Group) http.Handler {
	return remote.ProtocolHandler(remote.Scenarios(), func(h conformance.Handler, opts ...core.Option) http.Handler {
		opts = append(slices.Clip(opts), core.WithGroup(g))
		return nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
			return h(conformance.Request{
				Method:      r.Method,
				Path:        r.URL.Path,
				Query:       r.URL.RawQuery,
				LastEventID: nethttpsse.LastEventID(r),
				Header:      r.Header,
				Context:     r.Context(),
				Body:        r.Body,
			})
		}, opts...)
	})
}

// demoPath is the route of the demo stream, outside the scenario protocol.
const demoPath = "/demo"

// demoEvents is the demo stream: every kind of data that servers get wrong
// (line breaks of each kind, a leading space, empty data, with and without
// an event name), an id on every event, and a close event last. The
// interop tests send the same events from other libraries.
var demoEvents = []core.Message{
	{ID: "1", Data: "plain"},
	{ID: "2", Data: "lf\nin data"},
	{ID: "3", Data: "cr\rin data"},
	{ID: "4", Data: "crlf\r\nin data"},
	{ID: "5", Data: " leading space"},
	{ID: "6", Data: ""},
	{ID: "7", Event: "named", Data: "n"},
	{ID: "8", Event: "named", Data: ""},
	{ID: "9", Event: "close", Data: "bye"},
}

// demoPace is the time between two events of the demo stream.
const demoPace = 20 * time.Millisecond

// withDemo adds the demo route to h: a retry-only message (700ms, which
// ends without a blank line, as the standard allows), then demoEvents paced
// by demoPace, resuming after the Last-Event-ID of a reconnecting client.
func withDemo(h http.Handler, g *core.Group) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.Handle(demoPath, nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		after, _ := strconv.Atoi(nethttpsse.LastEventID(r))
		ctx := r.Context()
		return core.FromSeq(func(yield func(core.Message) bool) {
			if !yield(core.Message{Retry: 700 * time.Millisecond}) {
				return
			}
			timer := time.NewTimer(demoPace)
			defer timer.Stop()
			for _, m := range demoEvents {
				if n, _ := strconv.Atoi(m.ID); n <= after {
					continue
				}
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
				timer.Reset(demoPace)
				if !yield(m) {
					return
				}
			}
		}), nil
	}, core.WithGroup(g)))
	return mux
}
