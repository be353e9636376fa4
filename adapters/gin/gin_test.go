package ginsse_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"

	ginsse "github.com/ssekit/ssekit/adapters/gin"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m)
}

// testTimeout bounds every request a test makes.
const testTimeout = 10 * time.Second

// logBuffer collects log output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// newServer starts a loopback server for a new gin engine that setup fills
// in; config, when set, adjusts the server before it starts. Once the server
// is closed it fails the test if net/http logged anything, such as
// "superfluous response.WriteHeader call".
func newServer(t *testing.T, setup func(r *gin.Engine), config func(ts *httptest.Server)) *httptest.Server {
	t.Helper()
	r := gin.New()
	setup(r)
	ts := httptest.NewUnstartedServer(r)
	var logs logBuffer
	ts.Config.ErrorLog = log.New(&logs, "", 0)
	if config != nil {
		config(ts)
	}
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		logs.mu.Lock()
		defer logs.mu.Unlock()
		if logs.buf.Len() > 0 {
			t.Errorf("net/http logged: %s", logs.buf.String())
		}
	})
	return ts
}

// get sends a GET to ts and returns the response; cancel abandons it.
func get(t *testing.T, ts *httptest.Server, path string, header http.Header) (*http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+path, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close(); cancel() })
	return resp, cancel
}

// stream is what a client read from a response body.
type stream struct {
	events  []client.Event
	retries []time.Duration
	raw     []byte
	err     error // io.EOF when the body ended normally
}

// readStream parses body until it ends (or max events arrive).
func readStream(body io.Reader, max int) stream {
	var s stream
	var raw bytes.Buffer
	p := client.NewParser(io.TeeReader(body, &raw))
	p.OnRetry = func(d time.Duration) { s.retries = append(s.retries, d) }
	for len(s.events) < max {
		ev, err := p.Next()
		if err != nil {
			s.err = err
			break
		}
		s.events = append(s.events, ev)
	}
	s.raw = raw.Bytes()
	return s
}

// danet is the handler from design.md §1, with a shorter pause.
func danet(c *gin.Context) (core.EventTarget, error) {
	t := core.NewTarget()
	go func() {
		defer t.Close()
		for id := 0; id < 4; id++ {
			if t.Dispatch(core.Message{ID: strconv.Itoa(id), Event: "hello", Data: "world", Retry: time.Second}) != nil {
				return
			}
			select {
			case <-time.After(10 * time.Millisecond):
			case <-t.Done():
				return
			}
		}
		_ = t.Dispatch(core.Message{ID: "4", Event: "close", Data: "close", Retry: time.Second})
	}()
	return t, nil
}

// response is Gin's bookkeeping of a finished response.
type response struct {
	status, size int
	errors       int
}

func TestDanetExample(t *testing.T) {
	responses := make(chan response, 1)
	ts := newServer(t, func(r *gin.Engine) {
		r.Use(func(c *gin.Context) {
			c.Next()
			responses <- response{c.Writer.Status(), c.Writer.Size(), len(c.Errors)}
		})
		r.GET("/sse", ginsse.Handle(danet), func(c *gin.Context) { c.String(http.StatusOK, "AFTER") })
	}, nil)
	resp, _ := get(t, ts, "/sse", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d; want 200", resp.StatusCode)
	}
	s := readStream(resp.Body, 100)
	if s.err != io.EOF {
		t.Fatalf("end of body: got %v; want io.EOF", s.err)
	}
	var want []client.Event
	var wantRaw strings.Builder
	for id := range 4 {
		want = append(want, client.Event{Type: "hello", Data: "world", LastEventID: strconv.Itoa(id)})
		fmt.Fprintf(&wantRaw, "id: %d\nevent: hello\nretry: 1000\ndata: world\n\n", id)
	}
	want = append(want, client.Event{Type: "close", Data: "close", LastEventID: "4"})
	wantRaw.WriteString("id: 4\nevent: close\nretry: 1000\ndata: close\n\n")
	if !slices.Equal(s.events, want) {
		t.Errorf("events: got %+v; want %+v", s.events, want)
	}
	if string(s.raw) != wantRaw.String() {
		t.Errorf("body: got %q; want %q (nothing after the stream: the chain is aborted)", s.raw, wantRaw.String())
	}
	if len(s.retries) != 5 || s.retries[0] != time.Second {
		t.Errorf("retries: got %v; want 5 times 1s", s.retries)
	}
	want200 := response{http.StatusOK, len(s.raw), 0}
	if got := <-responses; got != want200 {
		t.Errorf("Gin's response (status, size, errors): got %+v; want %+v", got, want200)
	}
}

