package core_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/ssekit/core"
)

func TestAppendMessage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		m    core.Message
		want string
	}{
		{"danet", core.Message{ID: "0", Event: "hello", Data: "world", Retry: time.Second},
			"id: 0\nevent: hello\nretry: 1000\ndata: world\n\n"},
		{"data only", core.Message{Data: "x"}, "data: x\n\n"},
		{"empty data", core.Message{Data: ""}, "data: \n\n"},
		{"nil data with event", core.Message{Event: "ping"}, "event: ping\ndata: \n\n"},
		{"nil data with id", core.Message{ID: "7"}, "id: 7\ndata: \n\n"},
		{"lf", core.Message{Data: "a\nb"}, "data: a\ndata: b\n\n"},
		{"cr", core.Message{Data: "a\rb"}, "data: a\ndata: b\n\n"},
		{"crlf", core.Message{Data: "a\r\nb"}, "data: a\ndata: b\n\n"},
		{"mixed", core.Message{Data: "a\r\rb\n\r\nc"}, "data: a\ndata: \ndata: b\ndata: \ndata: c\n\n"},
		{"trailing newline", core.Message{Data: "a\n"}, "data: a\ndata: \n\n"},
		{"only newline", core.Message{Data: "\n"}, "data: \ndata: \n\n"},
		{"trailing cr", core.Message{Data: "a\r"}, "data: a\ndata: \n\n"},
		{"leading spaces", core.Message{Data: "  x", Event: " e"}, "event:  e\ndata:   x\n\n"},
		{"field injection", core.Message{Data: "x\r\nevent: evil\rid: 9"}, "data: x\ndata: event: evil\ndata: id: 9\n\n"},
		{"unicode", core.Message{Data: "héllo 世界 🎉\x00"}, "data: héllo 世界 🎉\x00\n\n"},
		{"bytes", core.Message{Data: []byte("a\nb")}, "data: a\ndata: b\n\n"},
		{"raw json", core.Message{Data: json.RawMessage(`{"a":1}`)}, "data: {\"a\":1}\n\n"},
		{"object", core.Message{Data: map[string]any{"msg": "hi\nthere", "n": 1}}, "data: {\"msg\":\"hi\\nthere\",\"n\":1}\n\n"},
		{"number", core.Message{Data: 42}, "data: 42\n\n"},
		{"comment", core.Message{Comment: "hi"}, ": hi\n"},
		{"multi-line comment", core.Message{Comment: "a\nb\revent: x\r\ndata: y"}, ": a\n: b\n: event: x\n: data: y\n"},
		{"comment and data", core.Message{Comment: "c", Data: "d"}, ": c\ndata: d\n\n"},
		{"retry only", core.Message{Retry: 1500 * time.Millisecond}, "retry: 1500\n"},
		{"retry truncated to ms", core.Message{Retry: 1500*time.Millisecond + 999*time.Microsecond, Data: "x"}, "retry: 1500\ndata: x\n\n"},
		{"retry 1 digit", core.Message{Retry: 7 * time.Millisecond, Data: "x"}, "retry: 7\ndata: x\n\n"},
		{"retry 2 digits", core.Message{Retry: 10 * time.Millisecond, Data: "x"}, "retry: 10\ndata: x\n\n"},
		{"retry 3 digits", core.Message{Retry: 205 * time.Millisecond, Data: "x"}, "retry: 205\ndata: x\n\n"},
		{"retry 4 digits", core.Message{Retry: 9999 * time.Millisecond, Data: "x"}, "retry: 9999\ndata: x\n\n"},
		{"retry 5 digits", core.Message{Retry: 10 * time.Second, Data: "x"}, "retry: 10000\ndata: x\n\n"},
		{"retry huge", core.Message{Retry: 1<<63 - 1, Data: "x"}, "retry: 9223372036854\ndata: x\n\n"},
		{"nul in data and event", core.Message{Event: "a\x00", Data: "b\x00"}, "event: a\x00\ndata: b\x00\n\n"},
		{"long one line", core.Message{Data: strings.Repeat("y", 300)}, "data: " + strings.Repeat("y", 300) + "\n\n"},
		{"close", core.Message{ID: "4", Event: "close", Data: "close", Retry: time.Second},
			"id: 4\nevent: close\nretry: 1000\ndata: close\n\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := core.AppendMessage([]byte("prefix"), c.m)
			if err != nil {
				t.Fatalf("AppendMessage: %v", err)
			}
			if string(got) != "prefix"+c.want {
				t.Fatalf("got %q; want %q", got, "prefix"+c.want)
			}
			var sb strings.Builder
			n, err := c.m.WriteTo(&sb)
			if err != nil || sb.String() != c.want || n != int64(len(c.want)) {
				t.Fatalf("WriteTo: got %q, %d, %v; want %q", sb.String(), n, err, c.want)
			}
		})
	}
}

func TestAppendMessageRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		m    core.Message
	}{
		{"lf in id", core.Message{ID: "a\nb", Data: "x"}},
		{"cr in id", core.Message{ID: "a\rb", Data: "x"}},
		{"nul in id", core.Message{ID: "a\x00b", Data: "x"}},
		{"lf in event", core.Message{Event: "a\nb", Data: "x"}},
		{"cr in event", core.Message{Event: "a\r", Data: "x"}},
		{"negative retry", core.Message{Retry: -time.Millisecond, Data: "x"}},
		{"sub-ms retry", core.Message{Retry: time.Microsecond, Data: "x"}},
		{"invalid utf-8 data", core.Message{Data: "a\xffb"}},
		{"invalid utf-8 bytes", core.Message{Data: []byte{0xc3}}},
		{"invalid utf-8 id", core.Message{ID: "\xff", Data: "x"}},
		{"invalid utf-8 event", core.Message{Event: "\xff", Data: "x"}},
		{"invalid utf-8 comment", core.Message{Comment: "\xff"}},
		{"empty message", core.Message{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := core.AppendMessage([]byte("keep"), c.m)
			if !errors.Is(err, core.ErrInvalidField) {
				t.Fatalf("got err %v; want ErrInvalidField", err)
			}
			if string(got) != "keep" {
				t.Fatalf("got %q; want dst unchanged", got)
			}
			var sb strings.Builder
			if n, err := c.m.WriteTo(&sb); err == nil || n != 0 || sb.Len() != 0 {
				t.Fatalf("WriteTo wrote %d bytes, err %v; want nothing and an error", n, err)
			}
		})
	}
}

// TestAppendMessageDataScan puts a line break or a non-ASCII byte at every
// position of data of every length around the word-at-a-time scan's edges.
func TestAppendMessageDataScan(t *testing.T) {
	t.Parallel()
	lines := strings.NewReplacer("\r\n", "\n", "\r", "\n")
	for n := 1; n <= 140; n++ {
		for i := range n {
			for _, c := range []string{"\n", "\r", "\r\n", "é", "\x7f", "\xff"} {
				data := strings.Repeat("a", i) + c + strings.Repeat("b", max(n-i-len(c), 0))
				m := core.Message{ID: "1", Event: "e", Data: data, Retry: time.Second}
				got, err := core.AppendMessage([]byte("p"), m)
				if c == "\xff" {
					if err == nil || err.Error() != "ssekit: invalid field Data: not valid UTF-8" || string(got) != "p" {
						t.Fatalf("%q: got %q, %v; want the Data UTF-8 error", data, got, err)
					}
					continue
				}
				want := "pid: 1\nevent: e\nretry: 1000\ndata: " +
					strings.ReplaceAll(lines.Replace(data), "\n", "\ndata: ") + "\n\n"
				if err != nil || string(got) != want {
					t.Fatalf("%q: got %q, %v; want %q", data, got, err, want)
				}
			}
		}
	}
}

func TestAppendMessageJSONError(t *testing.T) {
	t.Parallel()
	got, err := core.AppendMessage(nil, core.Message{Data: make(chan int)})
	var ute *json.UnsupportedTypeError
	if !errors.As(err, &ute) || len(got) != 0 {
		t.Fatalf("got %q, %v; want nothing and a json.UnsupportedTypeError", got, err)
	}
}

func TestAppendMessageAllocs(t *testing.T) {
	m := core.Message{ID: "42", Event: "update", Data: "line one\nline two\r\nline three", Retry: 3 * time.Second, Comment: "c"}
	buf := make([]byte, 0, 1024)
	for _, data := range []any{m.Data, []byte("bytes\ndata"), json.RawMessage(`{"a":1}`)} {
		m.Data = data
		if n := testing.AllocsPerRun(100, func() {
			buf, _ = core.AppendMessage(buf[:0], m)
		}); n != 0 {
			t.Errorf("AppendMessage with %T data: got %v allocs; want 0", data, n)
		}
	}
}

func BenchmarkAppendMessage(b *testing.B) {
	small := core.Message{ID: "1", Event: "tick", Data: "hello world", Retry: time.Second}
	lines := make([]string, 16)
	for i := range lines {
		lines[i] = strings.Repeat("x", 63)
	}
	big := core.Message{Data: strings.Join(lines, "\n")}
	for _, bc := range []struct {
		name string
		m    core.Message
	}{{"small", small}, {"1KiB-16lines", big}} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 0, 2048)
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = core.AppendMessage(buf[:0], bc.m)
			}
		})
	}
}
