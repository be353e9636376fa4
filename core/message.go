package core

import (
	"errors"
	"time"
)

// Message is one Server-Sent Events message.
//
// A message dispatches an event in the client unless it carries only Comment
// and/or Retry. When ID or Event is set and Data is nil, the event is sent with
// empty data so that it still reaches the client.
type Message struct {
	// ID sets the client's last event ID (sent back as Last-Event-ID when it
	// reconnects). It must not contain CR, LF or NUL. Empty means no id field.
	ID string
	// Event is the event type; empty means the client's default, "message". It
	// must not contain CR or LF. An event named "close" ends the stream after it
	// is written (see [KeepOpenOnClose]).
	Event string
	// Data is the payload: a string or []byte (sent as is, split into one
	// "data: " line per line), a json.RawMessage (sent as is), or any other value,
	// sent as its JSON encoding. Text must be valid UTF-8.
	Data any
	// Retry, when positive, tells the client how long to wait before it
	// reconnects. It is sent in whole milliseconds; a value below one
	// millisecond, or a negative one, is refused.
	Retry time.Duration
	// Comment is sent as comment lines (": text"), which clients ignore. A
	// multi-line comment is split so it can never inject a field.
	Comment string
}

// ErrInvalidField is matched (with errors.Is) by every error for a message
// field the standard cannot carry.
var ErrInvalidField = errors.New("ssekit: invalid field")

// ErrClosed is returned by dispatching on a target whose stream has ended or is
// ending.
var ErrClosed = errors.New("ssekit: stream closed")

// fieldError names the offending field; it matches ErrInvalidField.
type fieldError struct {
	field, reason string
}

func (e *fieldError) Error() string {
	return "ssekit: invalid field " + e.field + ": " + e.reason
}

func (e *fieldError) Is(target error) bool { return target == ErrInvalidField }
