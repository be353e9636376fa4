package core_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// FuzzRoundTrip checks the encoder against the spec-exact parser: any message
// either encodes to a stream that parses back to the same event, or is refused
// with ErrInvalidField for a reason the standard gives.
func FuzzRoundTrip(f *testing.F) {
	f.Add("0", "hello", "world", int64(1000), "", true)
	f.Add("", "", "a\r\nb\rc\nd\n", int64(0), "x\ny", true)
	f.Add("a\nb", "e", "", int64(-1), "", false)
	f.Add(" id", " ev", "  lead", int64(1), "\r", true)
	f.Add("\x00", "\xff", "\xef\xbb\xbfbom", int64(0), "", false)
	f.Fuzz(func(t *testing.T, id, event, data string, retryMs int64, comment string, hasData bool) {
		if retryMs > 1<<40 || retryMs < -1<<40 {
			return
		}
		m := core.Message{ID: id, Event: event, Retry: time.Duration(retryMs) * time.Millisecond, Comment: comment}
		if hasData {
			m.Data = data
		}
		b, err := core.AppendMessage(nil, m)
		if err != nil {
			if !errors.Is(err, core.ErrInvalidField) {
				t.Fatalf("got %v; want an ErrInvalidField", err)
			}
			if valid(m, data) {
				t.Fatalf("refused a valid message %#v: %v", m, err)
			}
			return
		}
		if !valid(m, data) {
			t.Fatalf("accepted an invalid message %#v", m)
		}
		var retries []time.Duration
		p := client.NewParser(strings.NewReader(string(b) + string(b)))
		p.OnRetry = func(d time.Duration) { retries = append(retries, d) }
		var got []client.Event
		for range 3 {
			ev, err := p.Next()
			if err != nil {
				break
			}
			got = append(got, ev)
		}
		if m.Retry > 0 && (len(retries) != 2 || retries[0] != m.Retry) {
			t.Fatalf("retries: got %v; want %v twice", retries, m.Retry)
		}
		if !hasData && id == "" && event == "" {
			if len(got) != 0 {
				t.Fatalf("got events %v; want none for a comment/retry-only message", got)
			}
			return
		}
		want := client.Event{Type: event, Data: strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(data), LastEventID: id}
		if want.Type == "" {
			want.Type = "message"
		}
		if !hasData {
			want.Data = ""
		}
		if len(got) != 2 || got[0] != want || got[1] != want {
			t.Fatalf("encoded %q: got %#v; want %#v twice", b, got, want)
		}
	})
}

// valid reports whether the standard can carry m.
func valid(m core.Message, data string) bool {
	empty := m.Data == nil && m.ID == "" && m.Event == "" && m.Retry == 0 && m.Comment == ""
	return !empty && m.Retry >= 0 &&
		!strings.ContainsAny(m.ID, "\r\n\x00") && !strings.ContainsAny(m.Event, "\r\n") &&
		utf8.ValidString(m.ID) && utf8.ValidString(m.Event) && utf8.ValidString(m.Comment) &&
		(m.Data == nil || utf8.ValidString(data))
}
