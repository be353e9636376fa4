package ssetest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// Server is a running test server for the checks below, written once for
// the fasthttp-based adapters (Fiber v2 and v3): GET /sse streams a target
// made by Targets.New, through the adapter's Handle (with the options each
// check names), and GET /ok answers "ok".
type Server struct {
	// Base is the base URL: http://127.0.0.1:port, or https:// with TLS.
	Base string
	// TLS is the client configuration that trusts the server, when Base is
	// https.
	TLS *tls.Config
	// Targets receives the targets the /sse route creates.
	Targets *Targets
}

// Dial opens a raw connection to s (over TLS when s.TLS is set) and sends a
// request for path with hdr (name, value pairs).
func (s Server) Dial(t testing.TB, method, path string, hdr ...string) (net.Conn, *bufio.Reader) {
	t.Helper()
	if s.TLS != nil {
		return DialTLS(t, s.Base, s.TLS, method, path, hdr...)
	}
	return Dial(t, s.Base, method, path, hdr...)
}

// closeEvent ends a stream normally, and closeFrame is how it is written.
var closeEvent = core.Message{Event: "close", Data: "bye"}

const closeFrame = "event: close\ndata: bye\n\n"

// readOK reads the response to GET /ok from br.
func readOK(t testing.TB, conn net.Conn, br *bufio.Reader) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("request after the stream on the same connection: %v", err)
	}
	if body := ReadAll(t, resp.Body); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("request after the stream: %d %q; want 200 ok", resp.StatusCode, body)
	}
}

// HeadersExact reads the response header block off the wire: the status
// line, exactly ChunkedHeaders (but Date), then a chunked body that carries
// an event and ends with the target.
func HeadersExact(t *testing.T, s Server) {
	conn, br := s.Dial(t, "GET", "/sse")
	tg := s.Targets.Next(t)
	status, got := ReadHeaderLines(t, conn, br)
	if status != "HTTP/1.1 200 OK" {
		t.Errorf("status line %q; want %q", status, "HTTP/1.1 200 OK")
	}
	if !slices.Equal(got, ChunkedHeaders) {
		t.Errorf("headers (but Date) %q; want %q", got, ChunkedHeaders)
	}
	if err := tg.Dispatch(core.Message{Data: "x"}); err != nil {
		t.Fatal(err)
	}
	tg.Close()
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(
		strings.NewReader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), br)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if body := ReadAll(t, resp.Body); body != "data: x\n\n" {
		t.Errorf("body %q; want %q", body, "data: x\n\n")
	}
}

// HeadersBeforeFirstEvent checks that the headers arrive within 1s with no
// event dispatched (route options: WithHeartbeat(time.Hour)), with no known
// length and no hop-by-hop headers, and that closing the target ends the
// stream with no event.
func HeadersBeforeFirstEvent(t *testing.T, s Server) {
	start := time.Now()
	resp, _ := Get(t, HTTPClient(t), s.Base+"/sse", nil)
	elapsed := time.Since(start)
	tg := s.Targets.Next(t)
	if elapsed > time.Second {
		t.Errorf("headers took %v with no event dispatched", elapsed)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("got %d %q; want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.ContentLength != -1 {
		t.Errorf("ContentLength %d; want -1 (unknown)", resp.ContentLength)
	}
	for _, h := range []string{"Connection", "Keep-Alive", "Content-Length"} {
		if v, ok := resp.Header[h]; ok {
			t.Errorf("header %s: %q; want none", h, v)
		}
	}
	tg.Close()
	if evs := Events(t, resp.Body); len(evs) != 0 {
		t.Errorf("events %v; want none", evs)
	}
}

// ResumeAfter returns a target whose producer, after the handler returned,
// dispatches "resume after " + id and ends the stream: a handler passes it
// the adapter's LastEventID, to check that it outlives the request's buffers.
func ResumeAfter(id string) *core.Target {
	tg := core.NewTarget()
	go func() {
		defer tg.Close()
		_ = tg.Dispatch(core.Message{Data: "resume after " + id})
	}()
	return tg
}

// LastEventIDs checks a route at url served from ResumeAfter(LastEventID):
// for a Last-Event-ID of "41", none, and "abc", one event that carries it.
func LastEventIDs(t *testing.T, url string) {
	c := HTTPClient(t)
	for _, id := range []string{"41", "", "abc"} {
		var hdr http.Header
		if id != "" {
			hdr = http.Header{"Last-Event-Id": {id}}
		}
		resp, _ := Get(t, c, url, hdr)
		if evs := Events(t, resp.Body); len(evs) != 1 || evs[0].Data != "resume after "+id {
			t.Errorf("Last-Event-ID %q: events %+v", id, evs)
		}
	}
}

// Disconnect reads from the stream until the first event (with producer,
// an event every 5ms) or only the headers, closes the connection and
// returns how long until the stream ended. Without traffic the end must be
// core.ErrClientGone (the connection's watch saw it); under traffic a failed
// write (core.ErrWrite) may come first.
func Disconnect(t *testing.T, s Server, producer bool) time.Duration {
	t.Helper()
	conn, br := s.Dial(t, "GET", "/sse")
	tg := s.Targets.Next(t)
	if producer {
		go Produce(tg, "tick", 5*time.Millisecond)
	}
	resp := ReadResponse(t, conn, br)
	if producer {
		ev, err := client.NewParser(resp.Body).Next()
		if err != nil || ev.Data != "tick" {
			t.Fatalf("first event %+v, %v", ev, err)
		}
	}
	conn.Close()
	d := WaitDone(t, tg, time.Second)
	if !errors.Is(tg.Err(), core.ErrClientGone) && !(producer && errors.Is(tg.Err(), core.ErrWrite)) {
		t.Errorf("Err %v; want ErrClientGone", tg.Err())
	}
	return d
}

// StalledReader checks that a client that never reads is dropped by the
// per-write deadline: route options WithHeartbeat(time.Hour),
// WithWriteTimeout(200ms), targets made WithQueueBytes(256 KiB). The end
// must be core.ErrWrite with a deadline error, within 10s.
func StalledReader(t *testing.T, s Server) {
	conn, _ := s.Dial(t, "GET", "/sse") // never reads
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10)
	}
	tg := s.Targets.Next(t)
	big := strings.Repeat("x", 64<<10)
	produced := make(chan int, 1)
	go func() {
		n := 0
		for ; n < 100000 && tg.Dispatch(core.Message{Data: big}) == nil; n++ {
		}
		produced <- n
	}()
	d := WaitDone(t, tg, 10*time.Second)
	n := <-produced
	t.Logf("stream ended %v after the first dispatch, %d events of 64 KiB accepted, reason: %v", d, n, tg.Err())
	if !errors.Is(tg.Err(), core.ErrWrite) || !errors.Is(tg.Err(), os.ErrDeadlineExceeded) {
		t.Errorf("Err %v; want ErrWrite and a deadline error", tg.Err())
	}
}

