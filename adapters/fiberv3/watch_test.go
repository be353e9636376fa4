package fiberv3sse_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gofiber/fiber/v3"

	fiberv3sse "github.com/ssekit/ssekit/adapters/fiberv3"
	"github.com/ssekit/ssekit/core"
)

// closeEvent ends a stream normally.
var closeEvent = core.Message{Event: "close", Data: "bye"}

const closeFrame = "event: close\ndata: bye\n\n"

// readStream reads a stream response's head and returns it, with its body.
func readStream(t *testing.T, conn net.Conn, br *bufio.Reader) *http.Response {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return resp
}

// readOK reads the response to GET /ok from br.
func readOK(t *testing.T, conn net.Conn, br *bufio.Reader) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("request after the stream on the same connection: %v", err)
	}
	if body := readAll(t, resp.Body); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("request after the stream: %d %q; want 200 ok", resp.StatusCode, body)
	}
}

// stillRunning fails the test if tg ends within d.
func stillRunning(t *testing.T, tg *core.Target, d time.Duration, why string) {
	t.Helper()
	select {
	case <-tg.Done():
		t.Fatalf("stream ended %s: %v", why, tg.Err())
	case <-time.After(d):
	}
}

func okRoute(c fiber.Ctx) error { return c.SendString("ok") }

// 1000 clients that each open an idle stream and close the connection leave
// no stream behind, with no heartbeat to notice them.
func TestChurnIdle(t *testing.T) {
	const n = 1000
	app := newApp()
	ts := make(targets, n)
	app.Get("/sse", fiberv3sse.Handle(ts.handler(), core.WithHeartbeat(-1)))
	base := serve(t, app)

	start := time.Now()
	for range n {
		conn, br := rawConn(t, base, "GET", "/sse")
		readStream(t, conn, br)
		conn.Close()
	}
	closed := time.Now()
	for i := range n {
		tg := ts.next(t)
		waitDone(t, tg, time.Until(closed.Add(2*time.Second)))
		if !errors.Is(tg.Err(), core.ErrClientGone) {
			t.Fatalf("stream %d: Err %v; want ErrClientGone", i, tg.Err())
		}
	}
	t.Logf("%d cycles in %v; every stream had ended %v after the last close",
		n, closed.Sub(start), time.Since(closed))
}

