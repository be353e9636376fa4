package danet

import (
	"context"
	"net"
	"net/http"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

// NetHTTP is the example on net/http, the standard library's server: the
// only framework that adds no module, it lives here, beside the example.
var NetHTTP = Framework{Name: "net/http", Serve: serveNetHTTP}

func serveNetHTTP(ln net.Listener, streams *core.Group) func(context.Context) error {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", PageHandler("net/http"))
	mux.Handle("GET /sse", nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return Events(nethttpsse.LastEventID(r))
	}, core.WithGroup(streams)))
	srv := NewServer(mux, streams)
	go srv.Serve(ln)
	return srv.Shutdown
}
