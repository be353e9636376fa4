package redisbroker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ssekit/ssekit/broker"
)

// Defaults for [Options].
const (
	DefaultPrefix = "ssekit"
	DefaultBlock  = 5 * time.Second
	DefaultCount  = 1000
)

// Options configures [New]. The zero value means the defaults.
type Options struct {
	// Prefix starts every key, inside a hash tag: "{ssekit}:t:news". Brokers
	// that share topics use the same prefix; zero means DefaultPrefix.
	Prefix string
	// MaxLen is how many entries each topic's stream keeps for replay; zero
	// or negative means broker.DefaultMaxLen.
	MaxLen int
	// MaxAge is how long an entry is kept for replay (whole milliseconds);
	// zero means broker.DefaultMaxAge, negative means no age limit.
	MaxAge time.Duration
	// Block is the longest a blocking XREAD waits before it is issued again;
	// zero means DefaultBlock. It bounds how long Close can take when Redis
	// does not answer.
	Block time.Duration
	// Count is the most entries read per stream per XREAD; zero means
	// DefaultCount.
	Count int
}

// Backend is the Redis Streams [broker.Backend]. Create it with [New] and
// pass it to one [broker.New]; the broker's Shutdown closes it.
type Backend struct {
	c                   goredis.UniversalClient
	maxLen              int
	maxAge              int64 // ms, 0: none
	block               time.Duration
	count               int64
	keyLast, keyEpoch   string
	keyDropped, keyWake string
	topicPrefix         string

	mu      sync.Mutex
	sink    broker.Sink
	watch   map[string]*watched
	version uint64        // counts topics added to the watch set
	applied uint64        // the version the reader has taken in
	acked   chan struct{} // closed, and replaced, when applied grows
	changed chan struct{} // cap 1: the watch set grew, or Close
	err     error         // why the reader is failing; nil once it reads again
	fails   uint64        // counts the reader's failures
	started bool
	closed  bool
	done    chan struct{} // closed when the reader has returned
}

// watched is one topic of the watch set.
type watched struct {
	n     int    // Watch calls not yet undone
	added uint64 // the version that added it
}

// errClosed is returned by a closed backend.
var errClosed = errors.New("ssekit: redis broker backend closed")

// New returns a backend that keeps its topics in Redis through c, which it
// does not close. Nothing is sent to Redis until the broker uses it.
func New(c goredis.UniversalClient, o Options) *Backend {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.MaxLen <= 0 {
		o.MaxLen = broker.DefaultMaxLen
	}
	if o.MaxAge == 0 {
		o.MaxAge = broker.DefaultMaxAge
	}
	if o.Block <= 0 {
		o.Block = DefaultBlock
	}
	if o.Count <= 0 {
		o.Count = DefaultCount
	}
	var maxAge int64
	if o.MaxAge > 0 {
		maxAge = max(o.MaxAge.Milliseconds(), 1)
	}
	var inst [8]byte
	_, _ = rand.Read(inst[:])
	k := "{" + o.Prefix + "}:"
	return &Backend{
		c:           c,
		maxLen:      o.MaxLen,
		maxAge:      maxAge,
		block:       o.Block,
		count:       int64(o.Count),
		keyLast:     k + "last",
		keyEpoch:    k + "epoch",
		keyDropped:  k + "dropped",
		keyWake:     k + "wake:" + hex.EncodeToString(inst[:]),
		topicPrefix: k + "t:",
		watch:       map[string]*watched{},
		acked:       make(chan struct{}),
		changed:     make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
}

// Start implements [broker.Backend]: it starts the reader goroutine.
func (b *Backend) Start(s broker.Sink) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		panic("ssekit: redis broker backend started twice: a Backend serves one Broker")
	}
	b.started, b.sink = true, s
	go b.read()
}

