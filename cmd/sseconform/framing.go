package main

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// bom is the UTF-8 byte order mark.
const bom = "\uFEFF"

// pendingLimit is how long an event (or a line) may wait for its end, at the
// end of the observation, before the framing check fails: a live stream may
// be caught in the middle of writing one, but not for this long.
const pendingLimit = 500 * time.Millisecond

// framing looks at the raw bytes of an event stream as they arrive: line
// endings, blank-line termination of events, byte order marks, UTF-8 and
// field names. Feed it every chunk read, in order.
type framing struct {
	bytes      int64
	lines      int
	lf, crlf   int
	cr         int // lone CRs
	afterCR    bool
	line       []byte    // the line being read
	lineSince  time.Time // when its first byte arrived
	started    bool      // a line has ended (a BOM is stripped only from the first)
	bomStart   bool
	bomLines   []int // lines that start with a BOM (after the first)
	bomInside  []int // lines with a BOM elsewhere
	badUTF8    []int // lines that are not valid UTF-8
	comments   int
	events     int       // blocks with a data line ended by a blank line: each dispatches an event
	pending    int       // field lines since the last blank line
	pendFirst  string    // the first of them, shortened
	pendLine   int       // its line number
	pendData   bool      // one of them is a data line: the block dispatches an event when it ends
	pendSince  time.Time // when the first data line of the block ended
	pendEvent  bool      // one of them is an event field
	pendID     bool      // one of them is an id field
	lostEvent  []string  // blocks with an event field and no data line, ended by a blank line (the first few)
	nLostEvent int
	idOnly     []string // blocks with an id field, no event field and no data line (the first few)
	nIDOnly    int
	quiet      int            // other blocks without a data line (retry, unknown fields): they dispatch nothing, as meant
	unknown    map[string]int // ignored field names
	badRetry   int
	nulID      int
	maxListing int // line numbers kept per list
}

func newFraming() *framing { return &framing{unknown: map[string]int{}, maxListing: 5} }

// feed takes the next chunk of the stream, read at at.
func (f *framing) feed(p []byte, at time.Time) {
	f.bytes += int64(len(p))
	for len(p) > 0 {
		if f.afterCR {
			f.afterCR = false
			if p[0] == '\n' {
				f.cr--
				f.crlf++
				p = p[1:]
				continue
			}
		}
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			f.extend(p, at)
			return
		}
		f.extend(p[:i], at)
		if p[i] == '\r' {
			f.cr++
			f.afterCR = true
		} else {
			f.lf++
		}
		f.endLine(at)
		p = p[i+1:]
	}
}

func (f *framing) extend(p []byte, at time.Time) {
	if len(p) == 0 {
		return
	}
	if len(f.line) == 0 {
		f.lineSince = at
	}
	f.line = append(f.line, p...)
}

// note appends a line number to a list, keeping the first few.
func (f *framing) note(list *[]int, n int) {
	if len(*list) < f.maxListing {
		*list = append(*list, n)
	} else {
		*list = append((*list)[:f.maxListing], -1) // -1: more follow
	}
}

// endLine interprets the line just ended.
func (f *framing) endLine(at time.Time) {
	line := f.line
	f.line = f.line[:0]
	if cap(f.line) > 64<<10 {
		f.line = nil
	}
	f.lines++
	n := f.lines
	if !f.started {
		f.started = true
		if bytes.HasPrefix(line, []byte(bom)) {
			f.bomStart = true
			line = line[len(bom):]
		}
	}
	if i := bytes.Index(line, []byte(bom)); i == 0 {
		f.note(&f.bomLines, n)
	} else if i > 0 {
		f.note(&f.bomInside, n)
	}
	if !utf8.Valid(line) {
		f.note(&f.badUTF8, n)
	}
	switch {
	case len(line) == 0:
		f.endBlock()
		return
	case line[0] == ':':
		f.comments++
		return
	}
	name, value, _ := bytes.Cut(line, []byte(":"))
	value = bytes.TrimPrefix(value, []byte(" "))
	f.pending++
	if f.pending == 1 {
		f.pendFirst = shorten(string(line), 40)
		f.pendLine = n
	}
	switch string(name) {
	case "data":
		if !f.pendData {
			f.pendData = true
			f.pendSince = at
		}
	case "event":
		f.pendEvent = true
	case "id":
		if bytes.IndexByte(value, 0) >= 0 {
			f.nulID++ // clients ignore the field
		} else {
			f.pendID = true
		}
	case "retry":
		if len(value) == 0 || bytes.IndexFunc(value, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
			f.badRetry++
		}
	default:
		if len(f.unknown) < 20 || f.unknown[string(name)] > 0 {
			f.unknown[string(name)]++
		}
	}
}