func TestHeaders(t *testing.T) {
	ts := newServer(t, func(r *gin.Engine) {
		r.GET("/sse", ginsse.Handle(func(*gin.Context) (core.EventTarget, error) {
			tg := core.NewTarget()
			_ = tg.Dispatch(core.Message{Data: "x"})
			tg.Close()
			return tg, nil
		}))
	}, nil)
	resp, _ := get(t, ts, "/sse", nil)
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
	if s := readStream(resp.Body, 10); s.err != io.EOF || len(s.events) != 1 {
		t.Errorf("stream: got %+v, %v; want one event and EOF", s.events, s.err)
	}
}

func TestHandlerError(t *testing.T) {
	stopped := make(chan *core.Target, 1)
	internal := errors.New("db password is hunter2")
	errs := make(chan error, 4)
	ts := newServer(t, func(r *gin.Engine) {
		r.Use(func(c *gin.Context) {
			c.Next()
			for _, e := range c.Errors {
				errs <- e.Err
			}
		})
		r.GET("/401", ginsse.Handle(func(*gin.Context) (core.EventTarget, error) {
			tg := core.NewTarget()
			stopped <- tg
			return tg, core.Error(http.StatusUnauthorized, "token expired")
		}))
		r.GET("/500", ginsse.Handle(func(*gin.Context) (core.EventTarget, error) {
			return nil, fmt.Errorf("loading: %w", internal)
		}))
		r.GET("/nil", ginsse.Handle(func(*gin.Context) (core.EventTarget, error) { return nil, nil }))
	}, nil)
	for _, tc := range []struct {
		path, body string
		status     int
		err        error
	}{
		{"/401", "token expired", http.StatusUnauthorized, nil},
		{"/500", "Internal Server Error", http.StatusInternalServerError, internal},
		{"/nil", "Internal Server Error", http.StatusInternalServerError, core.ErrNilTarget},
	} {
		resp, _ := get(t, ts, tc.path, nil)
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.status || string(body) != tc.body {
			t.Errorf("%s: got %d %q; want %d %q", tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
		if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/event-stream") {
			t.Errorf("%s: Content-Type %q on an error", tc.path, ct)
		}
		select {
		case got := <-errs:
			if tc.err != nil && !errors.Is(got, tc.err) {
				t.Errorf("%s: c.Errors has %v; want %v", tc.path, got, tc.err)
			}
			if tc.status == http.StatusUnauthorized && core.StatusOf(got) != tc.status {
				t.Errorf("%s: c.Errors has %v; want status %d", tc.path, got, tc.status)
			}
		case <-time.After(testTimeout):
			t.Fatalf("%s: middleware saw no error in c.Errors", tc.path)
		}
	}
	select {
	case <-(<-stopped).Done():
	default:
		t.Error("target returned beside an error was not stopped")
	}
}

func TestPanic(t *testing.T) {
	errs := make(chan error, 1)
	ts := newServer(t, func(r *gin.Engine) {
		r.Use(func(c *gin.Context) {
			c.Next()
			if e := c.Errors.Last(); e != nil {
				errs <- e.Err
			}
		})
		r.GET("/panic", ginsse.Handle(func(*gin.Context) (core.EventTarget, error) { panic("boom") }))
		r.GET("/sse", ginsse.Handle(danet))
	}, nil)
	resp, _ := get(t, ts, "/panic", nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusInternalServerError || string(body) != "Internal Server Error" {
		t.Errorf("panic: got %d %q; want 500 %q", resp.StatusCode, body, "Internal Server Error")
	}
	var pe *core.PanicError
	if err := <-errs; !errors.As(err, &pe) || pe.Value != "boom" {
		t.Errorf("c.Errors: got %v; want *core.PanicError(boom)", err)
	}
	resp, _ = get(t, ts, "/sse", nil)
	if s := readStream(resp.Body, 100); resp.StatusCode != http.StatusOK || len(s.events) != 5 || s.err != io.EOF {
		t.Errorf("after a panic: got %d, %d events, %v; want 200, 5 events, EOF", resp.StatusCode, len(s.events), s.err)
	}
}

func TestLastEventID(t *testing.T) {
	got := make(chan string, 1)
	ts := newServer(t, func(r *gin.Engine) {
		r.GET("/sse", ginsse.Handle(func(c *gin.Context) (core.EventTarget, error) {
			got <- ginsse.LastEventID(c)
			tg := core.NewTarget()
			tg.Close()
			return tg, nil
		}))
	}, nil)
	resp, _ := get(t, ts, "/sse", http.Header{"Last-Event-Id": {"41"}})
	_, _ = io.Copy(io.Discard, resp.Body)
	if id := <-got; id != "41" {
		t.Errorf("LastEventID: got %q; want %q", id, "41")
	}
}

// disconnect serves a stream whose producer dispatches every interval (never
// when interval is 0), lets the client read min events, then closes the
// client's connection and returns how long the server took to end the stream.
func disconnect(t *testing.T, interval time.Duration, min int, opts ...core.Option) time.Duration {
	t.Helper()
	targets := make(chan *core.Target, 1)
	ts := newServer(t, func(r *gin.Engine) {
		r.GET("/sse", ginsse.Handle(func(*gin.Context) (core.EventTarget, error) {
			tg := core.NewTarget()
			targets <- tg
			if interval > 0 {
				go func() {
					tick := time.NewTicker(interval)
					defer tick.Stop()
					for i := 0; ; i++ {
						if tg.Dispatch(core.Message{ID: strconv.Itoa(i), Data: "tick"}) != nil {
							return
						}
						select {
						case <-tick.C:
						case <-tg.Done():
							return
						}
					}
				}()
			}
			return tg, nil
		}, opts...))
	}, nil)
	resp, cancel := get(t, ts, "/sse", nil)
	tg := <-targets
	if s := readStream(resp.Body, min); len(s.events) != min {
		t.Fatalf("got %d events (%v); want %d", len(s.events), s.err, min)
	}
	start := time.Now()
	cancel() // closes the client's connection
	select {
	case <-tg.Done():
	case <-time.After(time.Second):
		t.Fatalf("stream still running 1s after the client left")
	}
	took := time.Since(start)
	if err := tg.Err(); !errors.Is(err, core.ErrClientGone) && !errors.Is(err, core.ErrWrite) {
		t.Errorf("Err: got %v; want ErrClientGone or ErrWrite", err)
	}
	return took
}

func TestClientDisconnectUnderTraffic(t *testing.T) {
	took := disconnect(t, time.Millisecond, 5)
	t.Logf("vanished client noticed under traffic (1 event/ms) after %v", took)
}

func TestClientDisconnectIdle(t *testing.T) {
	took := disconnect(t, 0, 0, core.WithHeartbeat(-1))
	t.Logf("vanished client noticed on an idle stream (no heartbeat) after %v", took)
}

// smallBufListener shrinks the send buffer of every accepted connection, so a
// client that stops reading blocks the server's writes after a few KiB.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestClientStopsReading checks that a client that keeps its connection open
// but reads nothing is dropped by the per-write deadline. With small events
// the deadline expires inside Flush, whose error Gin's writer hides; the failed
// write still cancels the request context, so the stream ends as quickly (with
// ErrClientGone instead of ErrWrite).
func TestClientStopsReading(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		pause time.Duration
	}{
		{"big events", 64 << 10, 0},
		{"small events", 100, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			targets := make(chan *core.Target, 1)
			ts := newServer(t, func(r *gin.Engine) {
				r.GET("/sse", ginsse.Handle(func(*gin.Context) (core.EventTarget, error) {
					tg := core.NewTarget()
					targets <- tg
					data := strings.Repeat("x", tc.size)
					go func() {
						for tg.Dispatch(core.Message{Data: data}) == nil {
							select {
							case <-time.After(tc.pause):
							case <-tg.Done():
								return
							}
						}
					}()
					return tg, nil
				}, core.WithWriteTimeout(200*time.Millisecond)))
			}, func(ts *httptest.Server) { ts.Listener = smallBufListener{ts.Listener} })
			conn, err := net.Dial("tcp", ts.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.(*net.TCPConn).SetReadBuffer(2048)
			if _, err := io.WriteString(conn, "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			tg := <-targets
			start := time.Now()
			select {
			case <-tg.Done():
			case <-time.After(testTimeout):
				t.Fatal("stream to a client that stopped reading still running")
			}
			t.Logf("client that stopped reading dropped after %v (reason: %v)", time.Since(start), tg.Err())
			if err := tg.Err(); !errors.Is(err, core.ErrClientGone) && !errors.Is(err, core.ErrWrite) {
				t.Errorf("Err: got %v; want ErrClientGone or ErrWrite", err)
			}
		})
	}
}

// TestServerWriteTimeout checks that http.Server.WriteTimeout does not cut a
// healthy stream: the per-write deadline replaces it.
func TestServerWriteTimeout(t *testing.T) {
	ts := newServer(t, func(r *gin.Engine) {
		r.GET("/sse", ginsse.Handle(func(*gin.Context) (core.EventTarget, error) {
			tg := core.NewTarget()
			_ = tg.Dispatch(core.Message{Data: "early"})
			go func() {
				select {
				case <-time.After(500 * time.Millisecond): // wall time past WriteTimeout is what is under test
				case <-tg.Done():
					return
				}
				_ = tg.Dispatch(core.Message{Data: "late"})
				tg.Close()
			}()
			return tg, nil
		}))
	}, func(ts *httptest.Server) { ts.Config.WriteTimeout = 200 * time.Millisecond })
	resp, _ := get(t, ts, "/sse", nil)
	s := readStream(resp.Body, 10)
	if len(s.events) != 2 || s.events[1].Data != "late" || s.err != io.EOF {
		t.Errorf("got %+v, %v; want events early, late and EOF", s.events, s.err)
	}
}

// TestWriterCannotFlush serves through a ResponseWriter that cannot flush
// (hidden under Gin's writer, whose own Flush then does nothing): the stream
// must be refused with a 500 rather than buffered.
func TestWriterCannotFlush(t *testing.T) {
	r := gin.New()
	r.GET("/sse", ginsse.Handle(func(*gin.Context) (core.EventTarget, error) {
		tg := core.NewTarget()
		tg.Close()
		return tg, nil
	}))
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.ServeHTTP(struct{ http.ResponseWriter }{w}, req)
	}))
	t.Cleanup(ts.Close)
	resp, _ := get(t, ts, "/sse", nil)
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status: got %d; want 500", resp.StatusCode)
	}
}

