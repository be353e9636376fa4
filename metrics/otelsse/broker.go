package otelsse

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// topicSeries are the options of one topic attribute value, bound once.
type topicSeries struct {
	topic, ok, failed []metric.AddOption
}

func (m *Metrics) topic(topic string) *topicSeries {
	l := m.topics.Label(topic)
	return m.series.Get(l, func() *topicSeries {
		t := TopicKey.String(l)
		return &topicSeries{
			topic:  []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(t))},
			ok:     []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(t, ResultKey.String("ok")))},
			failed: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(t, ResultKey.String("error")))},
		}
	})
}

var (
	resetTrue  = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(ResetKey.Bool(true)))}
	resetFalse = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(ResetKey.Bool(false)))}
)

// Subscribed implements broker.Observer.
func (m *Metrics) Subscribed(topic string, n int) {
	m.subscribers.Add(context.Background(), 1, m.topic(topic).topic...)
}

// Unsubscribed implements broker.Observer.
func (m *Metrics) Unsubscribed(topic string, n int) {
	m.subscribers.Add(context.Background(), -1, m.topic(topic).topic...)
}

// Published implements broker.Observer.
func (m *Metrics) Published(topic string, err error) {
	s := m.topic(topic)
	if err != nil {
		m.published.Add(context.Background(), 1, s.failed...)
		return
	}
	m.published.Add(context.Background(), 1, s.ok...)
}

// Delivered implements broker.Observer.
func (m *Metrics) Delivered(topic string, delivered, dropped int) {
	s := m.topic(topic)
	if delivered > 0 {
		m.deliveries.Add(context.Background(), int64(delivered), s.topic...)
	}
	if dropped > 0 {
		m.drops.Add(context.Background(), int64(dropped), s.topic...)
	}
}

// Replayed implements broker.Observer.
func (m *Metrics) Replayed(events int, reset bool) {
	opts := resetFalse
	if reset {
		opts = resetTrue
	}
	m.replays.Add(context.Background(), 1, opts...)
	m.replayed.Add(context.Background(), int64(events))
}

// FeedFailed implements broker.Observer.
func (m *Metrics) FeedFailed(err error) { m.feedFailures.Add(context.Background(), 1) }

// FeedRecovered implements broker.Observer.
func (m *Metrics) FeedRecovered() { m.feedRecoveries.Add(context.Background(), 1) }
