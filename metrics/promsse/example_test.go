package promsse_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/metrics/promsse"
)

// Install the metrics on the handlers and the broker, register them, and
// expose them (promhttp.Handler on /metrics in a real server).
func Example() {
	m := promsse.New(promsse.Options{})
	reg := prometheus.NewRegistry() // prometheus.DefaultRegisterer in a real server
	reg.MustRegister(m)
	b := broker.New(broker.Options{Observer: m})
	defer b.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.Handle("GET /news", nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		t := core.NewTarget()
		t.Dispatch(core.Message{Data: "one"})
		t.Dispatch(core.Message{Data: "two"})
		t.Close()
		return t, nil
	}, core.WithObserver(m)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/news")
	if err != nil {
		panic(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()

	err = testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP ssekit_events_written_total Events written to clients.
# TYPE ssekit_events_written_total counter
ssekit_events_written_total{adapter="net/http",route="GET /news"} 2
# HELP ssekit_streams_ended_total Event streams ended, by reason.
# TYPE ssekit_streams_ended_total counter
ssekit_streams_ended_total{adapter="net/http",reason="closed",route="GET /news"} 1
`), "ssekit_events_written_total", "ssekit_streams_ended_total")
	fmt.Println(err)
	// Output: <nil>
}
