package metricstest

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/metrics/otelsse"
	"github.com/ssekit/ssekit/metrics/promsse"
)

// lib is one metrics library under test: the observer to install, and how
// to read a figure back through the library's own test reader.
type lib struct {
	name string
	// setup returns the observer (a core.Observer and a broker.Observer)
	// and the reader of its figures.
	setup func(t *testing.T) (observer, reader)
}

type observer interface {
	core.Observer
	broker.Observer
}

// reader returns the sum of the values (for histograms: of the counts) of
// the series of metric whose labels include those given. metric and label
// names are Prometheus' ("streams_ended_total", "reason"); the OpenTelemetry
// reader maps them to its own ("ssekit.streams.ended", "ssekit.reason").
type reader func(t *testing.T, metric string, labels ...string) float64

var libs = []lib{{"prometheus", setupProm}, {"otel", setupOTel}}

func setupProm(t *testing.T) (observer, reader) {
	m := promsse.New(promsse.Options{})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	return m, func(t *testing.T, metric string, labels ...string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatalf("Gather: %v", err)
		}
		var sum float64
		for _, mf := range mfs {
			if mf.GetName() != "ssekit_"+metric {
				continue
			}
			for _, m := range mf.GetMetric() {
				if !promLabels(m.GetLabel(), labels) {
					continue
				}
				switch {
				case m.Counter != nil:
					sum += m.GetCounter().GetValue()
				case m.Gauge != nil:
					sum += m.GetGauge().GetValue()
				case m.Histogram != nil:
					sum += float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
		return sum
	}
}

func promLabels(have []*dto.LabelPair, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		found := false
		for _, l := range have {
			if l.GetName() == want[i] && l.GetValue() == want[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// otelNames maps the Prometheus names to the instruments'.
var otelNames = map[string]string{
	"streams_open":                 "ssekit.streams.open",
	"streams_started_total":        "ssekit.streams.started",
	"streams_ended_total":          "ssekit.streams.ended",
	"streams_rejected_total":       "ssekit.streams.rejected",
	"stream_duration_seconds":      "ssekit.stream.duration",
	"events_written_total":         "ssekit.events.written",
	"bytes_written_total":          "ssekit.bytes.written",
	"flushes_total":                "ssekit.flushes",
	"heartbeats_total":             "ssekit.heartbeats",
	"dispatch_wait_seconds":        "ssekit.dispatch.wait",
	"broker_subscribers":           "ssekit.broker.subscribers",
	"broker_published_total":       "ssekit.broker.published",
	"broker_deliveries_total":      "ssekit.broker.deliveries",
	"broker_slow_drops_total":      "ssekit.broker.slow_drops",
	"broker_replays_total":         "ssekit.broker.replays",
	"broker_replayed_events_total": "ssekit.broker.replayed",
	"broker_feed_failures_total":   "ssekit.broker.feed.failures",
}

func setupOTel(t *testing.T) (observer, reader) {
	rd := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(rd))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m, err := otelsse.New(mp, otelsse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m, func(t *testing.T, metric string, labels ...string) float64 {
		t.Helper()
		name, ok := otelNames[metric]
		if !ok {
			t.Fatalf("no instrument for %s", metric)
		}
		var rm metricdata.ResourceMetrics
		if err := rd.Collect(context.Background(), &rm); err != nil {
			t.Fatalf("Collect: %v", err)
		}
		var sum float64
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name != name {
					continue
				}
				switch d := m.Data.(type) {
				case metricdata.Sum[int64]:
					for _, dp := range d.DataPoints {
						if otelLabels(dp.Attributes, labels) {
							sum += float64(dp.Value)
						}
					}
				case metricdata.Histogram[float64]:
					for _, dp := range d.DataPoints {
						if otelLabels(dp.Attributes, labels) {
							sum += float64(dp.Count)
						}
					}
				default:
					t.Fatalf("%s: unexpected data %T", name, m.Data)
				}
			}
		}
		return sum
	}
}

// otelLabels reports whether have includes the Prometheus-named labels of
// want, as "ssekit.<name>" attributes.
func otelLabels(have attribute.Set, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		v, ok := have.Value(attribute.Key("ssekit." + want[i]))
		if !ok || v.String() != want[i+1] {
			return false
		}
	}
	return true
}