// KeepAliveAfterStream checks that the last write deadline of a stream is
// cleared for the next request on its connection: /sse (route option
// WithWriteTimeout(50ms)) gets one event "x" and ends by itself; 150ms later
// a request for /ok on the same connection is answered.
func KeepAliveAfterStream(t *testing.T, s Server) {
	conn, br := s.Dial(t, "GET", "/sse")
	tg := s.Targets.Next(t)
	if err := tg.Dispatch(core.Message{Data: "x"}); err != nil {
		t.Fatal(err)
	}
	tg.Close()
	resp := ReadResponse(t, conn, br)
	if body := ReadAll(t, resp.Body); body != "data: x\n\n" {
		t.Fatalf("body %q", body)
	}
	// Let the stream's last write deadline pass: the server must have
	// cleared it, or the next response on this connection fails.
	<-time.After(150 * time.Millisecond)
	WriteRequest(t, conn, "GET", "/ok")
	readOK(t, conn, br)
}

// Head checks that a HEAD request for /sse (routed to the GET handler)
// answers the SSE headers, and that the stream then ends with core.ErrWrite.
func Head(t *testing.T, s Server) {
	req, err := http.NewRequest(http.MethodHead, s.Base+"/sse", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := HTTPClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("HEAD: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	tg := s.Targets.Next(t)
	WaitDone(t, tg, time.Second)
	if !errors.Is(tg.Err(), core.ErrWrite) {
		t.Errorf("Err %v; want ErrWrite", tg.Err())
	}
}

// GroupShutdown checks that g.Shutdown (route options WithGroup(g),
// WithHeartbeat(time.Hour)) ends a stream with core.ErrShutdown after what
// was queued.
func GroupShutdown(t *testing.T, s Server, g *core.Group) {
	resp, _ := Get(t, HTTPClient(t), s.Base+"/sse", nil)
	tg := s.Targets.Next(t)
	for range 100 { // bounded wait for the stream to join the group
		if g.Len() == 1 {
			break
		}
		<-time.After(10 * time.Millisecond)
	}
	if err := tg.Dispatch(core.Message{Data: "queued"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(tg.Err(), core.ErrShutdown) {
		t.Errorf("Err %v; want ErrShutdown", tg.Err())
	}
	if evs := Events(t, resp.Body); len(evs) != 1 || evs[0].Data != "queued" {
		t.Errorf("events %+v; want the queued one, then the end", evs)
	}
}

// ChurnIdle has n clients (n at most the Targets' capacity) each open an
// idle stream (route option WithHeartbeat(-1)) and close the connection:
// every stream must have ended with core.ErrClientGone 2s after the last
// close.
func ChurnIdle(t *testing.T, s Server, n int) {
	start := time.Now()
	for range n {
		conn, br := s.Dial(t, "GET", "/sse")
		ReadResponse(t, conn, br)
		conn.Close()
	}
	closed := time.Now()
	for i := range n {
		tg := s.Targets.Next(t)
		WaitDone(t, tg, time.Until(closed.Add(2*time.Second)))
		if !errors.Is(tg.Err(), core.ErrClientGone) {
			t.Fatalf("stream %d: Err %v; want ErrClientGone", i, tg.Err())
		}
	}
	t.Logf("%d cycles in %v; every stream had ended %v after the last close",
		n, closed.Sub(start), time.Since(closed))
}

// KeepAliveAfterIdleStream checks that the connection watch does not break
// keep-alive: an idle stream (route option WithHeartbeat(-1)) outlives
// idle, ends normally on a close event, and the connection then serves
// /ok. With idleTimeout > 0 (the server's IdleTimeout), the server must then
// close the kept-alive connection within 2s.
func KeepAliveAfterIdleStream(t *testing.T, s Server, idle time.Duration, idleTimeout time.Duration) {
	conn, br := s.Dial(t, "GET", "/sse")
	tg := s.Targets.Next(t)
	resp := ReadResponse(t, conn, br)
	StillRunning(t, tg, idle, "while idle")
	if err := tg.Dispatch(closeEvent); err != nil {
		t.Fatal(err)
	}
	if body := ReadAll(t, resp.Body); body != closeFrame {
		t.Fatalf("body %q; want %q", body, closeFrame)
	}
	WaitDone(t, tg, time.Second)
	if tg.Err() != nil {
		t.Errorf("Err %v; want nil (a normal end)", tg.Err())
	}
	WriteRequest(t, conn, "GET", "/ok")
	readOK(t, conn, br)
	if idleTimeout <= 0 {
		return
	}
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("idle connection: %v; want io.EOF (closed by the server's IdleTimeout)", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("idle connection closed after %v; want about %v", d, idleTimeout)
	}
}

// DisconnectAfterReadTimeout checks that a client that closes an idle
// stream (route option WithHeartbeat(-1)) after the server's ReadTimeout
// (under 300ms) has passed is noticed at once, with core.ErrClientGone.
func DisconnectAfterReadTimeout(t *testing.T, s Server) {
	conn, br := s.Dial(t, "GET", "/sse")
	tg := s.Targets.Next(t)
	ReadResponse(t, conn, br)
	StillRunning(t, tg, 300*time.Millisecond, "while idle")
	conn.Close()
	t.Logf("Done %v after the client closed", WaitDone(t, tg, time.Second))
	if !errors.Is(tg.Err(), core.ErrClientGone) {
		t.Errorf("Err %v; want ErrClientGone", tg.Err())
	}
}

// PipelinedDuringStream checks a client that pipelines GET /ok while an
// idle stream (route option WithHeartbeat(-1)) runs: the stream goes on (the
// watch only peeks) and ends normally, and /ok is served after it on the
// same connection.
func PipelinedDuringStream(t *testing.T, s Server) {
	conn, br := s.Dial(t, "GET", "/sse")
	tg := s.Targets.Next(t)
	resp := ReadResponse(t, conn, br)
	WriteRequest(t, conn, "GET", "/ok")
	StillRunning(t, tg, 200*time.Millisecond, "on a pipelined request")
	if err := tg.Dispatch(core.Message{Data: "after"}); err != nil {
		t.Fatal(err)
	}
	if err := tg.Dispatch(closeEvent); err != nil {
		t.Fatal(err)
	}
	if body, want := ReadAll(t, resp.Body), "data: after\n\n"+closeFrame; body != want {
		t.Fatalf("body %q; want %q", body, want)
	}
	WaitDone(t, tg, time.Second)
	if tg.Err() != nil {
		t.Errorf("Err %v; want nil (a normal end)", tg.Err())
	}
	readOK(t, conn, br)
}

// PipelinedDuringStreamTLS checks the same over TLS (s.TLS set), where bytes
// that arrive during a stream may be the client's close_notify: the stream
// ends with core.ErrClientGone and no event, and the pipelined request is
// then served on the same connection, intact.
func PipelinedDuringStreamTLS(t *testing.T, s Server) {
	conn, br := s.Dial(t, "GET", "/sse")
	tg := s.Targets.Next(t)
	resp := ReadResponse(t, conn, br)
	WriteRequest(t, conn, "GET", "/ok")
	if body := ReadAll(t, resp.Body); body != "" {
		t.Errorf("body %q; want none", body)
	}
	WaitDone(t, tg, time.Second)
	if !errors.Is(tg.Err(), core.ErrClientGone) {
		t.Errorf("Err %v; want ErrClientGone", tg.Err())
	}
	readOK(t, conn, br)
}
