package conformance

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

func danetExample() Scenario {
	var msgs []core.Message
	var want []client.Event
	for id := range 4 {
		msgs = append(msgs, core.Message{ID: strconv.Itoa(id), Event: "hello", Data: "world", Retry: time.Second})
		want = append(want, event("hello", "world", strconv.Itoa(id)))
	}
	msgs = append(msgs, core.Message{ID: "4", Event: "close", Data: "close", Retry: time.Second})
	want = append(want, event("close", "close", "4"))
	return Scenario{
		Name: "danet-example",
		Doc: `The route of Danet's documentation: four "hello" events with data "world", ids 0 to 3 and retry 1000,
then a "close" event (id 4, data "close"), after which the response ends by itself.`,
		Handler:   send(msgs...),
		Want:      want,
		WantEnd:   true,
		WantRetry: time.Second,
	}
}

func ids() Scenario {
	return Scenario{
		Name: "ids",
		Doc: `Each event carries the last event ID in effect; an event without an id keeps the previous one
(the client's last event ID persists).`,
		Handler: send(
			core.Message{ID: "1", Data: "a"},
			core.Message{ID: "2", Data: "b"},
			core.Message{Data: "c"},
			core.Message{ID: "x-3", Data: "d"},
			core.Message{Data: "e"},
		),
		Want: []client.Event{
			message("a", "1"), message("b", "2"), message("c", "2"), message("d", "x-3"), message("e", "x-3"),
		},
		WantEnd: true,
	}
}

func retry() Scenario {
	s := Scenario{
		Name: "retry",
		Doc: `Retry is sent in milliseconds; a retry-only message sets the reconnection time without dispatching
an event.`,
		Handler: send(
			core.Message{Retry: 1500 * time.Millisecond, Data: "a"},
			core.Message{Retry: 2500 * time.Millisecond},
			core.Message{Data: "b"},
		),
		Want:      []client.Event{message("a", ""), message("b", "")},
		WantEnd:   true,
		WantRetry: 2500 * time.Millisecond,
	}
	s.Run = func(t testing.TB, env *Env) {
		st := s.Check(t, env)
		if want := []time.Duration{1500 * time.Millisecond, 2500 * time.Millisecond}; !slices.Equal(st.Retries, want) {
			t.Errorf("retry values: got %v; want %v", st.Retries, want)
		}
	}
	return s
}

func namedEvents() Scenario {
	return Scenario{
		Name: "named-events",
		Doc:  `Event names reach the client; a message without one is of type "message".`,
		Handler: send(
			core.Message{Event: "alpha", Data: "1"},
			core.Message{Event: "beta", Data: "2"},
			core.Message{Data: "3"},
			core.Message{Event: "message", Data: "4"},
			core.Message{Event: "alpha", Data: "5"},
		),
		Want: []client.Event{
			event("alpha", "1", ""), event("beta", "2", ""), message("3", ""), message("4", ""), event("alpha", "5", ""),
		},
		WantEnd: true,
	}
}

// closeEventHandler dispatches an event, a close event and one more message,
// reporting the error of the last to report (if not nil).
func closeEventHandler(report func(error)) Handler {
	return func(Request) (core.EventTarget, error) {
		t := core.NewTarget()
		go func() {
			dispatchAll(t, []core.Message{{Data: "before"}, {Event: "close", Data: "bye"}})
			err := t.Dispatch(core.Message{Data: "after close"})
			if report != nil {
				report(err)
			}
		}()
		return t, nil
	}
}

func closeEvent() Scenario {
	s := Scenario{
		Name: "close-event",
		Doc: `A message whose event is "close" is written and then ends the response (no Close call needed);
the producer's later Dispatch fails with core.ErrClosed and the target's Done closes with no error.`,
		Handler: closeEventHandler(nil),
		Want:    []client.Event{message("before", ""), event("close", "bye", "")},
		WantEnd: true,
	}
	s.Run = func(t testing.TB, env *Env) {
		errc := make(chan error, 1)
		targets := make(chan *core.Target, 1)
		h := closeEventHandler(func(err error) { errc <- err })
		s := s
		s.Handler = func(r Request) (core.EventTarget, error) {
			tg, err := h(r)
			select {
			case targets <- tg.(*core.Target):
			default:
			}
			return tg, err
		}
		s.Check(t, env)
		if err := receive(t, errc, time.Second, "Dispatch after the close event"); !errors.Is(err, core.ErrClosed) {
			t.Errorf("Dispatch after the close event: got %v; want core.ErrClosed", err)
		}
		tg := receive(t, targets, time.Second, "the target")
		waitDone(t, tg, time.Second, "the response ended")
		if err := tg.Err(); err != nil {
			t.Errorf("target.Err() after a close event: got %v; want nil", err)
		}
	}
	return s
}

