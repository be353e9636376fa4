package broker

import (
	"context"
	"errors"

	"github.com/ssekit/ssekit/core"
)

// Observer watches a [Broker] ([Options.Observer]): metrics (the
// metrics/otelsse and metrics/promsse modules), logs ([LogObserver]) and
// your own hooks. Its methods are called outside the broker's locks, on the
// goroutine that caused the event (Subscribe, Stop, Publish, the backend's
// feed); a panic in one is recovered and dropped. Without an Observer the
// broker pays a nil check.
type Observer interface {
	// Subscribed is called when a subscription joins topic on this
	// instance; n is the number of local subscribers of topic after it.
	Subscribed(topic string, n int)
	// Unsubscribed is called when a subscription leaves topic; n is the
	// number of local subscribers of topic after it.
	Unsubscribed(topic string, n int)
	// Published is called when a Publish to topic returns: err is nil when
	// the event was appended.
	Published(topic string, err error)
	// Delivered is called once per event the backend feeds to this
	// instance: it was queued for (or held back during the replay of)
	// delivered local subscribers of topic, and dropped subscribers were
	// too slow for it (disconnected under the Disconnect policy, or lost
	// older events under DropOldest).
	Delivered(topic string, delivered, dropped int)
	// Replayed is called when a Subscribe with a Last-Event-ID queued the
	// logged events after it: events of them, after the [ResetEvent]
	// signal when reset (the log no longer reached back to the client's
	// id).
	Replayed(events int, reset bool)
	// FeedFailed is called when the backend's feed broke (such as Redis
	// becoming unreachable): every subscription ends with err, and the
	// backend keeps trying to restore the feed.
	FeedFailed(err error)
	// FeedRecovered is called when the backend's feed works again after a
	// failure (the Redis backend reports it; the memory one never fails).
	FeedRecovered()
}

// Observers returns an Observer that calls each of obs in turn (nil ones
// are skipped), such as metrics and a logger.
func Observers(obs ...Observer) Observer {
	var m multi
	for _, o := range obs {
		switch o := o.(type) {
		case nil:
		case multi:
			m = append(m, o...)
		default:
			m = append(m, o)
		}
	}
	switch len(m) {
	case 0:
		return nil
	case 1:
		return m[0]
	}
	return m
}

// multi is the Observer of Observers.
type multi []Observer

func (m multi) Subscribed(topic string, n int) {
	for _, o := range m {
		o.Subscribed(topic, n)
	}
}

func (m multi) Unsubscribed(topic string, n int) {
	for _, o := range m {
		o.Unsubscribed(topic, n)
	}
}

func (m multi) Published(topic string, err error) {
	for _, o := range m {
		o.Published(topic, err)
	}
}

func (m multi) Delivered(topic string, delivered, dropped int) {
	for _, o := range m {
		o.Delivered(topic, delivered, dropped)
	}
}

func (m multi) Replayed(events int, reset bool) {
	for _, o := range m {
		o.Replayed(events, reset)
	}
}

func (m multi) FeedFailed(err error) {
	for _, o := range m {
		o.FeedFailed(err)
	}
}

func (m multi) FeedRecovered() {
	for _, o := range m {
		o.FeedRecovered()
	}
}

// observe calls f with the broker's observer, when it has one, dropping a
// panic in it.
func (b *Broker) observe(f func(Observer)) {
	if b.obs == nil {
		return
	}
	defer func() { _ = recover() }()
	f(b.obs)
}

// topicCount is a topic and its local subscribers after a change.
type topicCount struct {
	topic string
	n     int
}

// slowError is ErrSlowSubscriber: it classifies itself for core.Reason.
type slowError struct{}

func (slowError) Error() string { return "ssekit: subscriber too slow, disconnected" }

// EndReason reports core.EndSlowSubscriber.
func (slowError) EndReason() core.EndReason { return core.EndSlowSubscriber }

// FeedError is the reason ([Subscription.Err]) every subscription ends
// with when the backend's feed breaks: it wraps the backend's error and
// classifies itself as core.EndBackendError for [core.Reason].
type FeedError struct{ Err error }

func (e *FeedError) Error() string { return "ssekit: broker feed failed: " + e.Err.Error() }

// Unwrap returns the backend's error.
func (e *FeedError) Unwrap() error { return e.Err }

// EndReason reports core.EndBackendError.
func (e *FeedError) EndReason() core.EndReason { return core.EndBackendError }

// Presence returns the number of subscribers of each topic that has any on
// this instance (a subscription to several topics counts once in each).
// It is a snapshot, taken under the broker's read lock in O(topics).
func (b *Broker) Presence() map[string]int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	p := make(map[string]int, len(b.topics))
	for t, set := range b.topics {
		p[t] = len(set.subs)
	}
	return p
}

// PresenceBackend is a [Backend] that shares presence between the brokers
// using it, for [Broker.ClusterPresence]. The Redis backend implements it.
type PresenceBackend interface {
	Backend
	// Presence returns the subscribers of each topic summed over every
	// broker sharing the backend. local is this broker's own count, fresh;
	// the others' are as fresh as the backend documents.
	Presence(ctx context.Context, local map[string]int) (map[string]int, error)
}

// ClusterPresence returns the number of subscribers of each topic that has
// any, on every instance sharing the backend: with the Redis backend, what
// each instance last reported (see its documentation for how fresh that
// is), plus this instance's own count, fresh. With a backend that does not
// share presence (the memory one) it is [Broker.Presence].
func (b *Broker) ClusterPresence(ctx context.Context) (map[string]int, error) {
	local := b.Presence()
	pb, ok := b.backend.(PresenceBackend)
	if !ok {
		return local, nil
	}
	return pb.Presence(ctx, local)
}

// Recovered implements the optional part of [Sink] that backends call once
// their feed works again after a Fail.
func (s sink) Recovered() { s.b.observe(func(o Observer) { o.FeedRecovered() }) }

// LocalPresence lets a backend that shares presence
// ([PresenceBackend]) read this broker's counts: the sink a backend is
// given implements it.
func (s sink) LocalPresence() map[string]int { return s.b.Presence() }

// feedError wraps a backend's failure as a *FeedError (once).
func feedError(err error) error {
	var fe *FeedError
	if errors.As(err, &fe) {
		return err
	}
	return &FeedError{Err: err}
}
