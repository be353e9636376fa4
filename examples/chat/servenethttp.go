package chat

import (
	"context"
	"encoding/json"
	"net"
	"net/http"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

// NetHTTP is the chat on net/http, the standard library's server: the only
// framework that adds no module, it lives here, beside the chat.
var NetHTTP = Framework{Name: "net/http", Serve: serveNetHTTP}

func serveNetHTTP(ln net.Listener, c *Chat) func(context.Context) error {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", c.PageHandler("net/http"))
	mux.Handle("GET /rooms/{room}/events", nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return c.Subscribe(r.Context(), StreamRequestOf(r, r.PathValue("room"), nethttpsse.LastEventID(r)))
	}, c.StreamOptions()...))
	mux.Handle("GET /metrics", c.MetricsHandler())
	mux.Handle("GET /presence", c.PresenceHandler())
	// The POST routes' bodies are bounded by Serve (guardBodies).
	for route, f := range map[string]func(context.Context, PostRequest) (Posted, error){
		"POST /rooms/{room}/messages": c.Post,
		"POST /rooms/{room}/join":     c.Join,
	} {
		mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
			res, err := f(r.Context(), PostRequestOf(r, r.PathValue("room")))
			if err != nil {
				http.Error(w, core.ErrorText(err), core.StatusOf(err))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(res)
		})
	}
	return c.Serve(ln, mux)
}
