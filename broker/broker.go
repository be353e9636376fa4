package broker

import (
	"context"
	"errors"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/ssekit/ssekit/core"
)

// ResetEvent is the event type of the signal a subscriber receives first
// when its Last-Event-ID is older than the log (trimmed by count or age,
// from before the log began, or not a broker id at all): events it should
// have received are gone, so it must reload its state. The signal has empty
// data and no id; the events the log still holds after the client's id
// follow it, then live ones. In a browser:
//
//	es.addEventListener("ssekit-reset", () => reloadEverything())
const ResetEvent = "ssekit-reset"

// CloseEvent is the event type that ends the stream of every subscriber of
// the topic it is published to (a subscriber of several topics included),
// after it is written, as a handler's "close" event does on a [core.Target],
// unless [Options.KeepOpenOnClose] is set. The event stays in the log: a
// client resuming from before it receives it again, and its stream ends
// again.
const CloseEvent = "close"

// Defaults for [Options].
const (
	DefaultQueueEvents = 1024    // frames queued per subscriber
	DefaultQueueBytes  = 1 << 20 // bytes queued per subscriber
)

// Overflow is what happens to a subscriber whose queue is full: its client
// reads slower than events are published.
type Overflow int

const (
	// Disconnect ends the subscription: its stream writes nothing more and
	// ends, and [Subscription.Err] reports [ErrSlowSubscriber]. The client
	// reconnects with Last-Event-ID and resumes from the log without loss,
	// as long as the log still holds its position. This is the default.
	Disconnect Overflow = iota
	// DropOldest drops the oldest queued events to make room and keeps the
	// stream open. The client misses those events without any signal: use
	// it only for feeds where the latest event supersedes older ones.
	DropOldest
)

// Options configures a [Broker]. The zero value means the defaults.
type Options struct {
	// Backend stores the topics' logs and feeds their events; nil means a
	// new [Memory] backend with its defaults. The broker owns it: Shutdown
	// closes it.
	Backend Backend
	// QueueEvents is how many events a subscriber may have queued, not yet
	// taken by its stream; zero means DefaultQueueEvents, negative means no
	// event limit (QueueBytes still bounds the queue).
	QueueEvents int
	// QueueBytes is how many bytes of events a subscriber may have queued;
	// zero means DefaultQueueBytes, negative means no byte limit. One event
	// is always accepted into an empty queue, whatever its size.
	QueueBytes int
	// Overflow is the policy for a subscriber whose queue is full; the zero
	// value is Disconnect.
	Overflow Overflow
	// Authorize, when set, is asked once per topic of every Subscribe
	// whether the subscriber (known from ctx, such as the request's context
	// carrying the user) may read the topic. An error refuses the whole
	// subscription: an error carrying an HTTP status (a StatusCode() int
	// method, such as [core.Error]) is returned as is; any other error is
	// returned as a 403 Forbidden error that matches [ErrForbidden] and
	// wraps it.
	Authorize func(ctx context.Context, topic string) error
	// KeepOpenOnClose makes an event named "close" an ordinary event; by
	// default it ends every subscriber's stream after it is written.
	KeepOpenOnClose bool
	// Observer, when set, hears of subscriptions joining and leaving
	// topics, publishes, fan-out, replays, slow subscribers and the
	// backend's feed failing and recovering: metrics, logs, hooks.
	Observer Observer
}

