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

// Transport is how the suite's client reaches a server: the subtests of
// [Run] are named after it (TestConformance/h2/heartbeat).
type Transport string

// The transports of the suite, in the order [Run] runs them.
const (
	// HTTP1 is HTTP/1.1 over TCP, without TLS.
	HTTP1 Transport = "http1"
	// H2 is HTTP/2 over TLS, negotiated with ALPN, as browsers speak it.
	H2 Transport = "h2"
	// H2C is HTTP/2 over TCP without TLS, with prior knowledge (the client
	// speaks HTTP/2 at once), as proxies and gRPC-style clients speak it.
	H2C Transport = "h2c"
)

// HandlerHarness is a [Harness] for an adapter built on net/http: besides
// Serve, it returns the adapter's http.Handler, and the suite starts the
// servers itself, on every [Transport] (HTTP/1.1, HTTP/2 over TLS and h2c),
// each on 127.0.0.1 with a certificate the suite's clients trust. The
// simplest way to write one is [HandlerHarnessFunc].
type HandlerHarness interface {
	Harness
	// Handler returns an http.Handler that answers every path and method
	// with h through the adapter, passing opts to the adapter. It may
	// register cleanups on t (checks of a framework's own log, say); the
	// suite stops the server before they run.
	Handler(t testing.TB, h Handler, opts ...core.Option) http.Handler
}

// HandlerHarnessFunc adapts a function returning an http.Handler to
// [HandlerHarness]. Its Serve serves the handler over HTTP/1.1.
type HandlerHarnessFunc func(t testing.TB, h Handler, opts ...core.Option) http.Handler

// Handler calls f.
func (f HandlerHarnessFunc) Handler(t testing.TB, h Handler, opts ...core.Option) http.Handler {
	return f(t, h, opts...)
}

// Serve serves f's handler on a loopback HTTP/1.1 server, stopped by
// t.Cleanup, and returns its base URL.
func (f HandlerHarnessFunc) Serve(t testing.TB, h Handler, opts ...core.Option) string {
	return serveOn(t, HTTP1, f(t, h, opts...))
}

// HarnessTransports returns the transports [Run] uses with h: every
// [Transport] for a [HandlerHarness], only [HTTP1] for a harness that gives
// a base URL only (such as one on fasthttp, which has no HTTP/2).
func HarnessTransports(h Harness) []Transport {
	if _, ok := h.(HandlerHarness); ok {
		return []Transport{HTTP1, H2, H2C}
	}
	return []Transport{HTTP1}
}
