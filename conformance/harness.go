package conformance

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/ssekit/ssekit/core"
)

// Request is the framework-neutral view of an incoming request that a
// [Harness] hands to the suite's handlers.
type Request struct {
	Method      string
	Path        string      // the URL path, such as "/sse"
	Query       string      // the raw query, without "?"
	LastEventID string      // the Last-Event-ID header
	Header      http.Header // every request header
	// Context is the request's context where the framework has one that ends
	// with the request (net/http, Gin, Echo); context.Background() otherwise.
	Context context.Context
	// Body is the request body, which a handler may read before it returns
	// (a stream started by POST). Nil when the harness does not provide it;
	// the scenarios then skip the body check.
	Body io.Reader
}

// Handler is a core-level SSE handler: what an adapter's user writes, minus the
// framework's context type.
type Handler func(r Request) (core.EventTarget, error)

// Harness serves a [Handler] through one adapter. A custom adapter implements
// this one method and calls [Run].
type Harness interface {
	// Serve starts a real server on a loopback address that answers every
	// path with h through the adapter, passing opts to the adapter, and returns
	// its base URL, such as "http://127.0.0.1:41234". It stops the server with
	// t.Cleanup. An error h returns must reach the framework's own error
	// handling, as the adapter does for its users.
	Serve(t testing.TB, h Handler, opts ...core.Option) (baseURL string)
}

// HarnessFunc adapts a function to [Harness].
type HarnessFunc func(t testing.TB, h Handler, opts ...core.Option) string

// Serve calls f.
func (f HarnessFunc) Serve(t testing.TB, h Handler, opts ...core.Option) string {
	return f(t, h, opts...)
}