// readHeader reads a raw HTTP/1.1 response header block from br.
func readHeader(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for range 100 {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil || line == "\r\n" {
			return b.String(), err
		}
	}
	return b.String(), errors.New("header too long")
}

// TestRawHeaders reads the response header block off the wire: no
// Content-Length, Connection or Keep-Alive, and the body starts streaming.
func TestRawHeaders(t *testing.T) {
	release := make(chan struct{})
	ts := newServer(t, func(r *gin.Engine) {
		r.GET("/sse", ginsse.Handle(func(*gin.Context) (core.EventTarget, error) {
			tg := core.NewTarget()
			go func() {
				<-release
				tg.Close()
			}()
			return tg, nil
		}))
	}, nil)
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer close(release)
	_ = conn.SetDeadline(time.Now().Add(testTimeout))
	if _, err := io.WriteString(conn, "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The headers arrive while the target is still open: Run flushes at once.
	h, err := readHeader(bufio.NewReader(conn))
	if err != nil {
		t.Fatalf("reading headers: %v (got %q)", err, h)
	}
	if !strings.HasPrefix(h, "HTTP/1.1 200 OK\r\n") {
		t.Errorf("status line: got %q", h)
	}
	for _, bad := range []string{"content-length:", "connection:", "keep-alive:"} {
		if strings.Contains(strings.ToLower(h), "\r\n"+bad) {
			t.Errorf("header block has %s: %q", bad, h)
		}
	}
}
