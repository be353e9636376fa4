package otelsse_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/metrics/otelsse"
)

// Install the metrics on a handler (and on a broker: broker.Options.Observer)
// with any MeterProvider: otel.GetMeterProvider() in a real server, here one
// with a ManualReader to show what was recorded.
func Example() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	m, err := otelsse.New(mp, otelsse.Options{})
	if err != nil {
		panic(err)
	}
	defer m.Close()

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

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			switch md.Name {
			case "ssekit.events.written", "ssekit.streams.ended":
				for _, dp := range md.Data.(metricdata.Sum[int64]).DataPoints {
					fmt.Println(md.Name, dp.Attributes.Encoded(attribute.DefaultEncoder()), dp.Value)
				}
			}
		}
	}
	// Unordered output:
	// ssekit.streams.ended ssekit.adapter=net/http,ssekit.reason=closed,ssekit.route=GET /news 1
	// ssekit.events.written ssekit.adapter=net/http,ssekit.route=GET /news 2
}
