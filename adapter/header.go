package adapter

import (
	"net/http"

	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/hook"
)

// Header returns the response headers of an event stream, to set before the
// first write: Content-Type: text/event-stream, Cache-Control: no-cache and
// X-Accel-Buffering: no (nginx). Hop-by-hop headers (Connection, Keep-Alive,
// Transfer-Encoding) are deliberately absent: the server manages them, and
// they break HTTP/2. Each call returns a fresh copy.
func Header() [3][2]string {
	return [3][2]string{
		{"Content-Type", "text/event-stream"},
		{"Cache-Control", "no-cache"},
		{"X-Accel-Buffering", "no"},
	}
}

// SetHeader sets [Header] on h.
func SetHeader(h http.Header) {
	for _, kv := range Header() {
		h[kv[0]] = []string{kv[1]}
	}
}

// Closing reports whether a stream started with o now would be refused: its
// Group is shut down. Adapters check it before they write the headers and
// then answer with [Refusal].
func Closing(o core.Options) bool { return o.Group != nil && o.Group.Closed() }

// Refusal returns the body of the answer to a stream asked for while the
// server shuts down ([Closing], or a handler error matching
// [core.ErrShutdown], such as a broker's Subscribe after its Shutdown): a
// comment and a "retry:" between 500 ms and 1.5 s, chosen at random so that
// the clients of a draining instance come back spread out. Adapters send it
// with status 200 and the [Header] headers, and close an HTTP/1 connection
// ("Connection: close") so that the client reconnects, through the load
// balancer, to a live instance. Any other answer would strand browsers: an
// EventSource treats a non-200 status as final and never reconnects. The
// retry value stays in force in the client until a stream sends its own.
func Refusal() []byte { return hook.Refusal() }
