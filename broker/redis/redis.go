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
	DefaultDedup  = time.Minute
	// DefaultPresenceInterval is how often an instance reports its
	// subscriber counts by default.
	DefaultPresenceInterval = 5 * time.Second
)

// Options configures [New]. The zero value means the defaults.
type Options struct {
	// Prefix starts every key, inside a hash tag: "{ssekit}:t:news". Brokers
	// that share topics use the same prefix; zero means DefaultPrefix.
	Prefix string
	// MaxLen is how many entries each topic's stream keeps for replay; zero
	// means broker.DefaultMaxLen, negative means no length limit (MaxAge
	// still applies).
	MaxLen int
	// MaxAge is how long an entry is kept for replay (whole milliseconds);
	// zero means broker.DefaultMaxAge, negative means no age limit.
	MaxAge time.Duration
	// Block is the longest a blocking XREAD waits before it is issued again;
	// zero or negative means DefaultBlock. It bounds how long Close can take when Redis
	// does not answer.
	Block time.Duration
	// Count is the most entries read per stream per XREAD; zero or
	// negative means DefaultCount.
	Count int
	// Dedup is how long Redis remembers each publish's token (one key of
	// about 100 bytes per publish), so that the append script, which the
	// backend sends again after a read timeout (up to the client's
	// MaxRetries), appends an event once even when Redis runs both copies:
	// the copy delayed behind a pause and its retry. Zero means
	// DefaultDedup; negative turns deduplication off (then a client with
	// MaxRetries -1 is the only protection).
	Dedup time.Duration
	// Replicas, when positive, makes Publish wait until that many replicas
	// have the event (WAIT Replicas ReplicaTimeout, on the connection that
	// appended it) before it returns success; when fewer acknowledge in
	// time, Publish returns an error matching [ErrNotReplicated] (the event
	// is appended and may be delivered, or lost on a failover). It bounds
	// what an asynchronous failover can lose to events whose Publish
	// failed. Zero means no wait.
	Replicas int
	// ReplicaTimeout bounds the wait for Replicas; zero or negative means
	// one second.
	ReplicaTimeout time.Duration
	// PresenceInterval is how often this instance writes its subscriber
	// counts per topic to Redis, for broker.Broker.ClusterPresence; zero
	// means DefaultPresenceInterval, negative turns it off (ClusterPresence
	// then counts the other instances that do write theirs). See
	// [Backend.Presence] for what it costs and how fresh it is.
	PresenceInterval time.Duration
}

// ErrNotReplicated is matched by the error of a Publish that appended its
// event but did not see Options.Replicas replicas acknowledge it in time.
var ErrNotReplicated = errors.New("ssekit: event not acknowledged by enough replicas")

