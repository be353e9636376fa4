package main

import (
	"strings"
	"testing"
	"time"
)

// TestFraming feeds streams to the framing analyzer in every possible pair
// of chunks (so a CRLF, a BOM or a UTF-8 sequence may be split) and checks
// its verdicts.
func TestFraming(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream string
		ended  bool
		want   [5]status // framing, line-endings, bom, utf8, fields
	}{
		{"lf", "id: 1\ndata: a\n\n:\n\ndata: b\n\n", true, [5]status{pass, pass, pass, pass, pass}},
		{"crlf", "data: a\r\n\r\n", true, [5]status{pass, pass, pass, pass, pass}},
		{"lone-cr", "data: a\r\r", true, [5]status{pass, warn, pass, pass, pass}},
		{"mixed", "data: a\r\n\ndata: b\r\r", true, [5]status{pass, warn, pass, pass, pass}},
		{"unterminated", "data: a\n\ndata: b\n", true, [5]status{fail, pass, pass, pass, pass}},
		{"no-final-eol", "data: a\n\ndata: b", true, [5]status{fail, pass, pass, pass, pass}},
		{"comment-cut", "data: a\n\n: bye", true, [5]status{warn, pass, pass, pass, pass}},
		{"open-pending", "data: a\n", false, [5]status{fail, pass, pass, pass, pass}},
		{"bom-start", "\uFEFFdata: a\n\n", true, [5]status{pass, pass, warn, pass, pass}},
		{"bom-line", "data: a\n\n\uFEFFdata: b\n\n", true, [5]status{pass, pass, fail, pass, warn}}, // field "\uFEFFdata"
		{"bom-inside", "data: a\uFEFF\n\n", true, [5]status{pass, pass, warn, pass, pass}},
		{"bad-utf8", "data: \xe2\x82\n\n", true, [5]status{pass, pass, pass, fail, pass}},
		{"unknown-field", "Data: a\n\n", true, [5]status{pass, pass, pass, pass, warn}},
		{"bad-retry", "retry: 1s\ndata: a\n\n", true, [5]status{pass, pass, pass, pass, warn}},
		{"nul-id", "id: a\x00\ndata: a\n\n", true, [5]status{pass, pass, pass, pass, warn}},
	} {
		for cut := 0; cut <= len(tc.stream); cut++ {
			f := newFraming()
			start := time.Now()
			f.feed([]byte(tc.stream[:cut]), start)
			f.feed([]byte(tc.stream[cut:]), start)
			end := start.Add(time.Second) // everything pending has waited a second
			var got [5]status
			var why [5]string
			got[0], why[0] = f.checkFraming(end, tc.ended)
			got[1], why[1] = f.checkLineEndings()
			got[2], why[2] = f.checkBOM()
			got[3], why[3] = f.checkUTF8()
			got[4], why[4] = f.checkFields()
			if got != tc.want {
				t.Errorf("%s, cut at %d: got %v (%q); want %v", tc.name, cut, got, why, tc.want)
				break
			}
		}
	}
}

// TestFramingCounts checks the counts behind the verdicts.
func TestFramingCounts(t *testing.T) {
	f := newFraming()
	now := time.Now()
	for _, chunk := range []string{"data: a\r", "\n\r", "\nid: 1\rdata: b\r\r: c\n", "event: x\ndata: y\n\n"} {
		f.feed([]byte(chunk), now)
	}
	if f.lf != 4 || f.crlf != 2 || f.cr != 3 || f.events != 3 || f.comments != 1 || f.lines != 9 {
		t.Errorf("got lf %d, crlf %d, cr %d, events %d, comments %d, lines %d; want 4, 2, 3, 3, 1, 9",
			f.lf, f.crlf, f.cr, f.events, f.comments, f.lines)
	}
	if _, why := f.checkLineEndings(); !strings.Contains(why, "4 LF, 2 CRLF, 3 CR") {
		t.Errorf("got %q", why)
	}
}
