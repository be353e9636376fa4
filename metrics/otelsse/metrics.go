package otelsse

import (
	"context"
	"errors"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/metric"

	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/core"
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
	topicOf                                         func(string) string
	maxTopics                                       int

	mu     sync.RWMutex
	routes map[[2]string]*routeSeries
	topics map[string]*topicSeries
	labels map[string]string // topic -> label value, a bounded cache
	values map[string]bool   // the label values given out
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
		topicOf:   o.Topic,
		maxTopics: o.MaxTopics,
		routes:    map[[2]string]*routeSeries{},
		topics:    map[string]*topicSeries{},
		labels:    map[string]string{},
		values:    map[string]bool{},
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
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, s := range m.routes {
		o.ObserveInt64(m.events, s.events.Load(), s.observeOpt)
		o.ObserveInt64(m.bytes, s.bytes.Load(), s.observeOpt)
		o.ObserveInt64(m.flushes, s.flushes.Load(), s.observeOpt)
		o.ObserveInt64(m.heartbeats, s.heartbeats.Load(), s.observeOpt)
	}
	return nil
}

// cached returns the value of key in mp, making it with mk under the write
// lock on a miss.
func cached[K comparable, V any](m *Metrics, mp map[K]V, key K, mk func() V) V {
	m.mu.RLock()
	v, ok := mp[key]
	m.mu.RUnlock()
	if ok {
		return v
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := mp[key]; ok {
		return v
	}
	v = mk()
	mp[key] = v
	return v
}

// topicLabel maps topic to its attribute value, within the cap. The topic
// may alias a caller's buffer: what is kept is a copy.
func (m *Metrics) topicLabel(topic string) string {
	m.mu.RLock()
	l, ok := m.labels[topic]
	m.mu.RUnlock()
	if ok {
		return l
	}
	l = strings.Clone(topic)
	if m.topicOf != nil {
		l = m.topicOf(l)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if known, ok := m.labels[topic]; ok {
		return known
	}
	if !m.values[l] {
		if m.maxTopics > 0 && len(m.values) >= m.maxTopics {
			l = OtherTopic
		} else {
			m.values[l] = true
		}
	}
	if m.maxTopics <= 0 || len(m.labels) < 4*m.maxTopics { // the cache stays bounded
		m.labels[strings.Clone(topic)] = l
	}
	return l
}
