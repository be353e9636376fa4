package otelsse

import (
	"context"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/ssekit/ssekit/core"
)

// Attribute keys.
const (
	AdapterKey = attribute.Key("ssekit.adapter")
	RouteKey   = attribute.Key("ssekit.route")
	ReasonKey  = attribute.Key("ssekit.reason")
	TopicKey   = attribute.Key("ssekit.topic")
	ResultKey  = attribute.Key("ssekit.result")
	ResetKey   = attribute.Key("ssekit.reset")
)

// routeSeries are the stream figures of one adapter and route.
type routeSeries struct {
	attrs                              []attribute.KeyValue
	add                                []metric.AddOption
	record                             []metric.RecordOption
	observeOpt                         metric.ObserveOption
	events, bytes, flushes, heartbeats atomic.Int64
}

func (m *Metrics) route(info core.StreamInfo) *routeSeries {
	return m.routes.Get([2]string{info.Adapter, info.Route}, func() *routeSeries {
		attrs := []attribute.KeyValue{AdapterKey.String(info.Adapter), RouteKey.String(info.Route)}
		set := metric.WithAttributeSet(attribute.NewSet(attrs...))
		return &routeSeries{attrs: attrs, add: []metric.AddOption{set},
			record: []metric.RecordOption{set}, observeOpt: set}
	})
}

// StreamStart implements core.Observer.
func (m *Metrics) StreamStart(info core.StreamInfo) core.StreamObserver {
	s := m.route(info)
	ctx := context.Background()
	m.started.Add(ctx, 1, s.add...)
	m.open.Add(ctx, 1, s.add...)
	return &stream{m: m, s: s, start: time.Now()}
}

// StreamRejected implements core.Observer.
func (m *Metrics) StreamRejected(info core.StreamInfo, reason core.EndReason, err error) {
	m.rejected.Add(context.Background(), 1, metric.WithAttributes(
		AdapterKey.String(info.Adapter), RouteKey.String(info.Route), ReasonKey.String(string(reason))))
}

// stream is the StreamObserver of one stream.
type stream struct {
	m     *Metrics
	s     *routeSeries
	start time.Time
}

// Wrote implements core.StreamObserver.
func (st *stream) Wrote(events, bytes int) {
	if events > 0 {
		st.s.events.Add(int64(events))
	}
	if bytes > 0 {
		st.s.bytes.Add(int64(bytes))
	}
	st.s.flushes.Add(1)
}

// Heartbeat implements core.StreamObserver.
func (st *stream) Heartbeat() {
	st.s.heartbeats.Add(1)
	st.s.flushes.Add(1)
	st.s.bytes.Add(2) // ":\n"
}

// DispatchWaited implements core.StreamObserver.
func (st *stream) DispatchWaited(d time.Duration) {
	st.m.wait.Record(context.Background(), d.Seconds(), st.s.record...)
}

// End implements core.StreamObserver.
func (st *stream) End(reason core.EndReason, err error) {
	ctx := context.Background()
	st.m.open.Add(ctx, -1, st.s.add...)
	st.m.duration.Record(ctx, time.Since(st.start).Seconds(), st.s.record...)
	attrs := append(append(make([]attribute.KeyValue, 0, 3), st.s.attrs...), ReasonKey.String(string(reason)))
	st.m.ended.Add(ctx, 1, metric.WithAttributes(attrs...))
}