// The watch does not break keep-alive: after an idle stream that ends
// normally, the connection serves the next request, and fasthttp's own read
// deadlines apply again. The stream outlives the server's ReadTimeout, which
// is the request's, not the response's.
func TestKeepAliveAfterIdleStream(t *testing.T) {
	app := newApp(fiber.Config{ReadTimeout: 100 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
	ts := make(targets, 1)
	app.Get("/sse", fiberv3sse.Handle(ts.handler(), core.WithHeartbeat(-1)))
	app.Get("/ok", okRoute)
	base := serve(t, app)

	conn, br := rawConn(t, base, "GET", "/sse")
	tg := ts.next(t)
	resp := readStream(t, conn, br)
	stillRunning(t, tg, 300*time.Millisecond, "while idle")
	if err := tg.Dispatch(closeEvent); err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp.Body); body != closeFrame {
		t.Fatalf("body %q; want %q", body, closeFrame)
	}
	waitDone(t, tg, time.Second)
	if tg.Err() != nil {
		t.Errorf("Err %v; want nil (a normal end)", tg.Err())
	}

	writeRequest(t, conn, "GET", "/ok")
	readOK(t, conn, br)

	// fasthttp's IdleTimeout closes the kept-alive connection again.
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("idle connection: %v; want io.EOF (closed by the server's IdleTimeout)", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("idle connection closed after %v; want about 300ms", d)
	}
}

// The watch is not stopped by the request's ReadTimeout: a client that
// closes an idle stream after it is noticed at once.
func TestDisconnectAfterReadTimeout(t *testing.T) {
	app := newApp(fiber.Config{ReadTimeout: 100 * time.Millisecond})
	ts := make(targets, 1)
	app.Get("/sse", fiberv3sse.Handle(ts.handler(), core.WithHeartbeat(-1)))
	base := serve(t, app)

	conn, br := rawConn(t, base, "GET", "/sse")
	tg := ts.next(t)
	readStream(t, conn, br)
	stillRunning(t, tg, 300*time.Millisecond, "while idle")
	conn.Close()
	t.Logf("Done %v after the client closed", waitDone(t, tg, time.Second))
	if !errors.Is(tg.Err(), core.ErrClientGone) {
		t.Errorf("Err %v; want ErrClientGone", tg.Err())
	}
}

// A client that pipelines a request while a stream runs: the stream goes on
// (the watch only peeks, as net/http's background read keeps the byte it
// read), and the request is served on the same connection after it.
func TestPipelinedDuringStream(t *testing.T) {
	app := newApp()
	ts := make(targets, 1)
	app.Get("/sse", fiberv3sse.Handle(ts.handler(), core.WithHeartbeat(-1)))
	app.Get("/ok", okRoute)
	base := serve(t, app)

	conn, br := rawConn(t, base, "GET", "/sse")
	tg := ts.next(t)
	resp := readStream(t, conn, br)
	writeRequest(t, conn, "GET", "/ok")
	stillRunning(t, tg, 200*time.Millisecond, "on a pipelined request")
	if err := tg.Dispatch(core.Message{Data: "after"}); err != nil {
		t.Fatal(err)
	}
	if err := tg.Dispatch(closeEvent); err != nil {
		t.Fatal(err)
	}
	if body, want := readAll(t, resp.Body), "data: after\n\n"+closeFrame; body != want {
		t.Fatalf("body %q; want %q", body, want)
	}
	waitDone(t, tg, time.Second)
	if tg.Err() != nil {
		t.Errorf("Err %v; want nil (a normal end)", tg.Err())
	}
	readOK(t, conn, br)
}

// Over TLS, bytes that arrive during a stream may be the client's
// close_notify: the stream ends cleanly, and a pipelined request is then
// served on the same connection, intact.
func TestPipelinedDuringStreamTLS(t *testing.T) {
	app := newApp()
	ts := make(targets, 1)
	app.Get("/sse", fiberv3sse.Handle(ts.handler(), core.WithHeartbeat(-1)))
	app.Get("/ok", okRoute)
	base, cfg := serveTLS(t, app)

	conn, br := rawTLSConn(t, base, cfg, "GET", "/sse")
	tg := ts.next(t)
	resp := readStream(t, conn, br)
	writeRequest(t, conn, "GET", "/ok")
	if body := readAll(t, resp.Body); body != "" {
		t.Errorf("body %q; want none", body)
	}
	waitDone(t, tg, time.Second)
	if !errors.Is(tg.Err(), core.ErrClientGone) {
		t.Errorf("Err %v; want ErrClientGone", tg.Err())
	}
	readOK(t, conn, br)
}

// After a stream that ends normally, a TLS connection is kept alive too.
func TestKeepAliveAfterIdleStreamTLS(t *testing.T) {
	app := newApp()
	ts := make(targets, 1)
	app.Get("/sse", fiberv3sse.Handle(ts.handler(), core.WithHeartbeat(-1)))
	app.Get("/ok", okRoute)
	base, cfg := serveTLS(t, app)

	conn, br := rawTLSConn(t, base, cfg, "GET", "/sse")
	tg := ts.next(t)
	resp := readStream(t, conn, br)
	stillRunning(t, tg, 100*time.Millisecond, "while idle")
	if err := tg.Dispatch(closeEvent); err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp.Body); body != closeFrame {
		t.Fatalf("body %q; want %q", body, closeFrame)
	}
	waitDone(t, tg, time.Second)
	if tg.Err() != nil {
		t.Errorf("Err %v; want nil (a normal end)", tg.Err())
	}
	writeRequest(t, conn, "GET", "/ok")
	readOK(t, conn, br)
}
