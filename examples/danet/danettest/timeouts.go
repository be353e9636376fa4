package danettest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/examples/danet"
)

// margin is how much later than its timeout a server may close a
// connection on a loaded machine.
const margin = 4 * time.Second

// shortTimeouts sets short server timeouts for the test: shorter than the
// example's stream (4 events 100 ms apart), which they must not cut.
func shortTimeouts(t *testing.T) danet.ServerTimeouts {
	t.Helper()
	old := danet.Timeouts
	danet.Timeouts = danet.ServerTimeouts{ReadHeader: 100 * time.Millisecond, Body: 200 * time.Millisecond, Idle: 200 * time.Millisecond}
	t.Cleanup(func() { danet.Timeouts = old })
	return danet.Timeouts
}

// dial connects to base's server; the connection is closed when the test
// ends.
func dial(t *testing.T, base string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// expectClosed reads r (whatever the server answers first) until the
// server closes the connection, failing unless it does within limit of
// start.
func expectClosed(t *testing.T, conn net.Conn, r io.Reader, start time.Time, limit time.Duration) {
	t.Helper()
	conn.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v", limit)
	}
}

// testSlowHeaders: a connection that sends part of a request, then
// nothing, is closed within the header timeout (Fiber: its ReadTimeout).
func testSlowHeaders(t *testing.T, fw danet.Framework) {
	to := shortTimeouts(t)
	base := serveExample(t, fw)
	for _, partial := range []string{"GET /s", "GET /sse HTTP/1.1\r\nHost: x\r\nX-Slow: "} {
		conn := dial(t, base)
		start := time.Now()
		if _, err := io.WriteString(conn, partial); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, conn, conn, start, max(to.ReadHeader, to.Body)+margin)
	}
}

// testIdleKeepAlive: a keep-alive connection that sends no further
// request is closed after the idle timeout.
func testIdleKeepAlive(t *testing.T, fw danet.Framework) {
	to := shortTimeouts(t)
	base := serveExample(t, fw)
	conn := dial(t, base)
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("GET /: %d, close %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
	}
	expectClosed(t, conn, br, time.Now(), to.Idle+margin)
}

// testSlowBody: a request whose body stops arriving has its connection
// closed within the body timeout, though no route reads a body (net/http
// reads it after the handler to keep the connection).
func testSlowBody(t *testing.T, fw danet.Framework) {
	to := shortTimeouts(t)
	base := serveExample(t, fw)
	for _, head := range []string{"GET /", "POST /", "GET /sse"} {
		conn := dial(t, base)
		start := time.Now()
		if _, err := io.WriteString(conn, head+" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, conn, conn, start, to.ReadHeader+to.Body+margin)
	}
}

// testStreamOutlivesTimeouts: the stream, longer than every timeout, is
// delivered whole.
func testStreamOutlivesTimeouts(t *testing.T, fw danet.Framework) {
	shortTimeouts(t)
	base := serveExample(t, fw)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/sse", nil)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := client.NewParser(resp.Body)
	var got []string
	for {
		ev, err := p.Next()
		if err != nil {
			if err != io.EOF {
				t.Fatalf("after %q: %v", got, err)
			}
			break
		}
		got = append(got, ev.Type+" "+ev.LastEventID)
	}
	if want := "hello 0,hello 1,hello 2,hello 3,close 4"; strings.Join(got, ",") != want {
		t.Fatalf("events %q; want %s", got, want)
	}
}