// Append implements [broker.Backend].
func (b *Backend) Append(ctx context.Context, topic string, r broker.Record) (broker.ID, error) {
	if b.isClosed() {
		return broker.ID{}, errClosed
	}
	given := ""
	if !r.ID.IsZero() {
		given = r.ID.String()
	}
	closeFlag := "0"
	if r.Close {
		closeFlag = "1"
	}
	keys := []string{b.keyLast, b.keyEpoch, b.keyDropped, b.topicPrefix + topic}
	s, err := appendScript.Run(ctx, b.c, keys, given, b.maxLen, b.maxAge, topic, r.Body, closeFlag).Text()
	if err != nil {
		if strings.Contains(err.Error(), "ssekit: id order") {
			return broker.ID{}, errors.Join(broker.ErrIDOrder, err)
		}
		return broker.ID{}, err
	}
	return broker.ParseID(s)
}

// Read implements [broker.Backend].
func (b *Backend) Read(ctx context.Context, topics []string, after broker.ID) ([]broker.Entry, bool, error) {
	if b.isClosed() {
		return nil, false, errClosed
	}
	keys := make([]string, 0, 2+len(topics))
	keys = append(keys, b.keyEpoch, b.keyDropped)
	args := make([]any, 0, 2+len(topics))
	args = append(args, after.String(), b.maxAge)
	for _, t := range topics {
		keys = append(keys, b.topicPrefix+t)
		args = append(args, t)
	}
	v, err := readScript.Run(ctx, b.c, keys, args...).Slice()
	if err != nil {
		return nil, false, err
	}
	if len(v) != 1+2*len(topics) {
		return nil, false, errors.New("ssekit: redis broker: unexpected replay reply")
	}
	epoch, _ := v[0].(string)
	complete := false
	if id, err := broker.ParseID(epoch); err == nil {
		complete = after.Compare(id) >= 0 // ids below the first one predate the log
	}
	var out []broker.Entry
	for i, t := range topics {
		dropped, _ := v[1+2*i].(string)
		if id, err := broker.ParseID(dropped); err != nil || after.Compare(id) < 0 {
			complete = false
		}
		list, _ := v[2+2*i].([]any)
		for _, raw := range list {
			e, err := b.entry(t, raw)
			if err != nil {
				return nil, false, err
			}
			out = append(out, e)
		}
	}
	if len(topics) > 1 {
		slices.SortFunc(out, func(a, b broker.Entry) int { return a.ID.Compare(b.ID) })
	}
	return out, complete, nil
}

// entry decodes one XRANGE item, [id, [field, value, ...]].
func (b *Backend) entry(topic string, raw any) (broker.Entry, error) {
	item, _ := raw.([]any)
	if len(item) != 2 {
		return broker.Entry{}, errors.New("ssekit: redis broker: malformed stream entry")
	}
	s, _ := item[0].(string)
	id, err := broker.ParseID(s)
	if err != nil {
		return broker.Entry{}, err
	}
	fields, _ := item[1].([]any)
	var body, closeFlag string
	for i := 0; i+1 < len(fields); i += 2 {
		k, _ := fields[i].(string)
		v, _ := fields[i+1].(string)
		switch k {
		case "b":
			body = v
		case "c":
			closeFlag = v
		}
	}
	return broker.NewEntry(topic, id, []byte(body), closeFlag == "1"), nil
}

// Watch implements [broker.Backend]. When topic is new to the watch set it
// wakes the reader and returns once the reader reads topic too. While the
// reader is failing, it waits for the reader's next attempt and returns its
// error if that fails too.
func (b *Backend) Watch(ctx context.Context, topic string) error {
	need, fails, wake, err := b.addWatch(topic)
	if err != nil {
		return err
	}
	if wake {
		_ = b.wake(ctx)
	}
	for {
		acked, err := b.watchState(need, fails)
		switch {
		case err != nil:
			b.Unwatch(topic)
			return err
		case acked == nil:
			return nil
		}
		select {
		case <-acked:
		case <-ctx.Done():
			b.Unwatch(topic)
			return ctx.Err()
		}
	}
}

