package client

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// result is everything a stream tells a client.
type result struct {
	events   []Event
	comments []string
	retries  []time.Duration
	lastID   string // LastEventID after the stream ended
}

// check reports every way got differs from want.
func (got result) check(t *testing.T, want result) {
	t.Helper()
	if !slices.Equal(got.events, want.events) {
		t.Errorf("events: got %q; want %q", got.events, want.events)
	}
	if !slices.Equal(got.comments, want.comments) {
		t.Errorf("comments: got %q; want %q", got.comments, want.comments)
	}
	if !slices.Equal(got.retries, want.retries) {
		t.Errorf("retries: got %v; want %v", got.retries, want.retries)
	}
	if got.lastID != want.lastID {
		t.Errorf("LastEventID: got %q; want %q", got.lastID, want.lastID)
	}
}

// parse runs a Parser over r to the end and collects what it reported.
func parse(r io.Reader) (result, error) {
	var res result
	p := NewParser(r)
	p.OnComment = func(text string) { res.comments = append(res.comments, text) }
	p.OnRetry = func(d time.Duration) { res.retries = append(res.retries, d) }
	for {
		ev, err := p.Next()
		if err != nil {
			res.lastID = p.LastEventID()
			if err == io.EOF {
				err = nil
			}
			return res, err
		}
		res.events = append(res.events, ev)
	}
}

// readerKinds deliver the same bytes in differently sized reads.
var readerKinds = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"onebyte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"dataerr", iotest.DataErrReader},
}