// Errors of the broker.
var (
	// ErrSlowSubscriber is the reason ([Subscription.Err]) a subscription
	// ended when its queue overflowed under the Disconnect policy.
	// core.Reason classifies it as core.EndSlowSubscriber.
	ErrSlowSubscriber error = slowError{}
	// ErrForbidden is matched by the error of a Subscribe that Authorize
	// refused without a status of its own; it answers 403.
	ErrForbidden = errors.New("ssekit: forbidden")
	// ErrUnavailable is matched by the error of a Subscribe that failed in
	// the backend (such as Redis being unreachable) or after Shutdown. The
	// error carries 503 for [core.StatusOf] and also matches
	// [core.ErrShutdown], so that every adapter answers it the way it
	// answers a stream asked for during a shutdown ([core.Refusal]): 200, a
	// short jittered "retry:", and the end of the stream. A browser's
	// EventSource treats any other status as final and would never
	// reconnect; this way it retries within about a second, and resumes
	// with its Last-Event-ID once the backend is back.
	ErrUnavailable = errors.New("ssekit: broker unavailable")
	// ErrNoTopic is returned for a Subscribe without topics (it answers 400)
	// and a Publish to the empty topic.
	ErrNoTopic = errors.New("ssekit: no topic")
	// ErrIDOrder is matched by the error of a Publish whose given id is not
	// greater than every id the backend has seen.
	ErrIDOrder = errors.New("ssekit: event id not greater than the last one")
)

// statusError is an error that answers with an HTTP status (see
// [core.StatusOf]) and a fixed message that leaks nothing, while matching
// and wrapping its causes for logs.
type statusError struct {
	status int
	msg    string
	causes []error
}

// Error returns the fixed message, which adapters send to the client.
func (e *statusError) Error() string { return e.msg }

// StatusCode returns the HTTP status to answer with.
func (e *statusError) StatusCode() int { return e.status }

// Unwrap returns the causes, for errors.Is and errors.As.
func (e *statusError) Unwrap() []error { return e.causes }

func idOrderError(id, last ID) error {
	return errors.Join(ErrIDOrder, errors.New("ssekit: id "+id.String()+" is not after "+last.String()))
}

// Broker fans events published to topics out to subscribers, encoding each
// event once, and keeps a bounded log per topic so that a reconnecting client
// resumes from its Last-Event-ID without loss or duplication. See the package
// documentation for the contract. Create it with [New]; it is safe for
// concurrent use.
type Broker struct {
	backend   Backend
	limit     int
	bytes     int // 0: no byte limit
	overflow  Overflow
	authorize func(context.Context, string) error
	closeEnds bool
	obs       Observer

	mu     sync.RWMutex
	topics map[string]*topicSubs
	n      int  // registered subscriptions
	closed bool // Shutdown started
	idle   chan struct{}

	closeOnce  sync.Once
	closeErr   error
	closedDone chan struct{} // closed once the backend is closed
}

// topicSubs is the set of local subscribers of one topic. Each subscription
// remembers its index in the set so that it leaves in O(1).
type topicSubs struct {
	subs []*Subscription
}

// New returns a broker configured by o.
func New(o Options) *Broker {
	b := &Broker{
		backend:    o.Backend,
		limit:      o.QueueEvents,
		bytes:      o.QueueBytes,
		overflow:   o.Overflow,
		authorize:  o.Authorize,
		closeEnds:  !o.KeepOpenOnClose,
		obs:        o.Observer,
		topics:     map[string]*topicSubs{},
		idle:       make(chan struct{}),
		closedDone: make(chan struct{}),
	}
	if b.backend == nil {
		b.backend = NewMemory(MemoryOptions{})
	}
	switch {
	case b.limit == 0:
		b.limit = DefaultQueueEvents
	case b.limit < 0:
		b.limit = 0 // no event limit
	}
	switch {
	case b.bytes == 0:
		b.bytes = DefaultQueueBytes
	case b.bytes < 0:
		b.bytes = 0
	}
	b.backend.Start(sink{b})
	return b
}

// Publish appends m to topic's log and delivers it to every subscriber of the
// topic, in every process sharing the backend, and returns its id.
//
// When m.ID is empty (or "0-0") the backend assigns the next id. A given id
// must be a broker id ("ms-seq", or "ms" for "ms-0") greater than every id
// so far, or Publish fails with an error matching [ErrInvalidID] or
// [ErrIDOrder]; it is sent in its canonical form "ms-seq". The message is
// encoded once, here: a message the standard cannot carry is refused with an
// error matching [core.ErrInvalidField]. Every published message becomes an
// event with an id, so one with only a comment or a retry gets empty data.
//
// With the memory backend, when Publish returns the event is in every
// subscriber's queue. After Shutdown it fails with [core.ErrShutdown].
func (b *Broker) Publish(ctx context.Context, topic string, m core.Message) (string, error) {
	id, err := b.publish(ctx, topic, m)
	if b.obs != nil {
		b.observe(func(o Observer) { o.Published(topic, err) })
	}
	return id, err
}