// ErrHistoryChanged is matched by the error of a Publish whose first copy's
// fate is unknown (the connection broke, or the reply timed out) and whose
// copy sent again Redis refused, because Redis is another process since (a
// restart, a restore, a failover) or lost events: the first copy may have
// been appended and reached subscribers, then been lost with its
// deduplication token, and appending the event again would deliver it
// twice. The event was appended at most once, before the loss. Publishing it
// again is the caller's choice: it is then a new event.
var ErrHistoryChanged = errors.New("ssekit: redis broker: Redis restarted or lost events since this publish was first sent; not sent again")

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
	keyLost, keyTok     string
	keyGen              string
	topicPrefix         string
	dedup               int64 // ms, 0: off
	retries             int   // how many times Append sends a copy again (the client's MaxRetries)
	replicas            int
	replicaTimeout      time.Duration
	inst                string // this instance's random id
	keyPresence         string // the set of instances reporting presence
	presenceEvery       time.Duration
	presenceQuit        chan struct{} // closed by Close
	presenceDone        chan struct{} // closed when the reporter has returned

	mu      sync.Mutex
	sink    broker.Sink
	watch   map[string]*watched
	version uint64        // counts topics added to the watch set
	applied uint64        // the version the reader has taken in
	acked   chan struct{} // closed, and replaced, when applied grows
	changed chan struct{} // cap 1: the watch set grew, or Close
	err     error         // why the reader is failing; nil once it reads again
	fails   uint64        // counts the reader's failures
	seen    broker.ID     // the greatest id seen in Redis: ids never go below it
	gen     string        // Redis's generation as last seen (see settle in scripts.go)
	runID   string        // the Redis process as last seen (see runid in scripts.go)
	genOK   bool          // gen and runID were read at least once
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
	switch {
	case o.MaxLen == 0:
		o.MaxLen = broker.DefaultMaxLen
	case o.MaxLen < 0:
		o.MaxLen = 0 // no length limit
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
	if o.Dedup == 0 {
		o.Dedup = DefaultDedup
	}
	var dedup int64
	if o.Dedup > 0 {
		dedup = max(o.Dedup.Milliseconds(), 1)
	}
	if o.ReplicaTimeout <= 0 {
		o.ReplicaTimeout = time.Second
	}
	var inst [8]byte
	_, _ = rand.Read(inst[:])
	if o.PresenceInterval == 0 {
		o.PresenceInterval = DefaultPresenceInterval
	}
	k := "{" + o.Prefix + "}:"
	return &Backend{
		inst:           hex.EncodeToString(inst[:]),
		keyPresence:    k + "presence",
		presenceEvery:  o.PresenceInterval,
		presenceQuit:   make(chan struct{}),
		presenceDone:   make(chan struct{}),
		c:              c,
		maxLen:         o.MaxLen,
		maxAge:         maxAge,
		block:          o.Block,
		count:          int64(o.Count),
		keyLast:        k + "last",
		keyEpoch:       k + "epoch",
		keyDropped:     k + "dropped",
		keyLost:        k + "lost",
		keyGen:         k + "gen",
		keyTok:         k + "tok:",
		dedup:          dedup,
		retries:        max(clientRetries(c), 0),
		replicas:       o.Replicas,
		replicaTimeout: o.ReplicaTimeout,
		keyWake:        k + "wake:" + hex.EncodeToString(inst[:]),
		topicPrefix:    k + "t:",
		watch:          map[string]*watched{},
		acked:          make(chan struct{}),
		changed:        make(chan struct{}, 1),
		done:           make(chan struct{}),
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
	go b.reportPresence()
}

// nonce returns a value unique to one script call: the generation it sets
// when it finds a loss, or none (see settle in scripts.go).
func nonce() string {
	var n [12]byte
	_, _ = rand.Read(n[:])
	return hex.EncodeToString(n[:])
}

// history returns Redis's generation and run id as this instance last saw
// them, and whether it saw them.
func (b *Backend) history() (gen, runID string, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gen, b.runID, b.genOK
}

// setHistory records Redis's generation and run id, read from a script's
// reply.
func (b *Backend) setHistory(gen, runID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gen, b.runID, b.genOK = gen, runID, true
}

// setGeneration records Redis's generation, read from a reply that does not
// give the run id.
func (b *Backend) setGeneration(gen string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gen = gen
}

// floor returns the greatest id seen, for the scripts: Redis holding less
// means it lost acknowledged events.
func (b *Backend) floor() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen.IsZero() {
		return ""
	}
	return b.seen.String()
}

// see records id as seen in Redis.
func (b *Backend) see(id broker.ID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if id.Compare(b.seen) > 0 {
		b.seen = id
	}
}