// endBlock ends the block of field lines read since the last blank line, as
// a blank line does: with a data line it dispatches an event; without one,
// it dispatches nothing, whatever other fields it has.
func (f *framing) endBlock() {
	switch {
	case f.pending == 0:
		return
	case f.pendData:
		f.events++
	case f.pendEvent:
		f.nLostEvent++
		if len(f.lostEvent) < f.maxListing {
			f.lostEvent = append(f.lostEvent, fmt.Sprintf("line %d %q", f.pendLine, f.pendFirst))
		}
	case f.pendID:
		f.nIDOnly++
		if len(f.idOnly) < f.maxListing {
			f.idOnly = append(f.idOnly, fmt.Sprintf("line %d %q", f.pendLine, f.pendFirst))
		}
	default:
		f.quiet++
	}
	f.pending, f.pendData, f.pendEvent, f.pendID = 0, false, false, false
}

// shorten cuts s to n bytes, marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// lineList renders line numbers noted by note.
func lineList(list []int) string {
	var parts []string
	for _, n := range list {
		if n < 0 {
			parts = append(parts, "...")
		} else {
			parts = append(parts, fmt.Sprint(n))
		}
	}
	return strings.Join(parts, ", ")
}

// checkFraming judges blank-line termination, at end (ended: the response
// ended by itself). Only a block with a data line dispatches an event, so
// only such a block needs its blank line: a final retry, id or event field
// (or comment) without one is allowed (retry applies as it is read).
func (f *framing) checkFraming(end time.Time, ended bool) (status, string) {
	partial := len(f.line) > 0
	partialComment := partial && f.line[0] == ':'
	partialName, _, _ := bytes.Cut(f.line, []byte(":"))
	partialData := partial && string(partialName) == "data"
	var tail string
	if ended && f.pending > 0 && !f.pendData {
		tail = fmt.Sprintf("; the stream ends with fields that dispatch nothing (%q, line %d) and no blank line: allowed (a retry field applies as it is read)",
			f.pendFirst, f.pendLine)
		f.endBlock()
	}
	switch {
	case f.bytes == 0:
		return skip, "no bytes received"
	case ended && f.pendData:
		return fail, fmt.Sprintf("the last event (%q, line %d) was not terminated by a blank line before the response ended: clients discard it", f.pendFirst, f.pendLine)
	case ended && partialData:
		return fail, fmt.Sprintf("the last line (%q) has no line ending, and the response ended: clients discard it, and its event", shorten(string(f.line), 40))
	case ended && partialComment:
		return warn, "the response ended in the middle of a comment line"
	case ended && partial:
		return warn, fmt.Sprintf("the last line (%q) has no line ending: clients discard it, so its field is not applied", shorten(string(f.line), 40))
	case !ended && f.pendData && end.Sub(f.pendSince) > pendingLimit:
		return fail, fmt.Sprintf("an event (%q, line %d) waited %v for the blank line that ends it (an event is delivered only then): is it flushed, and terminated?",
			f.pendFirst, f.pendLine, rd(end.Sub(f.pendSince)))
	case !ended && partial && end.Sub(f.lineSince) > pendingLimit:
		return fail, fmt.Sprintf("a line (%q) waited %v for its line ending", shorten(string(f.line), 40), rd(end.Sub(f.lineSince)))
	}
	if f.events == 1 {
		return pass, "1 event, ended by a blank line" + tail
	}
	return pass, fmt.Sprintf("%d events, each ended by a blank line", f.events) + tail
}

