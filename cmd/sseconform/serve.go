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
	"time"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/conformance"
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
		Handler:           referenceHandler(g),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(stderr, "sseconform serve: ", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "sseconform serve: the scenario protocol at %s (interrupt to stop)\n", base)
	fmt.Fprintf(stdout, "  try: sseconform %s\n", base)
	fmt.Fprintf(stdout, "       sseconform check -idle 1s %s/flush-per-event\n", base)

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
	return conformance.ProtocolHandler(conformance.RemoteScenarios(), func(h conformance.Handler, opts ...core.Option) http.Handler {
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
