package broker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults for the bounds of a topic's log, used by [Memory] and by the
// Redis backend.
const (
	DefaultMaxLen = 1000             // entries kept per topic
	DefaultMaxAge = 10 * time.Minute // how long an entry is kept
)

// MemoryOptions configures [NewMemory]. The zero value means the defaults.
type MemoryOptions struct {
	// MaxLen is how many entries each topic keeps for replay; zero means
	// DefaultMaxLen, negative means no length limit (MaxAge still applies;
	// with both negative a topic's log grows without bound).
	MaxLen int
	// MaxAge is how long an entry is kept for replay; zero means
	// DefaultMaxAge, negative means no age limit (MaxLen still applies).
	MaxAge time.Duration
	// Now is the clock, for ids and ages; nil means time.Now. Tests inject
	// one.
	Now func() time.Time
}

// Memory is the in-process [Backend], the default: one bounded log per
// topic, kept in memory, with ids "ms-seq" drawn from the clock.
//
// Ids below the one the log starts with (the creation time, "ms-0") are
// treated as lost: a client that resumes with an id from a previous process
// gets the [ResetEvent] signal, since what that process published after the
// client's id is gone. A publisher that supplies ids of its own below that
// time moves the start down to its first id.
type Memory struct {
	mu        sync.Mutex
	now       func() time.Time
	maxLen    int
	maxAge    time.Duration
	sink      Sink
	closed    bool
	used      bool // something was appended
	last      ID   // the greatest id so far
	epoch     ID   // ids below it predate the log
	forgotten ID   // the greatest id dropped from a topic no longer held
	logs      map[string]*memLog
	appends   int // since the last sweep
	// MaxAge is enforced by time too, not only when events arrive: while
	// any entry is held, a timer is armed for the oldest one's expiry.
	afterFunc func(time.Duration, func()) stopper // time.AfterFunc; tests inject one
	timer     stopper                             // armed while entries are held
}

// stopper is the part of *time.Timer the age timer uses.
type stopper interface{ Stop() bool }

func afterFunc(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }

// memLog is one topic's log, oldest first.
type memLog struct {
	topic   string // the log's own copy of the name
	entries []memEntry
	dropped ID // the greatest id trimmed from this topic
}

type memEntry struct {
	Entry
	at time.Time // when it was appended, for MaxAge
}

// sweepEvery is how many appends pass between sweeps of every topic's age.
const sweepEvery = 1024

// minSweepGap bounds how often the age timer sweeps, as a fraction of
// MaxAge: an entry outlives MaxAge by at most MaxAge/16 (and 10 ms), and the
// timer sweeps (one pass over the topics) at most 16 times per MaxAge.
const minSweepGap = 16

// NewMemory returns an empty in-memory backend.
func NewMemory(o MemoryOptions) *Memory {
	m := &Memory{now: o.Now, maxLen: o.MaxLen, maxAge: o.MaxAge, logs: map[string]*memLog{}, afterFunc: afterFunc}
	if m.now == nil {
		m.now = time.Now
	}
	switch {
	case m.maxLen == 0:
		m.maxLen = DefaultMaxLen
	case m.maxLen < 0:
		m.maxLen = 0 // no length limit
	}
	if m.maxAge == 0 {
		m.maxAge = DefaultMaxAge
	}
	m.epoch = ID{Ms: unixMs(m.now())}
	return m
}

// errBackendClosed is returned by a closed backend.
var errBackendClosed = errors.New("ssekit: broker backend closed")

func unixMs(t time.Time) uint64 {
	if ms := t.UnixMilli(); ms > 0 {
		return uint64(ms)
	}
	return 0
}

// Start implements [Backend].
func (m *Memory) Start(s Sink) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sink != nil {
		panic("ssekit: broker backend started twice: a Backend serves one Broker")
	}
	m.sink = s
}

