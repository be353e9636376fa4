package client

import (
	"bytes"
	"io"
	"math"
	"time"
	"unicode/utf8"
)

// bom is the UTF-8 byte order mark, stripped once from the start of a stream.
const bom = "\uFEFF"

// maxIdleDataSize bounds the data buffer capacity kept between events.
const maxIdleDataSize = 64 << 10

// Event is one event dispatched by the stream, as a browser's EventSource would deliver it.
type Event struct {
	Type        string // the event type; "message" when the stream named none
	Data        string // the data buffer with the final LF removed
	LastEventID string // the last event ID string in effect when the event was dispatched
}

// Parser reads events from an event stream. It interprets the stream as the
// WHATWG HTML standard's "Interpreting an event stream" algorithm does; see
// the package documentation.
//
// Set the callbacks before the first call to Next; they are called
// synchronously from Next, in stream order. A Parser is not safe for
// concurrent use.
type Parser struct {
	// OnComment, when non-nil, is called with the text of each comment line
	// (everything after the colon, leading space NOT stripped).
	OnComment func(text string)
	// OnRetry, when non-nil, is called with each valid retry field value
	// (ASCII digits only) as a duration in milliseconds. A value too large
	// for a time.Duration is reported as the largest one.
	OnRetry func(d time.Duration)

	lines       lineReader
	started     bool   // the first line has been seen (and its BOM stripped)
	scratch     []byte // a line with its ill-formed UTF-8 replaced
	data        []byte // the data buffer
	eventType   string // the event type buffer
	idBuffer    string // the last event ID buffer
	lastEventID string // the last event ID string
}

// NewParser returns a Parser that reads the stream from r.
func NewParser(r io.Reader) *Parser {
	return &Parser{lines: lineReader{r: r}}
}

// Next returns the next dispatched event. At the end of the stream it returns
// io.EOF (an unterminated final event is discarded, as the standard says); a
// read error from r is returned as is. Once Next has returned an error it
// returns the same error on every later call.
//
// Next reads r only until the next event is complete, so it suits a live
// stream: it blocks exactly while r does.
func (p *Parser) Next() (Event, error) {
	for {
		line, err := p.lines.readLine()
		if err != nil {
			return Event{}, err
		}
		if ev, ok := p.processLine(line); ok {
			return ev, nil
		}
	}
}

// LastEventID returns the parser's current last event ID string (persisting
// across events, as the standard says). It changes only when an event is
// dispatched, that is at a blank line, even one that delivers no event; an
// "id" field that is not followed by a blank line does not change it.
func (p *Parser) LastEventID() string {
	return p.lastEventID
}

// SetLastEventID sets both the last event ID buffer and the last event ID
// string to id, as if the stream had sent an "id" field followed by a blank
// line. A reconnecting client calls it before the first Next with the ID it
// sent in the Last-Event-ID header, so that events on the new connection
// carry that ID until the server sends another.
func (p *Parser) SetLastEventID(id string) {
	p.idBuffer = id
	p.lastEventID = id
}

// ParseAll is a convenience: it parses the whole of b and returns every dispatched event.
func ParseAll(b []byte) []Event {
	p := NewParser(bytes.NewReader(b))
	var events []Event
	for {
		ev, err := p.Next()
		if err != nil {
			return events
		}
		events = append(events, ev)
	}
}

// processLine interprets one line (without its line ending) and reports
// whether it dispatched an event.
func (p *Parser) processLine(line []byte) (Event, bool) {
	if !p.started {
		p.started = true
		line = bytes.TrimPrefix(line, []byte(bom))
	}
	if !utf8.Valid(line) {
		p.scratch = appendDecodedUTF8(p.scratch[:0], line)
		line = p.scratch
	}
	switch {
	case len(line) == 0:
		return p.dispatch()
	case line[0] == ':':
		if p.OnComment != nil {
			p.OnComment(string(line[1:]))
		}
		return Event{}, false
	}
	field, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	p.processField(field, value)
	return Event{}, false
}

// processField applies one field. Names are compared literally, with no case folding.
func (p *Parser) processField(field, value []byte) {
	switch string(field) {
	case "event":
		if string(value) != p.eventType {
			p.eventType = string(value)
		}
	case "data":
		p.data = append(p.data, value...)
		p.data = append(p.data, '\n')
	case "id":
		if bytes.IndexByte(value, 0) < 0 && string(value) != p.idBuffer {
			p.idBuffer = string(value)
		}
	case "retry":
		if d, ok := parseRetry(value); ok && p.OnRetry != nil {
			p.OnRetry(d)
		}
	}
}

// dispatch runs the standard's dispatch steps and reports whether they
// deliver an event.
func (p *Parser) dispatch() (Event, bool) {
	p.lastEventID = p.idBuffer
	if len(p.data) == 0 {
		p.eventType = ""
		return Event{}, false
	}
	ev := Event{
		Type:        p.eventType,
		Data:        string(p.data[:len(p.data)-1]), // every data line ends with LF
		LastEventID: p.lastEventID,
	}
	if ev.Type == "" {
		ev.Type = "message"
	}
	p.eventType = ""
	p.data = p.data[:0]
	if cap(p.data) > maxIdleDataSize {
		p.data = nil
	}
	return ev, true
}

// parseRetry interprets a retry field value: a non-empty run of ASCII digits,
// in milliseconds. A value too large for a time.Duration saturates.
func parseRetry(v []byte) (time.Duration, bool) {
	if len(v) == 0 {
		return 0, false
	}
	const maxMillis = math.MaxInt64 / int64(time.Millisecond)
	var ms int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		ms = min(ms*10+int64(c-'0'), maxMillis+1) // cannot overflow
	}
	if ms > maxMillis {
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(ms) * time.Millisecond, true
}
