package remote_test

import (
	"net/http"
	"testing"

	"go.uber.org/goleak"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/conformance"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// request maps a net/http request to the suite's view of it.
func request(r *http.Request) conformance.Request {
	return conformance.Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, LastEventID: r.Header.Get("Last-Event-ID"), Header: r.Header, Context: r.Context(), Body: r.Body}
}

// shortEvent shortens an event's data for a failure message.
func shortEvent(e client.Event) client.Event {
	if len(e.Data) > 100 {
		e.Data = e.Data[:100] + "..."
	}
	return e
}
