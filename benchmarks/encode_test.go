package benchmarks

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	ginsse "github.com/gin-contrib/sse"
	gosse "github.com/tmaxmax/go-sse"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// encodeCase is one event to encode, given as its fields.
type encodeCase struct {
	name      string
	id, event string
	retry     time.Duration
	data      string
}

// bigData is 1 KiB of text in 16 lines.
var bigData = func() string {
	var b strings.Builder
	for i := range 16 {
		n := 63
		if i == 15 {
			n = 64
		}
		b.WriteString(strings.Repeat(string(rune('a'+i)), n))
		if i < 15 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}()

var encodeCases = []encodeCase{
	{name: "small", id: "42", event: "tick", retry: 3 * time.Second, data: `{"sym":"ACME","px":101.25}`},
	{name: "1KiB-16lines", data: bigData},
}

// encoders are the encoders compared; each appends or writes the event to a
// reused buffer. Messages that are plain values (ssekit, gin) are built once,
// as a broker would; go-sse's *Message is built per op, since AppendData is
// where it splits the data into lines.
var encoders = []struct {
	name string
	new  func(c encodeCase) func(buf *bytes.Buffer) // the returned func encodes once
}{
	{"ssekit-AppendMessage", func(c encodeCase) func(*bytes.Buffer) {
		m := core.Message{ID: c.id, Event: c.event, Retry: c.retry, Data: c.data}
		return func(buf *bytes.Buffer) {
			b, err := core.AppendMessage(buf.AvailableBuffer(), m)
			if err != nil {
				panic(err)
			}
			buf.Write(b)
		}
	}},
	{"ssekit-WriteTo", func(c encodeCase) func(*bytes.Buffer) {
		m := core.Message{ID: c.id, Event: c.event, Retry: c.retry, Data: c.data}
		return func(buf *bytes.Buffer) {
			if _, err := m.WriteTo(buf); err != nil {
				panic(err)
			}
		}
	}},
	{"gin-contrib-sse-Encode", func(c encodeCase) func(*bytes.Buffer) {
		ev := ginsse.Event{Id: c.id, Event: c.event, Retry: uint(c.retry.Milliseconds()), Data: c.data}
		return func(buf *bytes.Buffer) {
			if err := ginsse.Encode(buf, ev); err != nil {
				panic(err)
			}
		}
	}},
	{"go-sse-Message-WriteTo", func(c encodeCase) func(*bytes.Buffer) {
		return func(buf *bytes.Buffer) {
			m := &gosse.Message{Retry: c.retry}
			if c.id != "" {
				m.ID = gosse.ID(c.id)
			}
			if c.event != "" {
				m.Type = gosse.Type(c.event)
			}
			m.AppendData(c.data)
			if _, err := m.WriteTo(buf); err != nil {
				panic(err)
			}
		}
	}},
	{"naive-append", func(c encodeCase) func(*bytes.Buffer) {
		return func(buf *bytes.Buffer) {
			buf.Write(naiveAppend(buf.AvailableBuffer(), c.id, c.event, c.retry, c.data))
		}
	}},
	{"floor-append-precomputed", func(c encodeCase) func(*bytes.Buffer) {
		wire, err := core.AppendMessage(nil, core.Message{ID: c.id, Event: c.event, Retry: c.retry, Data: c.data})
		if err != nil {
			panic(err)
		}
		return func(buf *bytes.Buffer) {
			buf.Write(append(buf.AvailableBuffer(), wire...))
		}
	}},
}

// naiveAppend is the simplest encoder one could write with plain appends:
// no validation, LF line breaks only. It is the anchor of the design's
// "plain append encoder".
func naiveAppend(dst []byte, id, event string, retry time.Duration, data string) []byte {
	if id != "" {
		dst = append(dst, "id: "...)
		dst = append(dst, id...)
		dst = append(dst, '\n')
	}
	if event != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, event...)
		dst = append(dst, '\n')
	}
	if retry > 0 {
		dst = append(dst, "retry: "...)
		dst = strconv.AppendInt(dst, retry.Milliseconds(), 10)
		dst = append(dst, '\n')
	}
	for {
		i := strings.IndexByte(data, '\n')
		dst = append(dst, "data: "...)
		if i < 0 {
			dst = append(dst, data...)
			break
		}
		dst = append(dst, data[:i+1]...)
		data = data[i+1:]
	}
	return append(dst, '\n', '\n')
}

// BenchmarkEncode encodes one event per op into a reused buffer.
func BenchmarkEncode(b *testing.B) {
	for _, c := range encodeCases {
		for _, e := range encoders {
			b.Run(c.name+"/"+e.name, func(b *testing.B) {
				enc := e.new(c)
				var buf bytes.Buffer
				buf.Grow(4096)
				b.ReportAllocs()
				for b.Loop() {
					buf.Reset()
					enc(&buf)
				}
			})
		}
	}
}

// TestEncoders checks that every encoder benchmarked produces the same event.
func TestEncoders(t *testing.T) {
	for _, c := range encodeCases {
		for _, e := range encoders {
			var buf bytes.Buffer
			e.new(c)(&buf)
			evs := client.ParseAll(buf.Bytes())
			if len(evs) != 1 {
				t.Fatalf("%s/%s: %d events in %q", c.name, e.name, len(evs), buf.Bytes())
			}
			ev := evs[0]
			wantType := c.event
			if wantType == "" {
				wantType = "message"
			}
			if ev.Data != c.data || ev.Type != wantType || ev.LastEventID != c.id {
				t.Errorf("%s/%s: got %+v from %q", c.name, e.name, ev, buf.Bytes())
			}
		}
	}
}