// chunkReader returns its chunks one per Read.
type chunkReader struct{ chunks []string }

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	if r.chunks[0] = r.chunks[0][n:]; r.chunks[0] == "" {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

func msg(data, id string) Event { return Event{Type: "message", Data: data, LastEventID: id} }

func typed(typ, data, id string) Event { return Event{Type: typ, Data: data, LastEventID: id} }

const maxDuration = time.Duration(math.MaxInt64)

var parseTests = []struct {
	name string
	in   string
	want result
}{
	// Examples from the standard.
	{"stock ticker", "data: YHOO\ndata: +2\ndata: 10\n\n",
		result{events: []Event{msg("YHOO\n+2\n10", "")}}},
	{"stock ticker with id", "data: GOOG\ndata: 556\nid: 1\n\n",
		result{events: []Event{msg("GOOG\n556", "1")}, lastID: "1"}},
	{"event types", "event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
		result{events: []Event{typed("add", "73857293", ""), typed("remove", "2153", ""), typed("add", "113411", "")}}},
	{"test stream, last block unterminated",
		": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
		result{events: []Event{msg("first event", "1"), msg("second event", "")}, comments: []string{" test stream"}}},
	{"test stream, last block terminated",
		": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
		result{events: []Event{msg("first event", "1"), msg("second event", ""), msg(" third event", "")}, comments: []string{" test stream"}}},
	{"empty data lines", "data\n\ndata\ndata\n\ndata:",
		result{events: []Event{msg("", ""), msg("\n", "")}}},
	{"space after colon optional", "data:test\n\ndata: test\n\n",
		result{events: []Event{msg("test", ""), msg("test", "")}}},
	{"multi-line message", "data: This is the second message, it\ndata: has two lines.\n\n",
		result{events: []Event{msg("This is the second message, it\nhas two lines.", "")}}},

	// End of stream.
	{"empty stream", "", result{}},
	{"blank lines only", "\n\r\n\r\n\r", result{}},
	{"unterminated event discarded", "data: a\n\ndata: b\n", result{events: []Event{msg("a", "")}}},
	{"unterminated line discarded", "data: a\n\ndata: b", result{events: []Event{msg("a", "")}}},
	{"unterminated retry line ignored", "retry: 5\nretry: 7", result{retries: []time.Duration{5 * time.Millisecond}}},
	{"unterminated comment ignored", ":a\n:b", result{comments: []string{"a"}}},

	// Byte order mark.
	{"BOM stripped", "\uFEFFdata: x\n\n", result{events: []Event{msg("x", "")}}},
	{"BOM then blank line", "\uFEFF\ndata: x\n\n", result{events: []Event{msg("x", "")}}},
	{"BOM then comment", "\uFEFF: hi\n", result{comments: []string{" hi"}}},
	{"second BOM kept in field name", "\uFEFF\uFEFFdata: x\n\n", result{}},
	{"BOM only at start of stream", "data: a\n\n\uFEFFdata: b\n\n", result{events: []Event{msg("a", "")}}},
	{"BOM after blank first line kept", "\n\uFEFFdata: b\n\n", result{}},
	{"BOM in value kept", "data: \uFEFFx\n\n", result{events: []Event{msg("\uFEFFx", "")}}},
	{"BOM in comment kept", "\uFEFF:\uFEFF\n", result{comments: []string{"\uFEFF"}}},
	{"partial BOM is ill-formed", "\xEF\xBBdata: x\n\n", result{}},

	// Line endings.
	{"CRLF", "data: a\r\ndata: b\r\n\r\n", result{events: []Event{msg("a\nb", "")}}},
	{"CR", "data: a\rdata: b\r\r", result{events: []Event{msg("a\nb", "")}}},
	{"mixed", "data: a\rdata: b\r\ndata: c\n\r\ndata: d\r\n\n", result{events: []Event{msg("a\nb\nc", ""), msg("d", "")}}},
	{"LF CR is two line endings", "data: a\n\rdata: b\n\n", result{events: []Event{msg("a", ""), msg("b", "")}}},
	{"CR CR LF is two line endings", "data: a\r\r\ndata: b\r\r\n", result{events: []Event{msg("a", ""), msg("b", "")}}},
	{"CR at end of stream ends a line", "data: a\r\r", result{events: []Event{msg("a", "")}}},
	{"CR is not kept in data", "data: a\rb\r\r", result{events: []Event{msg("a", "")}}},

	// Fields.
	{"colon in value", "data: a:b\n\n", result{events: []Event{msg("a:b", "")}}},
	{"second colon starts value", "data:: x\n\n", result{events: []Event{msg(": x", "")}}},
	{"two spaces keep one", "data:  x\n\n", result{events: []Event{msg(" x", "")}}},
	{"lone space removed", "data: \ndata:\n\n", result{events: []Event{msg("\n", "")}}},
	{"tab kept", "data:\tx\n\n", result{events: []Event{msg("\tx", "")}}},
	{"trailing space kept", "data: x \n\n", result{events: []Event{msg("x ", "")}}},
	{"field without colon", "data\ndata: x\ndata\n\n", result{events: []Event{msg("\nx\n", "")}}},
	{"NUL kept in data", "data: a\x00b\n\n", result{events: []Event{msg("a\x00b", "")}}},
	{"unknown fields ignored", "foo: bar\nDATA: x\nEvent: y\nID: 3\nRetry: 4\n data: z\ndata : w\ndata\t: v\ndata: ok\n\n",
		result{events: []Event{msg("ok", "")}}},
	{"unknown fields alone dispatch nothing", "foo: bar\n\n", result{}},
	{"field named space", " : x\ndata: y\n\n", result{events: []Event{msg("y", "")}}},

	// Event type.
	{"event without data dispatches nothing", "event: add\n\n", result{}},
	{"event type reset by empty dispatch", "event: add\n\ndata: x\n\n", result{events: []Event{msg("x", "")}}},
	{"event type reset after event", "event: add\ndata: 1\n\ndata: 2\n\n", result{events: []Event{typed("add", "1", ""), msg("2", "")}}},
	{"last event field wins", "event: a\nevent: b\ndata: x\n\n", result{events: []Event{typed("b", "x", "")}}},
	{"empty event type means message", "event: a\nevent:\ndata: x\n\n", result{events: []Event{msg("x", "")}}},
	{"event without colon means message", "event\ndata: x\n\n", result{events: []Event{msg("x", "")}}},
	{"event type after data", "data: x\nevent: e\n\n", result{events: []Event{typed("e", "x", "")}}},
	{"event type is not trimmed", "event:  add \ndata: x\n\n", result{events: []Event{typed(" add ", "x", "")}}},

	// Last event ID.
	{"id-only block", "id: 42\n\n", result{lastID: "42"}},
	{"id persists", "id: 42\n\ndata: x\n\ndata: y\n\n", result{events: []Event{msg("x", "42"), msg("y", "42")}, lastID: "42"}},
	{"id after data applies", "data: x\nid: 7\n\n", result{events: []Event{msg("x", "7")}, lastID: "7"}},
	{"id reset by empty id", "id: 1\n\nid\n\ndata: x\n\n", result{events: []Event{msg("x", "")}}},
	{"id reset by empty value", "id: 1\ndata: a\n\nid:\ndata: b\n\n", result{events: []Event{msg("a", "1"), msg("b", "")}}},
	{"id with NUL ignored", "id: 1\n\nid: a\x00b\ndata: x\n\n", result{events: []Event{msg("x", "1")}, lastID: "1"}},
	{"id with only NUL ignored", "id: 1\nid: \x00\ndata: x\n\n", result{events: []Event{msg("x", "1")}, lastID: "1"}},
	{"id not committed without blank line", "data: a\n\nid: 2\n", result{events: []Event{msg("a", "")}}},
	{"id not committed at end of stream", "id: 2\ndata: b", result{}},
	{"id buffer outlives discarded event", "id: 1\ndata: a\nevent: e\n\n\n", result{events: []Event{typed("e", "a", "1")}, lastID: "1"}},
	{"id of one space is empty", "id: 1\n\nid: \n\n", result{}},
	{"id value keeps spaces", "id:  5 \n\n", result{lastID: " 5 "}},

	// Retry.
	{"retry accepted", "retry: 1000\n", result{retries: []time.Duration{time.Second}}},
	{"retry rejected", "retry: 1000ms\nretry: -1\nretry:\nretry\nretry:  1000\nretry: 1 0\nretry: +1\nretry: 1.5\nretry: \u0661\n",
		result{}},
	{"retry zero and leading zeros", "retry:0\nretry: 007\n", result{retries: []time.Duration{0, 7 * time.Millisecond}}},
	{"retry saturates", "retry: 9223372036854\nretry: 9223372036855\nretry: 99999999999999999999999999\n",
		result{retries: []time.Duration{9223372036854 * time.Millisecond, maxDuration, maxDuration}}},
	{"retry dispatches nothing", "retry: 10\n\n", result{retries: []time.Duration{10 * time.Millisecond}}},
	{"retry inside event", "data: a\nretry: 10\ndata: b\n\n", result{events: []Event{msg("a\nb", "")}, retries: []time.Duration{10 * time.Millisecond}}},

	// Comments.
	{"comments", ":\n: hi\n:  two\n:no space\n::\n", result{comments: []string{"", " hi", "  two", "no space", ":"}}},
	{"comment inside event", "data: a\n: c\ndata: b\n\n", result{events: []Event{msg("a\nb", "")}, comments: []string{" c"}}},
	{"comment does not dispatch", "data: a\n:\n", result{comments: []string{""}}},

	// UTF-8.
	{"multi-byte kept", "event: é\ndata: 日本 🎉\n\n", result{events: []Event{typed("é", "日本 🎉", "")}}},
	{"literal U+FFFD kept", "data: \uFFFD\n\n", result{events: []Event{msg("\uFFFD", "")}}},
	{"stray byte", "data: \xFF\n\n", result{events: []Event{msg("\uFFFD", "")}}},
	{"truncated sequence is one U+FFFD", "data: a\xE2\x82b\n\n", result{events: []Event{msg("a\uFFFDb", "")}}},
	{"sequence truncated by line end", "data: \xF0\x9F\x98\ndata: \xE2\x82\r\r", result{events: []Event{msg("\uFFFD\n\uFFFD", "")}}},
	{"surrogate is three U+FFFD", "data: \xED\xA0\x80\n\n", result{events: []Event{msg("\uFFFD\uFFFD\uFFFD", "")}}},
	{"overlong is two U+FFFD", "data: \xC0\xAF\n\n", result{events: []Event{msg("\uFFFD\uFFFD", "")}}},
	{"above U+10FFFF", "data: \xF4\x90\x80\x80\n\n", result{events: []Event{msg("\uFFFD\uFFFD\uFFFD\uFFFD", "")}}},
	{"ill-formed field name ignored", "dat\xFFa: x\ndata\xFF: y\n\n", result{}},
	{"ill-formed event type", "event: \xFF\ndata: x\n\n", result{events: []Event{typed("\uFFFD", "x", "")}}},
	{"ill-formed id", "id: \xC3\n\n", result{lastID: "\uFFFD"}},
	{"ill-formed comment", ":\xFFok\n", result{comments: []string{"\uFFFDok"}}},
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range parseTests {
		for _, rk := range readerKinds {
			t.Run(tc.name+"/"+rk.name, func(t *testing.T) {
				t.Parallel()
				got, err := parse(rk.wrap(strings.NewReader(tc.in)))
				if err != nil {
					t.Fatalf("parse(%q): got error %v; want nil", tc.in, err)
				}
				got.check(t, tc.want)
			})
		}
		t.Run(tc.name+"/ParseAll", func(t *testing.T) {
			t.Parallel()
			if got := ParseAll([]byte(tc.in)); !slices.Equal(got, tc.want.events) {
				t.Errorf("ParseAll(%q): got %q; want %q", tc.in, got, tc.want.events)
			}
		})
		// The fuzz oracle must agree with every hand-written expectation.
		t.Run(tc.name+"/reference", func(t *testing.T) {
			t.Parallel()
			refParse([]byte(tc.in)).check(t, tc.want)
		})
	}
}

func TestCRLFSplitAcrossReads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		chunks []string
		want   []Event
	}{
		{"CR|LF inside event", []string{"data: a\r", "\ndata: b\r", "\n\r", "\n"}, []Event{msg("a\nb", "")}},
		{"CR|LF|LF", []string{"data: a\r", "\n", "\n"}, []Event{msg("a", "")}},
		{"CR|CR", []string{"data: a\r", "\r", "data: b\r\r"}, []Event{msg("a", ""), msg("b", "")}},
		{"CR|empty read|LF", []string{"data: a\r", "", "\ndata: b\r\n\r\n"}, []Event{msg("a\nb", "")}},
		{"UTF-8 split", []string{"data: \xE6", "\x97", "\xA5\n\n"}, []Event{msg("日", "")}},
		{"BOM split", []string{"\xEF", "\xBB", "\xBFdata: x\n\n"}, []Event{msg("x", "")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parse(&chunkReader{chunks: slices.Clone(tc.chunks)})
			if err != nil {
				t.Fatalf("got error %v; want nil", err)
			}
			if !slices.Equal(got.events, tc.want) {
				t.Errorf("chunks %q: got %q; want %q", tc.chunks, got.events, tc.want)
			}
		})
	}
}