// checkDispatch judges blocks that end with a blank line but dispatch
// nothing, having no data line. With an event field the field has no effect
// at all (the standard resets the event type when the data buffer is empty):
// the only reason to send one is an event, and no client receives it (the
// usual cause: empty data sent with no "data:" line), so that fails, as an
// unterminated event does. An id field alone sets the last event ID, which a
// server may mean: a warning. Retry-only blocks are what they mean to be.
func (f *framing) checkDispatch(parsed int, ended bool) (status, string) {
	counts := fmt.Sprintf("%s framed with a data line, %s dispatched", plural(f.events, "block"), plural(parsed, "event"))
	if f.quiet > 0 {
		counts += fmt.Sprintf(", %d without data (retry, unknown fields) that dispatch nothing, as meant", f.quiet)
	}
	more := func(n int) string {
		if n > f.maxListing {
			return ", ..."
		}
		return ""
	}
	switch {
	case f.lines == 0:
		return skip, "no complete line"
	case f.nLostEvent > 0:
		also := ""
		if f.nIDOnly > 0 {
			also = fmt.Sprintf("; %s with only an id field (%s%s) dispatch nothing either", plural(f.nIDOnly, "block"), strings.Join(f.idOnly, ", "), more(f.nIDOnly))
		}
		return fail, fmt.Sprintf("%s with an event field but no data line (%s%s) dispatch nothing: the event is lost in every client; send empty data as \"data:\"%s (%s)",
			plural(f.nLostEvent, "block"), strings.Join(f.lostEvent, ", "), more(f.nLostEvent), also, counts)
	case f.nIDOnly > 0:
		return warn, fmt.Sprintf("%s with only an id field (%s%s) set the last event ID but dispatch no event: if an event with empty data was meant, send \"data:\" (%s)",
			plural(f.nIDOnly, "block"), strings.Join(f.idOnly, ", "), more(f.nIDOnly), counts)
	case ended && f.events != parsed:
		return warn, "the framing and the parser disagree: " + counts
	}
	return pass, counts
}

func (f *framing) checkLineEndings() (status, string) {
	kinds := 0
	for _, n := range []int{f.lf, f.crlf, f.cr} {
		if n > 0 {
			kinds++
		}
	}
	counts := fmt.Sprintf("%d LF, %d CRLF, %d CR", f.lf, f.crlf, f.cr)
	switch {
	case kinds == 0:
		return skip, "no complete line"
	case kinds > 1:
		return warn, "mixed line endings (" + counts + "): allowed, but a sign of a hand-made stream; use LF"
	case f.cr > 0:
		return warn, fmt.Sprintf("lone CR line endings (%d lines): allowed, but clients that split lines only at LF see one long line", f.cr)
	case f.crlf > 0:
		return pass, fmt.Sprintf("CRLF throughout (%d lines)", f.crlf)
	}
	return pass, fmt.Sprintf("LF throughout (%d lines)", f.lf)
}

func (f *framing) checkBOM() (status, string) {
	switch {
	case f.bytes == 0:
		return skip, "no bytes received"
	case len(f.bomLines) > 0:
		return fail, "a byte order mark starts line " + lineList(f.bomLines) +
			": only one at the very start is stripped, so this line's field name is wrong and clients ignore the field"
	case len(f.bomInside) > 0:
		return warn, "U+FEFF (a byte order mark) inside line " + lineList(f.bomInside)
	case f.bomStart:
		return warn, "the stream starts with a byte order mark: clients strip it, but some line-based readers do not; send none"
	}
	return pass, "no byte order mark"
}

func (f *framing) checkUTF8() (status, string) {
	switch {
	case f.lines == 0:
		return skip, "no complete line"
	case len(f.badUTF8) > 0:
		return fail, "line " + lineList(f.badUTF8) + " is not valid UTF-8: clients replace the bytes with U+FFFD"
	}
	return pass, fmt.Sprintf("%d lines of valid UTF-8", f.lines)
}

func (f *framing) checkFields() (status, string) {
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(f.unknown)) {
		p := fmt.Sprintf("field %q (%s)", name, times(f.unknown[name]))
		for _, known := range []string{"data", "event", "id", "retry"} {
			if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(name, bom)), known) {
				p = fmt.Sprintf("field %q (%s; not %q: names are exact)", name, times(f.unknown[name]), known)
			}
		}
		problems = append(problems, p)
	}
	if f.badRetry > 0 {
		problems = append(problems, fmt.Sprintf("retry fields that are not ASCII digits (%s)", times(f.badRetry)))
	}
	if f.nulID > 0 {
		problems = append(problems, fmt.Sprintf("id fields holding NUL (%s)", times(f.nulID)))
	}
	switch {
	case f.lines == 0:
		return skip, "no complete line"
	case len(problems) > 0:
		return warn, "clients ignore " + strings.Join(problems, "; ")
	}
	return pass, "only data, event, id and retry fields, and comments"
}

// times returns "once", "2 times".
func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}
