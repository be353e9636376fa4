package main

import (
	"context"
	"net"
	"net/http"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

func serveNetHTTP(ln net.Listener, streams *core.Group) func(context.Context) error {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", pageHandler("net/http"))
	mux.Handle("GET /sse", nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return danet(nethttpsse.LastEventID(r))
	}, core.WithGroup(streams)))
	srv := newServer(mux, streams)
	go srv.Serve(ln)
	return srv.Shutdown
}
