package otelsse

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/metric"

	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/metricseries"
)

// ScopeName is the name of the meter the instruments are created with.
const ScopeName = "github.com/ssekit/ssekit/metrics/otelsse"

// Metrics records ssekit's metrics. It is a core.Observer (install it with
// core.WithObserver) and a broker.Observer (broker.Options.Observer).
// Create it with [New]; it is safe for concurrent use.
type Metrics struct {
	open, subscribers                               metric.Int64UpDownCounter
	started, ended, rejected                        metric.Int64Counter
	events, bytes, flushes, heartbeats              metric.Int64ObservableCounter
	duration, wait                                  metric.Float64Histogram
	published, deliveries, drops, replays, replayed metric.Int64Counter
	feedFailures, feedRecoveries                    metric.Int64Counter
	reg                                             metric.Registration

	topics *metricseries.Topics                        // topic -> label value
	routes metricseries.Cache[[2]string, *routeSeries] // by adapter and route
	series metricseries.Cache[string, *topicSeries]    // by topic label
}

var (
	_ core.Observer   = (*Metrics)(nil)
	_ broker.Observer = (*Metrics)(nil)
)

// New creates the instruments on a meter of mp and returns the metrics.
// Call Close to unregister the callback that reports the observed ones.
func New(mp metric.MeterProvider, o Options) (*Metrics, error) {
	if o.MaxTopics == 0 {
		o.MaxTopics = DefaultMaxTopics
	}
	mt := mp.Meter(ScopeName)
	m := &Metrics{
		topics: metricseries.NewTopics(o.Topic, o.MaxTopics, OtherTopic),
	}
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := mt.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	observed := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := mt.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	updown := func(name, unit, desc string) metric.Int64UpDownCounter {
		c, err := mt.Int64UpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	histogram := func(name, desc string) metric.Float64Histogram {
		h, err := mt.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc))
		errs = append(errs, err)
		return h
	}
	m.open = updown("ssekit.streams.open", "{stream}", "Event streams open now.")
	m.started = counter("ssekit.streams.started", "{stream}", "Event streams started.")
	m.ended = counter("ssekit.streams.ended", "{stream}", "Event streams ended, by reason.")
	m.rejected = counter("ssekit.streams.rejected", "{request}", "Requests answered without a stream, by reason.")
	m.duration = histogram("ssekit.stream.duration", "How long event streams lasted.")
	m.events = observed("ssekit.events.written", "{event}", "Events written to clients.")
	m.bytes = observed("ssekit.bytes.written", "By", "Bytes of events and heartbeats written to clients.")
	m.flushes = observed("ssekit.flushes", "{flush}", "Flushes to clients (event batches, headers, heartbeats).")
	m.heartbeats = observed("ssekit.heartbeats", "{heartbeat}", "Heartbeat comments written to idle streams.")
	m.wait = histogram("ssekit.dispatch.wait", "Time a Dispatch waited for queue space (the client read slower than the producer wrote).")
	m.subscribers = updown("ssekit.broker.subscribers", "{subscriber}", "Broker subscribers on this instance, by topic.")
	m.published = counter("ssekit.broker.published", "{event}", "Broker publishes, by result (ok, error).")
	m.deliveries = counter("ssekit.broker.deliveries", "{delivery}", "Events queued for local subscribers (one per event and subscriber).")
	m.drops = counter("ssekit.broker.slow_drops", "{subscriber}", "Subscribers too slow for an event (disconnected, or dropping older events).")
	m.replays = counter("ssekit.broker.replays", "{subscription}", "Subscriptions that resumed from the log, by whether they got the reset signal.")
	m.replayed = counter("ssekit.broker.replayed", "{event}", "Logged events queued for resuming subscriptions.")
	m.feedFailures = counter("ssekit.broker.feed.failures", "{failure}", "Failures of the broker backend's feed (such as Redis unreachable).")
	m.feedRecoveries = counter("ssekit.broker.feed.recoveries", "{recovery}", "Recoveries of the broker backend's feed after a failure.")
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	reg, err := mt.RegisterCallback(m.observe, m.events, m.bytes, m.flushes, m.heartbeats)
	if err != nil {
		return nil, err
	}
	m.reg = reg
	return m, nil
}

// Close unregisters the callback of the observed instruments.
func (m *Metrics) Close() error { return m.reg.Unregister() }

// observe reports the per-flush figures of every route.
func (m *Metrics) observe(_ context.Context, o metric.Observer) error {
	m.routes.Range(func(s *routeSeries) {
		o.ObserveInt64(m.events, s.events.Load(), s.observeOpt)
		o.ObserveInt64(m.bytes, s.bytes.Load(), s.observeOpt)
		o.ObserveInt64(m.flushes, s.flushes.Load(), s.observeOpt)
		o.ObserveInt64(m.heartbeats, s.heartbeats.Load(), s.observeOpt)
	})
	return nil
}