// publish is Publish without the Observer.
func (b *Broker) publish(ctx context.Context, topic string, m core.Message) (string, error) {
	if b.isClosed() {
		return "", core.ErrShutdown
	}
	if topic == "" {
		return "", ErrNoTopic
	}
	var r Record
	if m.ID != "" {
		id, err := ParseID(m.ID)
		if err != nil {
			return "", err
		}
		r.ID = id
	}
	body, err := encodeBody(m)
	if err != nil {
		return "", err
	}
	r.Body = body
	r.Close = m.Event == CloseEvent
	id, err := b.backend.Append(ctx, topic, r)
	if err != nil {
		if b.isClosed() {
			return "", core.ErrShutdown
		}
		return "", err
	}
	return id.String(), nil
}

// isClosed reports whether Shutdown has started.
func (b *Broker) isClosed() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.closed
}

// encodeBody encodes m without its id line, exactly as it is sent after the
// id the backend gives it.
func encodeBody(m core.Message) ([]byte, error) {
	if m.Data == nil && m.Event == "" && (m.ID != "" || m.Retry != 0 || m.Comment != "") {
		m.Data = "" // with an id, the event carries empty data
	}
	m.ID = ""
	return core.AppendMessage(nil, m)
}

// Subscribe returns a subscription to topics: a [core.EventTarget] that a
// handler returns (or passes to core.Run) to stream it. ctx is used for
// Authorize and to reach the backend, not for the stream's lifetime.
//
// Subscribing is synchronous: an event published to one of the topics after
// Subscribe returns reaches the subscription. When lastEventID is not empty
// (the request's Last-Event-ID header), the events of the topics logged after
// it are queued first, merged in id order, then live events, with no gap and
// no duplicate. When the log no longer reaches back to lastEventID, the
// [ResetEvent] signal comes first. An empty lastEventID means live events
// only.
//
// Errors carry an HTTP status for adapters: 400 without topics, 403 (or the
// hook's own status) when Authorize refuses, 503 after Shutdown or when the
// backend fails (matching [ErrUnavailable] and [core.ErrShutdown], which
// the adapters answer with 200 and a short retry, so that browsers
// reconnect). On error the subscription
// is nil; calling Stop on it is a no-op, so `return b.Subscribe(...)` from a
// handler is safe. A panic in Authorize or in the backend leaves nothing
// registered and goes on to the caller.
//
// The broker keeps its own copy of the topic names, so they may alias a
// buffer the caller reuses (such as Fiber's c.Params).
//
// A subscription must be run by a stream loop or stopped with Stop, or it
// stays registered (and Shutdown waits for it).
func (b *Broker) Subscribe(ctx context.Context, topics []string, lastEventID string) (*Subscription, error) {
	topics = uniq(topics)
	if len(topics) == 0 {
		return nil, &statusError{http.StatusBadRequest, ErrNoTopic.Error(), []error{ErrNoTopic}}
	}
	if b.authorize != nil {
		for _, t := range topics {
			if err := b.authorize(ctx, t); err != nil {
				var s interface{ StatusCode() int }
				if errors.As(err, &s) {
					return nil, err
				}
				return nil, &statusError{http.StatusForbidden, ErrForbidden.Error(), []error{ErrForbidden, err}}
			}
		}
	}
	if b.isClosed() {
		return nil, unavailable(core.ErrShutdown)
	}
	s := &Subscription{
		b:         b,
		topics:    topics,
		idx:       make([]int, len(topics)),
		ready:     make(chan struct{}, 1),
		limit:     b.limit,
		bytes:     b.bytes,
		replaying: lastEventID != "",
	}
	ok, joined := b.register(s)
	if !ok {
		return nil, unavailable(core.ErrShutdown)
	}
	for _, tc := range joined {
		b.observe(func(o Observer) { o.Subscribed(tc.topic, tc.n) })
	}
	ok = false
	defer func() {
		if !ok { // the backend panicked: leave nothing registered
			s.Stop(nil)
		}
	}()
	for _, t := range topics {
		if err := b.backend.Watch(ctx, t); err != nil {
			s.Stop(err)
			return nil, unavailable(err)
		}
		s.watched++
	}
	if lastEventID != "" {
		after, perr := ParseID(lastEventID)
		entries, complete, err := b.backend.Read(ctx, topics, after)
		if err != nil {
			s.Stop(err)
			return nil, unavailable(err)
		}
		n, reset := s.replay(entries, complete && perr == nil, after)
		if b.obs != nil {
			b.observe(func(o Observer) { o.Replayed(n, reset) })
		}
	}
	ok = true
	return s, nil
}