// addWatch counts one Watch of topic and returns the watch-set version the
// reader must reach, the failure count to compare with, and whether the
// reader's XREAD must be woken.
func (b *Backend) addWatch(topic string) (need, fails uint64, wake bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, 0, false, errClosed
	}
	w := b.watch[topic]
	if w == nil {
		b.version++
		w = &watched{added: b.version}
		// Keep a copy: the caller's string may alias a buffer it reuses.
		b.watch[strings.Clone(topic)] = w
	}
	w.n++
	waiting := b.applied < w.added
	if waiting {
		signal(b.changed) // also cuts a failing reader's backoff short
	}
	return w.added, b.fails, waiting && b.err == nil, nil
}

// watchState reports where a Watch waiting for version need stands: a nil
// channel once the reader has taken it in, an error once the backend is
// closed or the reader failed again (its failure count moved past fails),
// otherwise the channel to wait on.
func (b *Backend) watchState(need, fails uint64) (<-chan struct{}, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.applied >= need:
		return nil, nil
	case b.closed:
		return nil, errClosed
	case b.fails != fails:
		return nil, b.err
	}
	return b.acked, nil
}

// Unwatch implements [broker.Backend].
func (b *Backend) Unwatch(topic string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if w := b.watch[topic]; w != nil {
		if w.n--; w.n <= 0 {
			delete(b.watch, topic)
		}
	}
}

// Close implements [broker.Backend]: it stops the reader, waits for it, and
// deletes this instance's wake stream.
func (b *Backend) Close() error {
	first, started := b.markClosed()
	if !first {
		return nil
	}
	signal(b.changed)
	if !started {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.block+time.Second)
	defer cancel()
	_ = b.wake(ctx)
	<-b.done
	_ = b.c.Del(ctx, b.keyWake).Err()
	return nil
}

// markClosed marks the backend closed and wakes Watch callers; first is
// false if it already was.
func (b *Backend) markClosed() (first, started bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false, b.started
	}
	b.closed = true
	close(b.acked) // wake Watch callers; they see closed
	return true, b.started
}

func (b *Backend) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// wake interrupts the reader's blocking XREAD.
func (b *Backend) wake(ctx context.Context) error {
	_, err := b.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.XAdd(ctx, &goredis.XAddArgs{Stream: b.keyWake, MaxLen: 1, Values: []string{"w", "1"}})
		p.PExpire(ctx, b.keyWake, 24*time.Hour) // in case this process dies
		return nil
	})
	return err
}

// watchSet returns the streams the reader reads (the wake stream first) and
// the version of the watch set, or closed.
func (b *Backend) watchSet() (streams []string, version uint64, closed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, 0, true
	}
	streams = make([]string, 0, 1+len(b.watch))
	streams = append(streams, b.keyWake)
	for t := range b.watch {
		streams = append(streams, b.topicPrefix+t)
	}
	return streams, b.version, false
}

// ack records that the reader has taken in version v of the watch set with
// a valid cursor.
func (b *Backend) ack(v uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.err = nil
	if v > b.applied && !b.closed {
		b.applied = v
		close(b.acked)
		b.acked = make(chan struct{})
	}
}

