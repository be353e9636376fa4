package ssetest

import (
	"io"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/ssekit/core"
)

// Serve starts a loopback test server for a net/http-based adapter (Echo,
// Gin) whose GET /sse route serves h through the adapter's Handle with
// opts; config, when not nil, adjusts the server before it starts. The
// server is closed when the test ends.
type Serve func(t *testing.T, h func() (core.EventTarget, error), config func(*httptest.Server), opts ...core.Option) *httptest.Server

// Headers checks the response to a one-event stream as net/http's client
// sees it: 200, the three SSE headers exactly, no header but those and
// Date, no known length, net/http's chunked framing, one event then the end.
func Headers(t *testing.T, serve Serve) {
	ts := serve(t, func() (core.EventTarget, error) { return Send(core.Message{Data: "x"}) }, nil)
	resp, _ := Get(t, ts.Client(), ts.URL+"/sse", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d; want 200", resp.StatusCode)
	}
	want := map[string]string{
		"Content-Type":      "text/event-stream",
		"Cache-Control":     "no-cache",
		"X-Accel-Buffering": "no",
	}
	for k, v := range want {
		if got := resp.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("header %s: got %q; want %q", k, got, v)
		}
	}
	for k := range resp.Header {
		if _, ok := want[k]; !ok && k != "Date" {
			t.Errorf("unexpected header %s: %q", k, resp.Header[k])
		}
	}
	if resp.ContentLength != -1 {
		t.Errorf("ContentLength: got %d; want -1 (unknown)", resp.ContentLength)
	}
	// Transfer-Encoding is the server's own choice for HTTP/1.1; we set none.
	if !slices.Equal(resp.TransferEncoding, []string{"chunked"}) {
		t.Errorf("TransferEncoding: got %q; want [chunked] (from net/http)", resp.TransferEncoding)
	}
	if s := ReadStream(resp.Body, 10); s.Err != io.EOF || len(s.Events) != 1 {
		t.Errorf("stream: got %+v, %v; want one event and EOF", s.Events, s.Err)
	}
}

// RawHeaders reads the response header block off the wire while the target
// is still open and has nothing queued: the headers leave at once, with the
// status line "HTTP/1.1 200 OK" and exactly ChunkedHeaders (but Date), so no
// Content-Length, Connection or Keep-Alive.
func RawHeaders(t *testing.T, serve Serve) {
	targets := NewTargets(1)
	ts := serve(t, targets.New, nil, core.WithHeartbeat(time.Hour))
	conn, br := Dial(t, ts.URL, "GET", "/sse")
	tg := targets.Next(t)
	defer tg.Close()
	status, got := ReadHeaderLines(t, conn, br)
	if status != "HTTP/1.1 200 OK" {
		t.Errorf("status line: got %q", status)
	}
	if !slices.Equal(got, ChunkedHeaders) {
		t.Errorf("headers (but Date): got %q; want %q", got, ChunkedHeaders)
	}
}

// ClientDisconnect serves a stream whose producer dispatches every interval (never
// when interval is 0), lets the client read min events, then closes the
// client's connection and returns how long the server took to end the
// stream, failing the test after 1s or on an end other than EndedByClient.
func ClientDisconnect(t *testing.T, serve Serve, interval time.Duration, min int, opts ...core.Option) time.Duration {
	t.Helper()
	targets := NewTargets(1)
	ts := serve(t, func() (core.EventTarget, error) {
		tg, _ := targets.New()
		if interval > 0 {
			go Produce(tg.(*core.Target), "tick", interval)
		}
		return tg, nil
	}, nil, opts...)
	resp, cancel := Get(t, ts.Client(), ts.URL+"/sse", nil)
	tg := targets.Next(t)
	if s := ReadStream(resp.Body, min); len(s.Events) != min {
		t.Fatalf("got %d events (%v); want %d", len(s.Events), s.Err, min)
	}
	cancel() // closes the client's connection
	took := WaitDone(t, tg, time.Second)
	if err := tg.Err(); !EndedByClient(err) {
		t.Errorf("Err: got %v; want ErrClientGone or ErrWrite", err)
	}
	return took
}