// unavailable is the error of a Subscribe the broker cannot serve now. It
// matches core.ErrShutdown, whatever its cause, because that is the error
// the adapters answer with a retry instead of a status that strands
// browsers (see ErrUnavailable).
func unavailable(cause error) error {
	causes := []error{ErrUnavailable, cause}
	if !errors.Is(cause, core.ErrShutdown) {
		causes = append(causes, core.ErrShutdown)
	}
	return &statusError{http.StatusServiceUnavailable, ErrUnavailable.Error(), causes}
}

// uniq returns copies of topics without empty names and duplicates, in
// order. The copies share one allocation; the caller's strings may alias a
// buffer it reuses, and the broker keeps topics as map keys.
func uniq(topics []string) []string {
	out := make([]string, 0, len(topics))
	n := 0
	for _, t := range topics {
		if t != "" && !contains(out, t) {
			out = append(out, t)
			n += len(t)
		}
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, t := range out {
		sb.WriteString(t)
	}
	all := sb.String()
	for i, t := range out {
		out[i], all = all[:len(t)], all[len(t):]
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// register adds s to the sets of its topics; false after Shutdown. With an
// Observer, it returns each topic's local subscribers after.
func (b *Broker) register(s *Subscription) (bool, []topicCount) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false, nil
	}
	var counts []topicCount
	for i, t := range s.topics {
		set := b.topics[t]
		if set == nil {
			set = &topicSubs{}
			b.topics[t] = set
		}
		s.idx[i] = len(set.subs)
		set.subs = append(set.subs, s)
		if b.obs != nil {
			counts = append(counts, topicCount{t, len(set.subs)})
		}
	}
	s.registered = true
	b.n++
	return true, counts
}

// remove takes s out of its topics' sets and unwatches them.
func (b *Broker) remove(s *Subscription) {
	ok, left := b.unregister(s)
	if ok {
		b.unwatch(s.topics[:s.watched])
	}
	for _, tc := range left {
		b.observe(func(o Observer) { o.Unsubscribed(tc.topic, tc.n) })
	}
}

// unregister takes s out of its topics' sets; false if it was not in them.
// With an Observer, it returns each topic's local subscribers after.
func (b *Broker) unregister(s *Subscription) (bool, []topicCount) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !s.registered {
		return false, nil
	}
	var counts []topicCount
	s.registered = false
	for i, t := range s.topics {
		set := b.topics[t]
		last := len(set.subs) - 1
		j := s.idx[i]
		if j != last {
			moved := set.subs[last]
			set.subs[j] = moved
			for k, mt := range moved.topics {
				if mt == t {
					moved.idx[k] = j
					break
				}
			}
		}
		set.subs[last] = nil
		set.subs = set.subs[:last]
		if b.obs != nil {
			counts = append(counts, topicCount{t, last})
		}
		switch {
		case last == 0:
			delete(b.topics, t)
		case cap(set.subs) > 64 && last < cap(set.subs)/4:
			set.subs = append([]*Subscription(nil), set.subs...)
		}
	}
	b.n--
	if b.closed && b.n == 0 {
		close(b.idle)
	}
	return true, counts
}