// read is the reader goroutine: one blocking XREAD over every watched
// topic's stream (and the wake stream) from one cursor, its replies merged
// in id order and handed to the sink.
func (b *Backend) read() {
	defer close(b.done)
	var (
		cursor broker.ID // every watched entry up to it has been delivered
		known  bool      // cursor is valid for the current watch set
		wakeID = "0-0"
		tries  int // failures in a row
	)
	ctx := context.Background()
	for {
		streams, v, closed := b.watchSet()
		if closed {
			return
		}

		if len(streams) == 1 { // nothing watched: wait for a topic
			known = false
			b.ack(v)
			<-b.changed
			continue
		}
		if !known {
			// Start from the newest id: entries before it are not live.
			s, err := b.c.Get(ctx, b.keyLast).Result()
			if err != nil && !errors.Is(err, goredis.Nil) {
				b.failed(err, &tries)
				continue
			}
			cursor = broker.ID{}
			if err == nil {
				if cursor, err = broker.ParseID(s); err != nil {
					b.failed(err, &tries)
					continue
				}
			}
			known = true
		}
		// Topics added from now on are read from cursor: every entry they get
		// after Watch returns has a greater id.
		b.ack(v)

		args := make([]string, 0, 2*len(streams))
		args = append(args, streams...)
		args = append(args, wakeID)
		c := cursor.String()
		for range streams[1:] {
			args = append(args, c)
		}
		res, err := b.c.XRead(ctx, &goredis.XReadArgs{Streams: args, Count: b.count, Block: b.block}).Result()
		switch {
		case errors.Is(err, goredis.Nil):
			continue
		case err != nil:
			known = false // after a failure, start again from the newest id
			b.failed(err, &tries)
			continue
		}
		tries = 0
		cursor = b.dispatch(res, cursor, &wakeID)
	}
}

// dispatch delivers the entries of one XREAD reply in id order and returns
// the new cursor. When a stream filled its Count, entries past the smallest
// such stream's last one wait for the next XREAD, so the order holds.
func (b *Backend) dispatch(res []goredis.XStream, cursor broker.ID, wakeID *string) broker.ID {
	var (
		entries   []broker.Entry
		limit     broker.ID
		truncated bool
	)
	for _, st := range res {
		if st.Stream == b.keyWake {
			if n := len(st.Messages); n > 0 {
				*wakeID = st.Messages[n-1].ID
			}
			continue
		}
		topic := strings.TrimPrefix(st.Stream, b.topicPrefix)
		for _, m := range st.Messages {
			id, err := broker.ParseID(m.ID)
			if err != nil {
				continue
			}
			body, _ := m.Values["b"].(string)
			closeFlag, _ := m.Values["c"].(string)
			entries = append(entries, broker.NewEntry(topic, id, []byte(body), closeFlag == "1"))
		}
		if n := len(st.Messages); int64(n) >= b.count {
			if last, err := broker.ParseID(st.Messages[n-1].ID); err == nil && (!truncated || last.Compare(limit) < 0) {
				limit, truncated = last, true
			}
		}
	}
	slices.SortFunc(entries, func(a, b broker.Entry) int { return a.ID.Compare(b.ID) })
	for _, e := range entries {
		if truncated && e.ID.Compare(limit) > 0 {
			break
		}
		if e.ID.Compare(cursor) > 0 {
			b.sink.Deliver(e)
			cursor = e.ID
		}
	}
	if truncated && limit.Compare(cursor) > 0 {
		cursor = limit
	}
	return cursor
}

// failed reports a broken feed and waits before the next attempt: 50 ms,
// doubling up to 2 s, cut short when the watch set grows or at Close.
// Until the reader has a cursor again, Watch waits for its next attempt (a
// topic watched now could miss entries appended before the cursor is set).
func (b *Backend) failed(err error, tries *int) {
	b.recordFailure(err)
	b.sink.Fail(err)
	d := 50 * time.Millisecond << min(*tries, 6)
	*tries++
	t := time.NewTimer(min(d, 2*time.Second))
	defer t.Stop()
	select {
	case <-t.C:
	case <-b.changed:
	}
}

// recordFailure records the reader's failure and wakes Watch callers, which
// return err.
func (b *Backend) recordFailure(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.err, b.applied = err, 0
		b.fails++
		close(b.acked)
		b.acked = make(chan struct{})
	}
}

// signal does a non-blocking send on a channel of capacity one.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

var _ broker.Backend = (*Backend)(nil)