func keepOpenOnClose() Scenario {
	return Scenario{
		Name: "keep-open-on-close",
		Doc:  `With core.KeepOpenOnClose, an event named "close" is an ordinary event: the stream goes on until Close.`,
		Handler: sendWith([]core.TargetOption{core.KeepOpenOnClose()},
			core.Message{Event: "close", Data: "not the end"},
			core.Message{Data: "after"},
		),
		Want:    []client.Event{event("close", "not the end", ""), message("after", "")},
		WantEnd: true,
	}
}

// jsonPayload is the struct the json-object scenario sends.
type jsonPayload struct {
	Name  string   `json:"name"`
	Count int      `json:"count"`
	Tags  []string `json:"tags"`
	Note  string   `json:"note,omitempty"`
}

func jsonObject() Scenario {
	return Scenario{
		Name: "json-object",
		Doc: `Data of any other type is sent as its JSON encoding (Danet's object data), on one line: a newline
inside a string is escaped by JSON.`,
		Handler: send(
			core.Message{Data: jsonPayload{Name: "ssekit", Count: 3, Tags: []string{"a", "b"}, Note: "line1\nline2"}},
			core.Message{Event: "map", Data: map[string]any{"b": []any{true, nil}, "a": 1.5}},
			core.Message{Data: 42},
		),
		Want: []client.Event{
			message(`{"name":"ssekit","count":3,"tags":["a","b"],"note":"line1\nline2"}`, ""),
			event("map", `{"a":1.5,"b":[true,null]}`, ""),
			message("42", ""),
		},
		WantEnd: true,
	}
}

func bytesData() Scenario {
	return Scenario{
		Name: "bytes-data",
		Doc:  `[]byte data is sent as is, like a string, split into lines.`,
		Handler: send(
			core.Message{Data: []byte("bytes data")},
			core.Message{Data: []byte("two\nlines")},
			core.Message{Data: []byte{}},
		),
		Want:    []client.Event{message("bytes data", ""), message("two\nlines", ""), message("", "")},
		WantEnd: true,
	}
}

func rawJSONData() Scenario {
	return Scenario{
		Name: "raw-json-data",
		Doc:  `json.RawMessage data is sent as is (not re-encoded as a JSON string), multi-line JSON included.`,
		Handler: send(
			core.Message{Data: json.RawMessage(`{"a":1}`)},
			core.Message{Data: json.RawMessage("{\n  \"a\": [1, 2]\n}")},
		),
		Want:    []client.Event{message(`{"a":1}`, ""), message("{\n  \"a\": [1, 2]\n}", "")},
		WantEnd: true,
	}
}

func multiline(name, eol string) Scenario {
	return Scenario{
		Name: name,
		Doc: `Multi-line data with ` + strconv.Quote(eol) + ` line breaks: every break starts a new data line
(an unsplit CR would let data inject fields), and the client joins the lines with LF, so CR and CRLF
arrive as LF.`,
		Handler: send(
			core.Message{Data: "a" + eol + "b" + eol + "c"},
			core.Message{Data: "x" + eol + eol + "y"},
			core.Message{Data: "event: injected" + eol + "data: evil" + eol + eol + "id: 666"},
		),
		Want: []client.Event{
			message("a\nb\nc", ""),
			message("x\n\ny", ""),
			message("event: injected\ndata: evil\n\nid: 666", ""),
		},
		WantEnd: true,
	}
}

func leadingSpaces() Scenario {
	return Scenario{
		Name: "leading-spaces",
		Doc: `Leading spaces survive: one space always follows the colon, so the client removes only that one
(data, event name and id alike).`,
		Handler: send(
			core.Message{Data: "  x"},
			core.Message{Data: " "},
			core.Message{Data: "\tx"},
			core.Message{Event: " spaced", ID: " 7", Data: " a\n  b"},
		),
		Want: []client.Event{
			message("  x", ""), message(" ", ""), message("\tx", ""), event(" spaced", " a\n  b", " 7"),
		},
		WantEnd: true,
	}
}

func emptyData() Scenario {
	return Scenario{
		Name: "empty-data",
		Doc: `Empty data still dispatches an event (it is sent as "data: "), and so does a message with only an
id or only an event name.`,
		Handler: send(
			core.Message{Data: ""},
			core.Message{Event: "ping"},
			core.Message{ID: "5"},
			core.Message{Data: "end"},
		),
		Want:    []client.Event{message("", ""), event("ping", "", ""), message("", "5"), message("end", "5")},
		WantEnd: true,
	}
}

func trailingNewline() Scenario {
	return Scenario{
		Name: "trailing-newline",
		Doc:  `A trailing line break in data survives (sent as an extra empty data line), as do several.`,
		Handler: send(
			core.Message{Data: "x\n"},
			core.Message{Data: "\n"},
			core.Message{Data: "x\n\n"},
			core.Message{Data: "x\r"},
		),
		Want:    []client.Event{message("x\n", ""), message("\n", ""), message("x\n\n", ""), message("x\n", "")},
		WantEnd: true,
	}
}