// unwatch undoes the backend's Watch of each topic, outside the broker's
// lock. A panic in one Unwatch does not skip the others: it goes on once
// they are done.
func (b *Broker) unwatch(topics []string) {
	for i, t := range topics {
		func() {
			done := false
			defer func() {
				if !done {
					b.unwatch(topics[i+1:])
				}
			}()
			b.backend.Unwatch(t)
			done = true
		}()
	}
}

// deliver fans e out to the local subscribers of its topic: a non-blocking
// enqueue of the shared frame each, under a short per-subscriber lock. The
// Notify functions of subscriptions that have one (an event-loop adapter's)
// are called after the broker's lock is released.
func (b *Broker) deliver(e *Entry) {
	var woken *[]wakeup
	var delivered, dropped int
	b.mu.RLock()
	if set := b.topics[e.Topic]; set != nil {
		for _, s := range set.subs {
			f, out := s.deliver(e)
			switch out {
			case taken:
				delivered++
			case overflowed:
				dropped++
				if b.overflow == DropOldest { // it took e, dropping older ones
					delivered++
				}
			}
			if f != nil {
				if woken == nil {
					woken = wakeups.Get().(*[]wakeup)
				}
				*woken = append(*woken, wakeup{s, f})
			}
		}
	}
	b.mu.RUnlock()
	if woken != nil {
		for _, w := range *woken {
			w.s.wake(w.f)
		}
		clear(*woken)
		*woken = (*woken)[:0]
		wakeups.Put(woken)
	}
	if b.obs != nil {
		b.observe(func(o Observer) { o.Delivered(e.Topic, delivered, dropped) })
	}
}

// wakeup is a Notify function to call once the broker's lock is released.
type wakeup struct {
	s *Subscription
	f func()
}

// wakeups pools the lists of deliver's wake-ups.
var wakeups = sync.Pool{New: func() any { return new([]wakeup) }}

// endAll ends every subscription with reason err (after what is queued).
func (b *Broker) endAll(err error) {
	for _, s := range b.all() {
		s.end(err)
	}
}

// all returns every registered subscription.
func (b *Broker) all() []*Subscription {
	b.mu.RLock()
	defer b.mu.RUnlock()
	all := make([]*Subscription, 0, b.n)
	for t, set := range b.topics {
		for _, s := range set.subs {
			if s.topics[0] == t { // once per subscription
				all = append(all, s)
			}
		}
	}
	return all
}

// Shutdown stops the broker: Publish and Subscribe fail from now on, every
// subscription's stream writes what is already queued and ends (clients
// reconnect with Last-Event-ID, to another instance or after a restart), and
// Shutdown returns once every subscription has ended, or with ctx.Err() when
// ctx is done first. Either way it closes the backend, which ends its
// goroutines, before it returns. Later calls wait the same way. A panic in
// the backend's Close is returned as a [*core.PanicError].
func (b *Broker) Shutdown(ctx context.Context) error {
	b.close()
	b.endAll(core.ErrShutdown)
	var err error
	select {
	case <-b.idle:
	case <-ctx.Done():
		err = ctx.Err()
	}
	b.closeOnce.Do(func() {
		defer close(b.closedDone)
		defer func() {
			if r := recover(); r != nil {
				b.closeErr = &core.PanicError{Value: r, Stack: debug.Stack()}
			}
		}()
		b.closeErr = b.backend.Close()
	})
	<-b.closedDone
	if err == nil {
		err = b.closeErr
	}
	return err
}

// close marks the broker closed: Publish and Subscribe fail from now on.
func (b *Broker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		if b.n == 0 {
			close(b.idle)
		}
	}
}

// Len returns the number of subscriptions currently registered.
func (b *Broker) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.n
}

// sink is the broker's [Sink], kept off the Broker's own method set.
type sink struct{ b *Broker }

// Deliver implements [Sink]: it fans e out to the local subscribers.
func (s sink) Deliver(e Entry) { s.b.deliver(&e) }

// Fail implements [Sink]: it ends every subscription with err, as a
// [*FeedError].
func (s sink) Fail(err error) {
	s.b.observe(func(o Observer) { o.FeedFailed(err) })
	s.b.endAll(feedError(err))
}
