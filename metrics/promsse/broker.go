package promsse

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// topicSeries are the broker series of one topic label, bound once.
type topicSeries struct {
	subscribers                          prometheus.Gauge
	publishedOK, publishedErr, delivered prometheus.Counter
	dropped                              prometheus.Counter
}

func (m *Metrics) topic(topic string) *topicSeries {
	l := m.topics.Label(topic)
	return m.series.Get(l, func() *topicSeries {
		return &topicSeries{
			subscribers:  m.subscribers.WithLabelValues(l),
			publishedOK:  m.published.WithLabelValues(l, "ok"),
			publishedErr: m.published.WithLabelValues(l, "error"),
			delivered:    m.deliveries.WithLabelValues(l),
			dropped:      m.drops.WithLabelValues(l),
		}
	})
}

// Subscribed implements broker.Observer.
func (m *Metrics) Subscribed(topic string, n int) { m.topic(topic).subscribers.Inc() }

// Unsubscribed implements broker.Observer.
func (m *Metrics) Unsubscribed(topic string, n int) { m.topic(topic).subscribers.Dec() }

// Published implements broker.Observer.
func (m *Metrics) Published(topic string, err error) {
	if err != nil {
		m.topic(topic).publishedErr.Inc()
		return
	}
	m.topic(topic).publishedOK.Inc()
}

// Delivered implements broker.Observer.
func (m *Metrics) Delivered(topic string, delivered, dropped int) {
	s := m.topic(topic)
	if delivered > 0 {
		s.delivered.Add(float64(delivered))
	}
	if dropped > 0 {
		s.dropped.Add(float64(dropped))
	}
}

// Replayed implements broker.Observer.
func (m *Metrics) Replayed(events int, reset bool) {
	m.replays.WithLabelValues(strconv.FormatBool(reset)).Inc()
	m.replayed.Add(float64(events))
}

// FeedFailed implements broker.Observer.
func (m *Metrics) FeedFailed(err error) { m.feedFailures.Inc() }

// FeedRecovered implements broker.Observer.
func (m *Metrics) FeedRecovered() { m.feedRecoveries.Inc() }
