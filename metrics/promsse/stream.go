package promsse

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ssekit/ssekit/core"
)

// routeSeries are the stream series of one adapter and route, bound once.
type routeSeries struct {
	adapter, route                              string
	open                                        prometheus.Gauge
	started, events, bytes, flushes, heartbeats prometheus.Counter
	duration, wait                              prometheus.Observer
}

func (m *Metrics) route(info core.StreamInfo) *routeSeries {
	key := [2]string{info.Adapter, info.Route}
	return m.routes.Get(key, func() *routeSeries {
		l := []string{info.Adapter, info.Route}
		return &routeSeries{
			adapter: info.Adapter, route: info.Route,
			open:       m.open.WithLabelValues(l...),
			started:    m.started.WithLabelValues(l...),
			events:     m.events.WithLabelValues(l...),
			bytes:      m.bytes.WithLabelValues(l...),
			flushes:    m.flushes.WithLabelValues(l...),
			heartbeats: m.heartbeats.WithLabelValues(l...),
			duration:   m.duration.WithLabelValues(l...),
			wait:       m.wait.WithLabelValues(l...),
		}
	})
}

// StreamStart implements core.Observer.
func (m *Metrics) StreamStart(info core.StreamInfo) core.StreamObserver {
	s := m.route(info)
	s.started.Inc()
	s.open.Inc()
	return &stream{m: m, s: s, start: time.Now()}
}

// StreamRejected implements core.Observer.
func (m *Metrics) StreamRejected(info core.StreamInfo, reason core.EndReason, err error) {
	m.rejected.WithLabelValues(info.Adapter, info.Route, string(reason)).Inc()
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
		st.s.events.Add(float64(events))
	}
	if bytes > 0 {
		st.s.bytes.Add(float64(bytes))
	}
	st.s.flushes.Inc()
}

// Heartbeat implements core.StreamObserver.
func (st *stream) Heartbeat() {
	st.s.heartbeats.Inc()
	st.s.flushes.Inc()
	st.s.bytes.Add(2) // ":\n"
}

// DispatchWaited implements core.StreamObserver.
func (st *stream) DispatchWaited(d time.Duration) { st.s.wait.Observe(d.Seconds()) }

// End implements core.StreamObserver.
func (st *stream) End(reason core.EndReason, err error) {
	st.s.open.Dec()
	st.s.duration.Observe(time.Since(st.start).Seconds())
	st.m.ended.WithLabelValues(st.s.adapter, st.s.route, string(reason)).Inc()
}