func TestLongLine(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("0123456789abcdé", (1<<20)/16) // 1 MiB of UTF-8
	in := "data: " + big + "\n\nid: x\r\ndata: " + big + "\r\n\r\ndata: small\r\r"
	want := []Event{msg(big, ""), msg(big, "x"), msg("small", "x")}
	for _, rk := range readerKinds[:3] { // dataerr adds nothing here
		t.Run(rk.name, func(t *testing.T) {
			t.Parallel()
			got, err := parse(rk.wrap(strings.NewReader(in)))
			if err != nil {
				t.Fatalf("got error %v; want nil", err)
			}
			if len(got.events) != len(want) {
				t.Fatalf("got %d events; want %d", len(got.events), len(want))
			}
			for i := range want {
				if got.events[i] != want[i] {
					t.Errorf("event %d: got type %q, %d data bytes, id %q; want type %q, %d data bytes, id %q",
						i, got.events[i].Type, len(got.events[i].Data), got.events[i].LastEventID,
						want[i].Type, len(want[i].Data), want[i].LastEventID)
				}
			}
		})
	}
}

func TestReadError(t *testing.T) {
	t.Parallel()
	errBroken := errors.New("broken")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(errBroken))
	p := NewParser(r)
	if ev, err := p.Next(); err != nil || ev != msg("a", "") {
		t.Fatalf("first Next: got %q, %v; want %q, nil", ev, err, msg("a", ""))
	}
	for i := range 2 { // the error is sticky
		if ev, err := p.Next(); err != errBroken {
			t.Errorf("Next #%d after error: got %q, %v; want error %v", i, ev, err, errBroken)
		}
	}
}