// ClientStopsReading checks that a client that keeps its connection open but
// reads nothing is dropped by the per-write deadline (200ms) while a
// producer dispatches events of size bytes pause apart. The server's send
// buffers are shrunk (SmallBufListener), the client's receive buffer too.
func ClientStopsReading(t *testing.T, serve Serve, size int, pause time.Duration, opts ...core.Option) {
	targets := NewTargets(1)
	data := strings.Repeat("x", size)
	ts := serve(t, func() (core.EventTarget, error) {
		tg, _ := targets.New()
		go Produce(tg.(*core.Target), data, pause)
		return tg, nil
	}, func(ts *httptest.Server) { ts.Listener = SmallBufListener{ts.Listener} },
		append([]core.Option{core.WithWriteTimeout(200 * time.Millisecond)}, opts...)...)
	conn, _ := Dial(t, ts.URL, "", "")
	_ = conn.(interface{ SetReadBuffer(int) error }).SetReadBuffer(2048)
	WriteRequest(t, conn, "GET", "/sse")
	tg := targets.Next(t)
	d := WaitDone(t, tg, Timeout)
	t.Logf("client that stopped reading dropped after %v (reason: %v)", d, tg.Err())
	if err := tg.Err(); !EndedByClient(err) {
		t.Errorf("Err: got %v; want ErrClientGone or ErrWrite", err)
	}
}

// WriteTimeoutEarlyLate checks that http.Server.WriteTimeout (200ms) does not
// cut a healthy stream: an event at once, another 500ms later, then the end.
func WriteTimeoutEarlyLate(t *testing.T, serve Serve) {
	ts := serve(t, func() (core.EventTarget, error) {
		tg := core.NewTarget()
		_ = tg.Dispatch(core.Message{Data: "early"})
		go func() {
			timer := time.NewTimer(500 * time.Millisecond) // wall time past WriteTimeout is what is under test
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-tg.Done():
				return
			}
			_ = tg.Dispatch(core.Message{Data: "late"})
			tg.Close()
		}()
		return tg, nil
	}, func(ts *httptest.Server) { ts.Config.WriteTimeout = 200 * time.Millisecond })
	resp, _ := Get(t, ts.Client(), ts.URL+"/sse", nil)
	s := ReadStream(resp.Body, 10)
	if len(s.Events) != 2 || s.Events[1].Data != "late" || s.Err != io.EOF {
		t.Errorf("got %+v, %v; want events early, late and EOF", s.Events, s.Err)
	}
}

// CheckTicks reads the stream at url, served from Ticks(7, 100ms): seven
// events and a normal end, over at least 550ms.
func CheckTicks(t *testing.T, c *http.Client, url string) {
	t.Helper()
	start := time.Now()
	resp, _ := Get(t, c, url, nil)
	s := ReadStream(resp.Body, 10)
	if d := time.Since(start); len(s.Events) != 7 || s.Err != io.EOF || d < 550*time.Millisecond {
		t.Errorf("got %d events, %v, over %v; want 7 events and EOF over 600ms", len(s.Events), s.Err, d)
	}
}

// StartServer starts a loopback httptest server for h, with log as its
// ErrorLog (a framework may log there too); config, when not nil, adjusts
// the server before it starts. When the test ends it closes the server
// (waiting for every handler to return) and fails the test if anything was
// logged, such as "superfluous response.WriteHeader call".
func StartServer(t testing.TB, h http.Handler, log *LogBuffer, config func(*httptest.Server)) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ErrorLog = stdlog.New(log, "", 0)
	if config != nil {
		config(ts)
	}
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		if s := log.String(); s != "" {
			t.Errorf("server logged: %s", s)
		}
	})
	return ts
}