// Append implements [Backend]. It delivers the entry to the sink before it
// returns, under its lock (which orders the deliveries), so the memory
// broker's Publish has reached every subscriber's queue when it returns.
func (m *Memory) Append(_ context.Context, topic string, r Record) (ID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ID{}, errBackendClosed
	}
	now := m.now()
	id := r.ID
	if id.IsZero() {
		next, ok := m.last.Next(unixMs(now))
		if !ok {
			return ID{}, errors.Join(ErrIDSpace, errors.New("ssekit: no id after "+m.last.String()))
		}
		id = next
	} else if m.used && id.Compare(m.last) <= 0 {
		return ID{}, idOrderError(id, m.last)
	}
	if !m.used {
		m.used = true
		if id.Compare(m.epoch) < 0 {
			m.epoch = id
		}
	}
	m.last = id
	l := m.logs[topic]
	if l == nil {
		// Keep a copy: the caller's string may alias a buffer it reuses.
		l = &memLog{topic: strings.Clone(topic)}
		m.logs[l.topic] = l
	}
	e := NewEntry(l.topic, id, r.Body, r.Close)
	l.entries = append(l.entries, memEntry{Entry: e, at: now})
	if n := len(l.entries) - m.maxLen; m.maxLen > 0 && n > 0 {
		l.drop(n)
	}
	m.trim(l, now)
	if m.appends++; m.appends >= sweepEvery {
		m.sweep(now)
	}
	if m.timer == nil && m.maxAge > 0 {
		m.timer = m.afterFunc(m.maxAge, m.expire)
	}
	if m.sink != nil {
		m.sink.Deliver(e)
	}
	return id, nil
}

// trim drops l's entries older than MaxAge.
func (m *Memory) trim(l *memLog, now time.Time) {
	if m.maxAge < 0 {
		return
	}
	cut := now.Add(-m.maxAge)
	n := 0
	for n < len(l.entries) && l.entries[n].at.Before(cut) {
		n++
	}
	l.drop(n)
}

// sweep trims every topic by age and forgets the topics left empty, so idle
// topics do not hold memory.
func (m *Memory) sweep(now time.Time) {
	m.appends = 0
	for topic, l := range m.logs {
		m.trim(l, now)
		if len(l.entries) == 0 {
			if l.dropped.Compare(m.forgotten) > 0 {
				m.forgotten = l.dropped
			}
			delete(m.logs, topic)
		}
	}
}

// expire is the age timer: it sweeps every topic and, while entries are
// left, arms itself again for the oldest one's expiry (at least MaxAge/16
// later, so a sweep's cost is bounded per MaxAge).
func (m *Memory) expire() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.timer = nil
	if m.closed {
		return
	}
	now := m.now()
	m.sweep(now)
	var oldest time.Time
	for _, l := range m.logs {
		if at := l.entries[0].at; oldest.IsZero() || at.Before(oldest) {
			oldest = at
		}
	}
	if oldest.IsZero() {
		return // nothing held: the next Append arms the timer
	}
	d := max(oldest.Add(m.maxAge).Sub(now), m.maxAge/minSweepGap, 10*time.Millisecond)
	m.timer = m.afterFunc(d, m.expire)
}

// drop removes the n oldest entries, remembering the greatest id dropped.
func (l *memLog) drop(n int) {
	if n <= 0 {
		return
	}
	l.dropped = l.entries[n-1].ID
	clear(l.entries[:n]) // release the frames now
	l.entries = l.entries[n:]
	if len(l.entries) == 0 {
		l.entries = nil
	}
}

// Read implements [Backend].
func (m *Memory) Read(_ context.Context, topics []string, after ID) ([]Entry, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, false, errBackendClosed
	}
	now := m.now()
	// An id below the log's start predates it; one above the greatest id
	// was never given by this backend (a restart with the clock behind, a
	// forged id): either way the client must be told.
	complete := after.Compare(m.epoch) >= 0 && after.Compare(m.last) <= 0
	var out []Entry
	for _, topic := range topics {
		l := m.logs[topic]
		if l == nil {
			// Never published, or forgotten once all its entries aged out.
			complete = complete && after.Compare(m.forgotten) >= 0
			continue
		}
		m.trim(l, now)
		if after.Compare(l.dropped) < 0 {
			complete = false
		}
		i, _ := slices.BinarySearchFunc(l.entries, after, func(e memEntry, id ID) int {
			if e.ID.Compare(id) <= 0 {
				return -1
			}
			return 1
		})
		for _, e := range l.entries[i:] {
			out = append(out, e.Entry)
		}
	}
	if len(topics) > 1 {
		slices.SortFunc(out, func(a, b Entry) int { return a.ID.Compare(b.ID) })
	}
	return out, complete, nil
}

// Watch implements [Backend]: the memory backend delivers every topic.
func (m *Memory) Watch(context.Context, string) error { return nil }

// Unwatch implements [Backend].
func (m *Memory) Unwatch(string) {}

// Close implements [Backend]: it drops every log and refuses further use.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.logs = nil
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	return nil
}
