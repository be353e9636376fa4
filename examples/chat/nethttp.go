package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

func serveNetHTTP(ln net.Listener, c *chat) func(context.Context) error {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", c.pageHandler("net/http"))
	mux.Handle("GET /rooms/{room}/events", nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return c.subscribe(r.Context(), streamRequestOf(r, r.PathValue("room"), nethttpsse.LastEventID(r)))
	}, streamOptions...))
	// The POST routes' bodies are bounded by serveHTTP (guardBodies).
	for route, f := range map[string]func(context.Context, postRequest) (posted, error){
		"POST /rooms/{room}/messages": c.post,
		"POST /rooms/{room}/join":     c.join,
	} {
		mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
			res, err := f(r.Context(), postRequestOf(r, r.PathValue("room")))
			if err != nil {
				http.Error(w, core.ErrorText(err), core.StatusOf(err))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(res)
		})
	}
	return c.serveHTTP(ln, mux)
}
