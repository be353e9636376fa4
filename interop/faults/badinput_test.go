package faults

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/ssekit/broker"
	redisbroker "github.com/ssekit/ssekit/broker/redis"
	"github.com/ssekit/ssekit/core"
)

// badIDs are Last-Event-ID values a client may send; nil means no header.
func badIDs(otherTopic string) map[string]*string {
	s := func(v string) *string { return &v }
	return map[string]*string{
		"absent":        nil,
		"empty":         s(""),
		"64KiB":         s(strings.Repeat("7", 64*kiB)),
		"control bytes": s("1-\x01\x02\x7f"),
		"NUL":           s("1\x00-0"),
		"negative":      s("-5"),
		"negative seq":  s("1-5-"),
		"far future":    s("99999999999999-0"),
		"overflow":      s("18446744073709551616-0"),
		"zero":          s("0-0"),
		"other topic":   s(otherTopic),
		"non-UTF-8":     s("\xff\xfe-\xc0"),
		"tab and space": s(" \t1-0 \t"),
	}
}

// badTopics are topic names a client may ask for.
var badTopics = map[string]string{
	"empty":         "",
	"10KB":          strings.Repeat("t", 10_000),
	"NUL":           "a\x00b",
	"control bytes": "\x01\x1f\x7f",
	"CRLF":          "a\r\nb",
	"open brace":    "{",
	"close brace":   "}",
	"hash tag":      "{ssekit}:t:x",
	"star":          "*",
	"colon":         ":",
	"spaces":        " a b ",
	"non-UTF-8":     "\xff\xfe",
	"other prefix":  "}:evil:{",
	"dots":          "../../x",
}

// TestBadLastEventIDAndTopics subscribes to a broker topic over HTTP with
// every bad Last-Event-ID and every bad topic name, on net/http and Fiber
// with the memory backend and on net/http with the Redis backend. Each
// request must get a 4xx answer or a stream that carries an event published
// after it began (a reset signal before it is fine); never a 5xx, a panic or
// a hang. With Redis, every key is under the configured prefix afterwards.
func TestBadLastEventIDAndTopics(t *testing.T) {
	for _, tc := range []struct{ adapter, backend string }{
		{"nethttp", "memory"}, {"fiber", "memory"}, {"nethttp", "redis"}, {"nbio", "memory"}, {"nbio", "redis"},
	} {
		t.Run(tc.adapter+"/"+tc.backend, func(t *testing.T) {
			o := broker.Options{}
			const prefix = "faults"
			var keysBefore []string
			var scan func() []string
			if tc.backend == "redis" {
				r := startRedis(t)
				c := newRedisClient(t, r)
				o.Backend = redisbroker.New(c, redisbroker.Options{Prefix: prefix, Block: time.Second})
				scan = func() []string { return scanKeys(t, c) }
			}
			b := newBroker(t, o)
			e := newEnds()
			route := func(r request) (core.EventTarget, error) {
				topic := "news"
				if v, ok := r.Query["topic"]; ok {
					topic = v[0]
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				return b.Subscribe(ctx, []string{topic}, r.LastEventID)
			}
			base := adapterNamed(tc.adapter).serve(t, serverConfig{ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second},
				route, e.option(), core.WithWriteTimeout(time.Second))
			other, err := b.Publish(context.Background(), "other", core.Message{Data: "elsewhere"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Publish(context.Background(), "news", core.Message{Data: "before"}); err != nil {
				t.Fatal(err)
			}
			if scan != nil {
				keysBefore = scan()
			}
			goroutines, heap := settle()
			probe := 0
			try := func(t *testing.T, topic string, last *string) {
				probe++
				path := "/sse?topic=" + url.QueryEscape(topic)
				c := dial(t, base)
				defer reset(c)
				var req strings.Builder
				req.WriteString("GET " + path + " HTTP/1.1\r\nHost: test\r\n")
				if last != nil {
					req.WriteString("Last-Event-ID: " + *last + "\r\n")
				}
				req.WriteString("\r\n")
				_ = c.SetWriteDeadline(time.Now().Add(wait))
				if _, err := io.WriteString(c, req.String()); err != nil {
					t.Logf("the server closed the connection while the request was written: %v", err)
					return
				}
				br := bufio.NewReader(c)
				resp, err := readResponseHead(c, br, wait)
				if err != nil {
					t.Fatalf("no answer: %v", err)
				}
				switch {
				case resp.status >= 400 && resp.status < 500:
					t.Logf("answered %d", resp.status)
					return
				case resp.status != 200:
					t.Fatalf("answered %d; want 4xx or a stream", resp.status)
				}
				if ct := resp.header.Get("Content-Type"); ct != "text/event-stream" {
					t.Fatalf("200 with Content-Type %q", ct)
				}
				data := "probe-" + string(rune('a'+probe%26)) + strings.Repeat("!", probe)
				if _, err := b.Publish(context.Background(), topic, core.Message{Data: data}); err != nil {
					t.Fatalf("stream opened, but Publish to the same topic failed: %v", err)
				}
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				var got []byte
				buf := make([]byte, 4096)
				for !bytes.Contains(got, []byte("data: "+data+"\n")) {
					n, err := br.Read(buf)
					got = append(got, buf[:n]...)
					if err != nil {
						t.Fatalf("stream: the event published after it began did not arrive: %v (got %q)", err, truncate(string(got), 300))
					}
				}
				reset := bytes.Contains(got, []byte("event: "+broker.ResetEvent+"\n"))
				t.Logf("a stream (reset signal first: %v)", reset)
			}
			for name, last := range badIDs(other) {
				t.Run("id="+name, func(t *testing.T) { try(t, "news", last) })
			}
			for name, topic := range badTopics {
				t.Run("topic="+name, func(t *testing.T) { try(t, topic, nil) })
				t.Run("topic="+name+"+id", func(t *testing.T) { s := "1-0"; try(t, topic, &s) })
			}
			deadline := time.Now().Add(wait)
			for b.Len() > 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if b.Len() != 0 {
				t.Errorf("%d subscriptions left after every client left", b.Len())
			}
			if strings.Contains(e.String(), "PANIC") {
				t.Errorf("a stream panicked: %s", e)
			}
			if scan != nil {
				after := scan()
				for _, k := range after {
					if !strings.HasPrefix(k, "{"+prefix+"}:") {
						t.Errorf("key outside the prefix {%s}: %s", prefix, quote(k))
					}
				}
				t.Logf("Redis keys: %d before the bad requests, %d after, all under {%s}:", len(keysBefore), len(after), prefix)
			}
			waitGoroutines(t, "after the bad requests", goroutines, 5, wait)
			checkHeap(t, "after the bad requests", heap, 16*miB)
		})
	}
}