func unicodeData() Scenario {
	return Scenario{
		Name: "unicode",
		Doc:  `UTF-8 arrives intact: accents, CJK, emoji, right-to-left text and NUL in data; non-ASCII names and ids.`,
		Handler: send(
			core.Message{Data: "héllo wörld"},
			core.Message{Data: "日本語のテキスト"},
			core.Message{Data: "👋🌍 🏳️‍🌈"},
			core.Message{Data: "שלום עולם مرحبا"},
			core.Message{Data: "a\x00b"},
			core.Message{Event: "événement", ID: "ïd-✓", Data: "ok"},
		),
		Want: []client.Event{
			message("héllo wörld", ""),
			message("日本語のテキスト", ""),
			message("👋🌍 🏳️‍🌈", ""),
			message("שלום עולם مرحبا", ""),
			message("a\x00b", ""),
			event("événement", "ok", "ïd-✓"),
		},
		WantEnd: true,
	}
}

func largePayload() Scenario {
	line := strings.Repeat("x", 1<<20)
	lines := strings.Repeat(strings.Repeat("y", 63)+"\n", 1<<14) // 1 MiB, ending with LF
	return Scenario{
		Name:    "large-payload",
		Doc:     `A 1 MiB single-line event, then 1 MiB of 64-byte lines, arrive intact.`,
		Handler: send(core.Message{ID: "1", Data: line}, core.Message{ID: "2", Data: lines}),
		Want:    []client.Event{message(line, "1"), message(lines, "2")},
		WantEnd: true,
	}
}

func comments() Scenario {
	s := Scenario{
		Name: "comments",
		Doc: `A multi-line comment becomes comment lines only, whatever its line breaks: it never dispatches an
event nor sets a field (clients ignore comments; the following event is untouched).`,
		Handler: send(
			core.Message{Comment: "a\nb\revent: injected\r\ndata: evil"},
			core.Message{Data: "after"},
		),
		Want:    []client.Event{message("after", "")},
		WantEnd: true,
	}
	s.Run = func(t testing.TB, env *Env) {
		st := s.Check(t, env)
		var got []string
		for _, c := range st.Comments {
			if c != "" { // a heartbeat
				got = append(got, c)
			}
		}
		if want := []string{" a", " b", " event: injected", " data: evil"}; !slices.Equal(got, want) {
			t.Errorf("comments: got %q; want %q", got, want)
		}
	}
	return s
}

// badMessages are messages the standard cannot carry, with the check their
// Dispatch error must pass.
var badMessages = []struct {
	name  string
	m     core.Message
	check func(error) bool
}{
	{"id-lf", core.Message{ID: "a\nb", Data: "x"}, isInvalidField},
	{"id-cr", core.Message{ID: "a\rb", Data: "x"}, isInvalidField},
	{"id-nul", core.Message{ID: "a\x00", Data: "x"}, isInvalidField},
	{"event-cr", core.Message{Event: "x\ry", Data: "x"}, isInvalidField},
	{"event-lf", core.Message{Event: "x\ny", Data: "x"}, isInvalidField},
	{"retry-negative", core.Message{Retry: -1, Data: "x"}, isInvalidField},
	{"data-invalid-utf8", core.Message{Data: "ok \xff\xfe"}, isInvalidField},
	{"bytes-invalid-utf8", core.Message{Data: []byte{'a', 0xc3}}, isInvalidField},
	{"data-channel", core.Message{Data: make(chan int)}, isJSONError},
}

func isInvalidField(err error) bool { return errors.Is(err, core.ErrInvalidField) }

func isJSONError(err error) bool {
	var ute *json.UnsupportedTypeError
	return errors.As(err, &ute)
}

func badInput() Scenario {
	var want []client.Event
	for _, b := range badMessages {
		want = append(want, event("result", "refused "+b.name, ""))
	}
	return Scenario{
		Name: "bad-input",
		Doc: `Dispatch refuses what the standard cannot carry (CR, LF or NUL in an id, CR or LF in an event name,
a negative retry, invalid UTF-8, data JSON cannot encode) with an error matching core.ErrInvalidField (or
the JSON error), writes nothing of it, and the stream goes on. The handler reports each outcome as a
"result" event.`,
		Handler: func(Request) (core.EventTarget, error) {
			t := core.NewTarget()
			go func() {
				defer t.Close()
				for _, b := range badMessages {
					res := "refused " + b.name
					if err := t.Dispatch(b.m); !b.check(err) {
						res = b.name + ": Dispatch returned " + errString(err) + "; want it refused"
					}
					if t.Dispatch(core.Message{Event: "result", Data: res}) != nil {
						return
					}
				}
			}()
			return t, nil
		},
		Want:    want,
		WantEnd: true,
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return strconv.Quote(err.Error())
}
