package broker

import "context"

// Backend stores the bounded log of every topic and feeds the entries
// appended to it, by any process sharing it, to the [Broker] that owns it,
// which fans them out to its local subscribers. [Memory] is the in-process
// backend; github.com/ssekit/ssekit/broker/redis implements it on Redis
// Streams so that several server processes share topics.
//
// A Backend value serves one Broker: [New] calls Start once, and
// [Broker.Shutdown] calls Close. Every method may be called concurrently.
// The strings passed to its methods (topics) may alias buffers the caller
// reuses once the call returns: a backend copies what it keeps.
//
// The contract that makes resumption exact:
//
//   - Ids are global to the backend: every id it assigns, in any topic, is
//     greater than every id it assigned before, and Append refuses a given id
//     that is not (with an error matching [ErrIDOrder]).
//   - The Sink sees entries one at a time, never concurrently, in strictly
//     increasing id order across every watched topic, and sees every entry
//     appended to a topic after Watch(topic) returned, until the matching
//     Unwatch. It may also see entries appended shortly before; the broker
//     drops what a subscriber already has.
//   - Read returns a consistent snapshot: for every topic, the log's entries
//     after the given id as of one moment, merged in id order.
type Backend interface {
	// Start hands the backend the sink to feed. It is called once, before
	// any other method.
	Start(s Sink)
	// Append adds an event to topic's log, trims the log to its bounds, and
	// returns the event's id: r.ID when it is not zero (it must be greater
	// than every id so far), otherwise the next id.
	Append(ctx context.Context, topic string, r Record) (ID, error)
	// Read returns every entry of topics whose id is greater than after,
	// oldest first, and reports whether the logs are complete after it:
	// false when entries after it may have been dropped (trimmed by count or
	// age, or lost before the log began), so the subscriber must be told.
	Read(ctx context.Context, topics []string, after ID) (entries []Entry, complete bool, err error)
	// Watch makes the sink receive topic's entries from now on. Calls are
	// counted: the topic stays watched until as many Unwatch calls. When
	// Watch returns an error the topic is not watched by that call.
	Watch(ctx context.Context, topic string) error
	// Unwatch undoes one Watch.
	Unwatch(topic string)
	// Close stops the feed and releases the backend's goroutines and
	// resources (but not a client it was given). Later calls fail.
	Close() error
}

// Sink receives a backend's entries. The [Broker] implements it.
type Sink interface {
	// Deliver hands over one entry; it must not block nor call the
	// backend. The entry's Frame is shared and must not be modified.
	Deliver(e Entry)
	// Fail reports that the feed broke, so watched entries may be missing:
	// the broker ends every subscription with err, and clients resume with
	// Last-Event-ID. The backend keeps trying to restore the feed.
	Fail(err error)
}

// Record is an event as the broker hands it to [Backend.Append].
type Record struct {
	ID    ID     // the id the publisher gave, or zero for the next id
	Body  []byte // the encoded event without its id line
	Close bool   // the event is named "close"
}

// Entry is one event of a topic's log, ready to be written to subscribers.
type Entry struct {
	ID    ID
	Topic string
	// Frame is the encoded event, id line first: encoded once, then shared
	// read-only by every subscriber that receives it.
	Frame []byte
	Close bool // the event is named "close"
}

// NewEntry builds the entry for an event of topic with id, the encoded body
// of a [Record] and its Close flag: Frame is "id: <id>\n" followed by body,
// in one new allocation. Backends use it to rebuild entries they read back.
func NewEntry(topic string, id ID, body []byte, isClose bool) Entry {
	f := make([]byte, 0, len("id: \n")+41+len(body))
	f = append(f, "id: "...)
	f = id.Append(f)
	f = append(f, '\n')
	f = append(f, body...)
	return Entry{ID: id, Topic: topic, Frame: f, Close: isClose}
}