func TestEOFIsSticky(t *testing.T) {
	t.Parallel()
	p := NewParser(strings.NewReader("data: a\n\ndata: b"))
	if _, err := p.Next(); err != nil {
		t.Fatalf("first Next: got error %v; want nil", err)
	}
	for i := range 3 {
		if ev, err := p.Next(); err != io.EOF {
			t.Errorf("Next #%d: got %q, %v; want io.EOF", i, ev, err)
		}
	}
}

// badReader returns n from every Read, with no error.
type badReader struct{ n int }

func (r badReader) Read([]byte) (int, error) { return r.n, nil }

func TestMisbehavingReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int
		want error
	}{
		{0, io.ErrNoProgress},
		{-1, errInvalidRead},
		{1 << 30, errInvalidRead},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			t.Parallel()
			if _, err := NewParser(badReader{tc.n}).Next(); err != tc.want {
				t.Errorf("Next: got error %v; want %v", err, tc.want)
			}
		})
	}
}

// TestLiveStream checks that Next and the callbacks never wait for bytes
// beyond the line ending that completes what they report: a lone CR at the
// end of a write must not wait for a possible LF.
func TestLiveStream(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	defer pr.Close()
	comments := make(chan string, 1)
	p := NewParser(pr)
	p.OnComment = func(text string) { comments <- text }
	type next struct {
		ev  Event
		err error
	}
	events := make(chan next)
	go func() {
		for {
			ev, err := p.Next()
			events <- next{ev, err}
			if err != nil {
				return
			}
		}
	}()
	steps := []struct {
		write   string
		event   *Event
		comment *string
	}{
		{write: "\uFEFF", event: nil},
		{write: ": ping\r", comment: new(" ping")},
		{write: "\ndata: a\r\r", event: new(msg("a", ""))},
		{write: "\ndata: b\n\n", event: new(msg("b", ""))},
		{write: "id: 3\r\n\r", event: nil},
		{write: "\ndata: c\r", event: nil},
		{write: "\r", event: new(msg("c", "3"))},
	}
	for i, st := range steps {
		if _, err := pw.Write([]byte(st.write)); err != nil {
			t.Fatalf("step %d: write: %v", i, err)
		}
		if st.comment != nil {
			select {
			case got := <-comments:
				if got != *st.comment {
					t.Errorf("step %d: got comment %q; want %q", i, got, *st.comment)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("step %d: got no comment after 5s; want %q", i, *st.comment)
			}
		}
		if st.event != nil {
			select {
			case got := <-events:
				if got.err != nil || got.ev != *st.event {
					t.Errorf("step %d: got %q, %v; want %q, nil", i, got.ev, got.err, *st.event)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("step %d: got no event after 5s; want %q", i, *st.event)
			}
		}
	}
	pw.Close()
	if got := <-events; got.err != io.EOF {
		t.Errorf("after close: got %q, %v; want io.EOF", got.ev, got.err)
	}
}

func TestSetLastEventID(t *testing.T) {
	t.Parallel()
	p := NewParser(strings.NewReader("data: a\n\nid: 6\n\ndata: b\n\nid\ndata: c\n\n"))
	p.SetLastEventID("5")
	if got := p.LastEventID(); got != "5" {
		t.Errorf("LastEventID after SetLastEventID: got %q; want %q", got, "5")
	}
	for _, want := range []Event{msg("a", "5"), msg("b", "6"), msg("c", "")} {
		if got, err := p.Next(); err != nil || got != want {
			t.Errorf("Next: got %q, %v; want %q, nil", got, err, want)
		}
	}
}

// TestAllocations is not parallel: testing.AllocsPerRun counts every
// allocation in the process, so it must run while no other test does.
func TestAllocations(t *testing.T) {
	const events = 1000
	var buf bytes.Buffer
	for i := range events {
		fmt.Fprintf(&buf, "event: tick\nid: 7\n: keep-alive\ndata: event number %d\ndata: second line\nretry: 3000\n\n", i)
	}
	in := buf.Bytes()
	// One allocation for Data and one for Type per event, plus a constant.
	const limit = 2*events + 20
	allocs := testing.AllocsPerRun(5, func() {
		p := NewParser(bytes.NewReader(in))
		for n := 0; ; n++ {
			if _, err := p.Next(); err != nil {
				if n != events {
					panic(fmt.Sprintf("got %d events; want %d", n, events))
				}
				return
			}
		}
	})
	t.Logf("%v allocations for %d events", allocs, events)
	if allocs > limit {
		t.Errorf("parsing %d events (%d bytes): got %v allocations; want at most %d", events, len(in), allocs, limit)
	}
}
