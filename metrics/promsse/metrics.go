package promsse

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/metricseries"
)

// Metrics records ssekit's metrics. It is a core.Observer (install it with
// core.WithObserver), a broker.Observer (broker.Options.Observer) and a
// prometheus.Collector (register it). Create it with [New]; it is safe for
// concurrent use.
type Metrics struct {
	open                                   *prometheus.GaugeVec
	started, ended, rejected               *prometheus.CounterVec
	events, bytes, flushes, heartbeats     *prometheus.CounterVec
	duration, wait                         *prometheus.HistogramVec
	subscribers                            *prometheus.GaugeVec
	published, deliveries, drops, replays  *prometheus.CounterVec
	replayed, feedFailures, feedRecoveries prometheus.Counter
	collectors                             []prometheus.Collector

	topics *metricseries.Topics                        // topic -> label value
	routes metricseries.Cache[[2]string, *routeSeries] // by adapter and route
	series metricseries.Cache[string, *topicSeries]    // by topic label
}

var (
	_ core.Observer        = (*Metrics)(nil)
	_ broker.Observer      = (*Metrics)(nil)
	_ prometheus.Collector = (*Metrics)(nil)
)

// New returns the metrics, to register with a prometheus.Registerer.
func New(o Options) *Metrics {
	ns := o.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	if o.MaxTopics == 0 {
		o.MaxTopics = DefaultMaxTopics
	}
	buckets := o.Buckets
	if buckets == nil {
		buckets = prometheus.DefBuckets
	}
	route := []string{"adapter", "route"}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
	}
	m := &Metrics{
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "streams_open",
			Help: "Event streams open now."}, route),
		started:    counter("streams_started_total", "Event streams started.", route...),
		ended:      counter("streams_ended_total", "Event streams ended, by reason.", append(route, "reason")...),
		rejected:   counter("streams_rejected_total", "Requests answered without a stream, by reason.", append(route, "reason")...),
		events:     counter("events_written_total", "Events written to clients.", route...),
		bytes:      counter("bytes_written_total", "Bytes of events and heartbeats written to clients.", route...),
		flushes:    counter("flushes_total", "Flushes to clients (event batches, headers, heartbeats).", route...),
		heartbeats: counter("heartbeats_total", "Heartbeat comments written to idle streams.", route...),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "stream_duration_seconds",
			Help: "How long event streams lasted.", Buckets: buckets}, route),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "dispatch_wait_seconds",
			Help: "Time a Dispatch waited for queue space (the client read slower than the producer wrote).", Buckets: buckets}, route),
		subscribers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "broker_subscribers",
			Help: "Broker subscribers on this instance, by topic."}, []string{"topic"}),
		published:  counter("broker_published_total", "Broker publishes, by result (ok, error).", "topic", "result"),
		deliveries: counter("broker_deliveries_total", "Events queued for local subscribers (one per event and subscriber).", "topic"),
		drops:      counter("broker_slow_drops_total", "Subscribers too slow for an event (disconnected, or dropping older events).", "topic"),
		replays:    counter("broker_replays_total", "Subscriptions that resumed from the log, by whether they got the reset signal.", "reset"),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "broker_replayed_events_total",
			Help: "Logged events queued for resuming subscriptions."}),
		feedFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "broker_feed_failures_total",
			Help: "Failures of the broker backend's feed (such as Redis unreachable)."}),
		feedRecoveries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "broker_feed_recoveries_total",
			Help: "Recoveries of the broker backend's feed after a failure."}),
		topics: metricseries.NewTopics(o.Topic, o.MaxTopics, OtherTopic),
	}
	m.collectors = []prometheus.Collector{m.open, m.started, m.ended, m.rejected, m.events, m.bytes, m.flushes,
		m.heartbeats, m.duration, m.wait, m.subscribers, m.published, m.deliveries, m.drops, m.replays,
		m.replayed, m.feedFailures, m.feedRecoveries}
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors {
		c.Collect(ch)
	}
}