// Read implements [broker.Backend]. The logs are complete after the
// client's id when it is at least the first id ever given (the epoch), at
// least the greatest id Redis is known to have lost, at least the greatest
// id trimmed from each topic, and at most the greatest id given: an id
// beyond it was lost (or forged).
func (b *Backend) Read(ctx context.Context, topics []string, after broker.ID) ([]broker.Entry, bool, error) {
	if b.isClosed() {
		return nil, false, errClosed
	}
	keys := make([]string, 0, 5+len(topics))
	keys = append(keys, b.keyEpoch, b.keyDropped, b.keyLast, b.keyLost, b.keyGen)
	args := make([]any, 0, 5+len(topics))
	args = append(args, after.String(), b.maxAge, b.floor(), nonce(), "")
	for _, t := range topics {
		keys = append(keys, b.topicPrefix+t)
		args = append(args, t)
	}
	v, err := readScript.Run(ctx, b.c, keys, args...).Slice()
	if err != nil {
		return nil, false, err
	}
	if len(v) != 4+2*len(topics) {
		return nil, false, errors.New("ssekit: redis broker: unexpected replay reply")
	}
	epoch, _ := v[0].(string)
	last, _ := v[1].(string)
	lost, _ := v[2].(string)
	complete := false
	if id, err := broker.ParseID(epoch); err == nil {
		complete = after.Compare(id) >= 0 // ids below the first one predate the log
	}
	if id, err := broker.ParseID(last); err != nil || after.Compare(id) > 0 {
		complete = false
	} else {
		b.see(id)
	}
	if gen, ok := v[3].(string); ok {
		b.setGeneration(gen)
	}
	if id, err := broker.ParseID(lost); err != nil || after.Compare(id) < 0 {
		complete = false
	}
	var out []broker.Entry
	for i, t := range topics {
		dropped, _ := v[4+2*i].(string)
		if id, err := broker.ParseID(dropped); err != nil || after.Compare(id) < 0 {
			complete = false
		}
		list, _ := v[5+2*i].([]any)
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
	close(b.presenceQuit)
	<-b.done
	<-b.presenceDone
	_ = b.c.Del(ctx, b.keyWake).Err()
	b.forgetPresence(ctx)
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

// watchSet returns the streams the reader reads (the wake stream first),
// the watch-set version that added each (0 for the wake stream) and the
// version of the watch set, or closed.
func (b *Backend) watchSet() (streams []string, added []uint64, version uint64, closed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, nil, 0, true
	}
	streams = make([]string, 0, 1+len(b.watch))
	added = make([]uint64, 0, 1+len(b.watch))
	streams = append(streams, b.keyWake)
	added = append(added, 0)
	for t, w := range b.watch {
		streams = append(streams, b.topicPrefix+t)
		added = append(added, w.added)
	}
	return streams, added, b.version, false
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

// position is where the reader reads one stream from: the greatest id
// given when the stream joined the watch set, so that a topic watched now
// gets nothing older, whatever the shared cursor says.
type position struct {
	from  broker.ID
	added uint64 // the watch-set version that added the stream
}

// read is the reader goroutine: one blocking XREAD over every watched
// topic's stream (and the wake stream), its replies merged in id order and
// handed to the sink. Every stream is read from the greater of the shared
// cursor (the last id delivered) and the id where it joined: the cursor
// does not move while the XREAD times out, and a topic that joins later
// must not be read from it (its backlog would reach a subscriber that asked
// for live events only).
func (b *Backend) read() {
	defer close(b.done)
	var (
		cursor broker.ID // every watched entry up to it has been delivered
		known  bool      // cursor is valid
		pos    = map[string]position{}
		wakeID = "0-0"
		tries  int // failures in a row
	)
	ctx := context.Background()
	for {
		streams, added, v, closed := b.watchSet()
		if closed {
			return
		}

		if len(streams) == 1 { // nothing watched: wait for a topic
			known = false
			clear(pos)
			b.ack(v)
			<-b.changed
			continue
		}
		fresh := !known
		for i, st := range streams[1:] {
			if p, ok := pos[st]; !ok || p.added != added[i+1] {
				fresh = true
			}
		}
		if fresh {
			// Start the new streams (all of them after a failure) from the
			// newest id: entries before it are not live.
			last, err := b.last(ctx)
			if err != nil {
				b.failed(err, &tries)
				continue
			}
			if !known {
				cursor, known = last, true
				clear(pos)
			}
			for i, st := range streams[1:] {
				if p, ok := pos[st]; !ok || p.added != added[i+1] {
					pos[st] = position{from: last, added: added[i+1]}
				}
			}
		}
		if len(pos) > len(streams)-1 { // forget the streams no longer watched
			keep := make(map[string]bool, len(streams))
			for _, st := range streams[1:] {
				keep[st] = true
			}
			for st := range pos {
				if !keep[st] {
					delete(pos, st)
				}
			}
		}
		// Topics added from now on are read from the newest id: every entry
		// they get after Watch returns has a greater id.
		b.ack(v)

		args := make([]string, 0, 2*len(streams))
		args = append(args, streams...)
		args = append(args, wakeID)
		for _, st := range streams[1:] {
			from := cursor
			if p := pos[st]; p.from.Compare(from) > 0 {
				from = p.from
			}
			args = append(args, from.String())
		}
		res, err := b.c.XRead(ctx, &goredis.XReadArgs{Streams: args, Count: b.count, Block: b.block}).Result()
		switch {
		case errors.Is(err, goredis.Nil):
			b.recovered(&tries)
			continue
		case err != nil:
			known = false // after a failure, start again from the newest id
			b.failed(err, &tries)
			continue
		}
		b.recovered(&tries)
		cursor = b.dispatch(res, cursor, &wakeID)
		b.see(cursor)
	}
}

// last returns the greatest id given, settled against the greatest id this
// instance saw (see lastScript), and records Redis's generation.
func (b *Backend) last(ctx context.Context) (broker.ID, error) {
	v, err := lastScript.Run(ctx, b.c, []string{b.keyLast, b.keyLost, b.keyGen}, b.floor(), nonce()).StringSlice()
	if err != nil {
		return broker.ID{}, err
	}
	if len(v) != 3 {
		return broker.ID{}, errors.New("ssekit: redis broker: unexpected reply to the last-id script")
	}
	id, err := broker.ParseID(v[0])
	if err == nil {
		b.see(id)
		b.setHistory(v[1], v[2])
	}
	return id, err
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

// recovered resets the failure count after a successful read, and tells
// the sink (broker.Observer.FeedRecovered) when the feed had failed.
func (b *Backend) recovered(tries *int) {
	if *tries == 0 {
		return
	}
	*tries = 0
	if r, ok := b.sink.(interface{ Recovered() }); ok {
		r.Recovered()
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
