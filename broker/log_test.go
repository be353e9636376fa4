package broker

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/ssekit/ssekit/core"
)

func TestLogObserver(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer // written only by this goroutine: the memory backend delivers synchronously
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	h := &hookBackend{Memory: NewMemory(MemoryOptions{})}
	b := newBroker(t, Options{Backend: h, Observer: LogObserver(log), QueueEvents: 1})
	s := subscribe(t, b, []string{"a"}, "")
	publish(t, b, "a", core.Message{Data: "1"})
	publish(t, b, "a", core.Message{Data: "2"}) // overflows
	s.Stop(nil)
	if _, err := b.Publish(t.Context(), "a", core.Message{Event: "bad\n"}); err == nil {
		t.Fatal("bad message published")
	}
	h.sink.Fail(errors.New("connection refused"))
	h.sink.(interface{ Recovered() }).Recovered()
	want := []string{
		`level=WARN msg="sse slow subscribers" topic=a dropped=1 delivered=0`,
		`level=WARN msg="sse publish failed" topic=a error=`,
		`level=ERROR msg="sse broker feed failed" error="connection refused"`,
		`level=INFO msg="sse broker feed recovered"`,
	}
	got := buf.String()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("got:\n%s\nwant a line with %s", got, w)
		}
	}
	if strings.Contains(got, "DEBUG") {
		t.Fatalf("got:\n%s\nwant no Debug records at the default level", got)
	}
}
