package echov5sse_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"
	"go.uber.org/goleak"

	echov5sse "github.com/ssekit/ssekit/adapters/echov5"
	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout bounds every request a test makes.
const testTimeout = 10 * time.Second

// newServer starts a loopback server for a new Echo instance that setup fills
// in; config, when set, adjusts the server before it starts. Once the server
// is closed it fails the test if Echo or net/http logged anything, such as
// "echo: response already written to client" or "superfluous
// response.WriteHeader call".
func newServer(t *testing.T, setup func(e *echo.Echo), config func(ts *httptest.Server)) *httptest.Server {
	t.Helper()
	e := echo.New()
	var log logBuffer
	e.Logger = slog.New(slog.NewTextHandler(&log, nil))
	setup(e)
	ts := httptest.NewUnstartedServer(e)
	ts.Config.ErrorLog = stdlog.New(&log, "", 0)
	if config != nil {
		config(ts)
	}
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		if s := log.String(); s != "" {
			t.Errorf("echo logged: %s", s)
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
	var raw strings.Builder
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
	s.raw = []byte(raw.String())
	return s
}

// danet is the handler from design.md §1, with a shorter pause.
func danet(c *echo.Context) (core.EventTarget, error) {
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

// response is Echo's bookkeeping of a finished response.
type response struct {
	status    int
	size      int64
	committed bool
	err       error
}

func TestDanetExample(t *testing.T) {
	responses := make(chan response, 1)
	ts := newServer(t, func(e *echo.Echo) {
		e.GET("/sse", echov5sse.Handle(danet), func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c *echo.Context) error {
				err := next(c)
				r, uerr := echo.UnwrapResponse(c.Response())
				if uerr != nil {
					t.Errorf("UnwrapResponse: %v", uerr)
					return err
				}
				responses <- response{r.Status, r.Size, r.Committed, err}
				return err
			}
		})
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
		t.Errorf("body: got %q; want %q", s.raw, wantRaw.String())
	}
	if len(s.retries) != 5 || s.retries[0] != time.Second {
		t.Errorf("retries: got %v; want 5 times 1s", s.retries)
	}
	want200 := response{http.StatusOK, int64(len(s.raw)), true, nil}
	select {
	case got := <-responses:
		if got != want200 {
			t.Errorf("Echo's response: got %+v; want %+v", got, want200)
		}
	case <-time.After(testTimeout):
		t.Fatal("the handler did not return")
	}
}

func TestHeaders(t *testing.T) {
	ts := newServer(t, func(e *echo.Echo) {
		e.GET("/sse", echov5sse.Handle(func(*echo.Context) (core.EventTarget, error) {
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

// TestRawHeaders reads the response header block off the wire while the
// target is still open and has nothing queued: the headers leave at once,
// with the three SSE headers exactly and no Content-Length, Connection or
// Keep-Alive.
func TestRawHeaders(t *testing.T) {
	release := make(chan struct{})
	ts := newServer(t, func(e *echo.Echo) {
		e.GET("/sse", echov5sse.Handle(func(*echo.Context) (core.EventTarget, error) {
			tg := core.NewTarget()
			go func() {
				<-release
				tg.Close()
			}()
			return tg, nil
		}, core.WithHeartbeat(time.Hour)))
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
	h, err := readHeader(bufio.NewReader(conn))
	if err != nil {
		t.Fatalf("reading headers: %v (got %q)", err, h)
	}
	lines := strings.Split(strings.TrimSuffix(h, "\r\n\r\n"), "\r\n")
	if lines[0] != "HTTP/1.1 200 OK" {
		t.Errorf("status line: got %q", lines[0])
	}
	var got []string
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "Date: ") {
			got = append(got, l)
		}
	}
	slices.Sort(got)
	want := []string{
		"Cache-Control: no-cache",
		"Content-Type: text/event-stream",
		"Transfer-Encoding: chunked", // net/http's framing of a body of unknown size
		"X-Accel-Buffering: no",
	}
	if !slices.Equal(got, want) {
		t.Errorf("headers (but Date): got %q; want %q", got, want)
	}
}

// recordErrors installs an HTTPErrorHandler that sends each error to the
// returned channel, then answers it as Echo's default handler does.
func recordErrors(e *echo.Echo) <-chan error {
	errs := make(chan error, 8)
	def := echo.DefaultHTTPErrorHandler(false)
	e.HTTPErrorHandler = func(c *echo.Context, err error) {
		errs <- err
		def(c, err)
	}
	return errs
}

func TestHandlerError(t *testing.T) {
	internal := errors.New("db password is hunter2")
	forbidden := echo.NewHTTPError(http.StatusForbidden, "no entry")
	teapot := echo.NewHTTPError(http.StatusTeapot, "short and stout")
	cases := []struct {
		path    string
		h       echov5sse.HandlerFunc
		status  int
		message string
		err     error // what errors.Is must find in the error Echo handles
	}{
		{"/401", func(*echo.Context) (core.EventTarget, error) {
			return nil, core.Error(http.StatusUnauthorized, "token expired")
		}, http.StatusUnauthorized, "token expired", nil},
		{"/500", func(*echo.Context) (core.EventTarget, error) {
			return nil, fmt.Errorf("loading: %w", internal)
		}, http.StatusInternalServerError, "Internal Server Error", internal},
		{"/nil", func(*echo.Context) (core.EventTarget, error) { return nil, nil },
			http.StatusInternalServerError, "Internal Server Error", core.ErrNilTarget},
		{"/403", func(*echo.Context) (core.EventTarget, error) { return nil, forbidden },
			http.StatusForbidden, "no entry", forbidden},
		{"/418", func(*echo.Context) (core.EventTarget, error) {
			return nil, fmt.Errorf("brewing: %w", teapot)
		}, http.StatusTeapot, "short and stout", teapot},
		// Echo v5's predefined errors are not *echo.HTTPError, only
		// echo.HTTPStatusCoder: core.StatusOf reads their status.
		{"/sentinel", func(*echo.Context) (core.EventTarget, error) { return nil, echo.ErrServiceUnavailable },
			http.StatusServiceUnavailable, "Service Unavailable", echo.ErrServiceUnavailable},
		{"/both", func(*echo.Context) (core.EventTarget, error) {
			return core.NewTarget(), core.Error(http.StatusForbidden, "")
		}, http.StatusForbidden, "Forbidden", nil},
	}
	t.Run("default", func(t *testing.T) {
		var errs <-chan error
		ts := newServer(t, func(e *echo.Echo) {
			errs = recordErrors(e)
			for _, tc := range cases {
				e.GET(tc.path, echov5sse.Handle(tc.h))
			}
		}, nil)
		for _, tc := range cases {
			resp, _ := get(t, ts, tc.path, nil)
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			wantBody := `{"message":"` + tc.message + `"}` + "\n"
			if resp.StatusCode != tc.status || string(body) != wantBody {
				t.Errorf("%s: got %d %q; want %d %q", tc.path, resp.StatusCode, body, tc.status, wantBody)
			}
			if ct := resp.Header.Get("Content-Type"); ct == "text/event-stream" {
				t.Errorf("%s: error answered as an event stream", tc.path)
			}
			select {
			case got := <-errs:
				var he *echo.HTTPError
				if !errors.As(got, &he) || he.Code != tc.status || echo.StatusCode(got) != tc.status {
					t.Errorf("%s: HTTPErrorHandler got %v; want an *echo.HTTPError with code %d", tc.path, got, tc.status)
				}
				if tc.err != nil && !errors.Is(got, tc.err) {
					t.Errorf("%s: HTTPErrorHandler got %v; want it to wrap %v", tc.path, got, tc.err)
				}
				if tc.path == "/403" && got != forbidden {
					t.Errorf("%s: HTTPErrorHandler got %#v; want the handler's *echo.HTTPError as is", tc.path, got)
				}
			case <-time.After(testTimeout):
				t.Fatalf("%s: HTTPErrorHandler not called", tc.path)
			}
		}
	})
	// A custom handler written the Echo v5 way (echo.StatusCode) sees the
	// same statuses, and one written the Echo v4 way (*echo.HTTPError) too.
	t.Run("custom", func(t *testing.T) {
		ts := newServer(t, func(e *echo.Echo) {
			e.HTTPErrorHandler = func(c *echo.Context, err error) {
				var he *echo.HTTPError
				if !errors.As(err, &he) {
					_ = c.String(599, "not an *echo.HTTPError")
					return
				}
				_ = c.String(echo.StatusCode(err), fmt.Sprintf("custom %d: %s", he.Code, he.Message))
			}
			for _, tc := range cases {
				e.GET(tc.path, echov5sse.Handle(tc.h))
			}
		}, nil)
		for _, tc := range cases {
			resp, _ := get(t, ts, tc.path, nil)
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("custom %d: %s", tc.status, tc.message)
			if resp.StatusCode != tc.status || string(body) != want {
				t.Errorf("%s: got %d %q; want %d %q", tc.path, resp.StatusCode, body, tc.status, want)
			}
		}
	})
}

// TestTargetBesideError checks that a target returned beside an error is
// stopped, so that its producer wakes up.
func TestTargetBesideError(t *testing.T) {
	stopped := make(chan *core.Target, 1)
	ts := newServer(t, func(e *echo.Echo) {
		e.GET("/sse", echov5sse.Handle(func(*echo.Context) (core.EventTarget, error) {
			tg := core.NewTarget()
			stopped <- tg
			return tg, core.Error(http.StatusUnauthorized, "token expired")
		}))
	}, nil)
	resp, _ := get(t, ts, "/sse", nil)
	_, _ = io.Copy(io.Discard, resp.Body)
	select {
	case <-(<-stopped).Done():
	default:
		t.Error("target returned beside an error was not stopped")
	}
}

func TestPanic(t *testing.T) {
	var errs <-chan error
	ts := newServer(t, func(e *echo.Echo) {
		errs = recordErrors(e)
		e.GET("/panic", echov5sse.Handle(func(*echo.Context) (core.EventTarget, error) { panic("boom") }))
		e.GET("/sse", echov5sse.Handle(danet))
	}, nil)
	resp, _ := get(t, ts, "/panic", nil)
	body, _ := io.ReadAll(resp.Body)
	if want := `{"message":"Internal Server Error"}` + "\n"; resp.StatusCode != http.StatusInternalServerError || string(body) != want {
		t.Errorf("panic: got %d %q; want 500 %q", resp.StatusCode, body, want)
	}
	var pe *core.PanicError
	if err := <-errs; !errors.As(err, &pe) || pe.Value != "boom" {
		t.Errorf("HTTPErrorHandler: got %v; want one wrapping *core.PanicError(boom)", err)
	}
	resp, _ = get(t, ts, "/sse", nil)
	if s := readStream(resp.Body, 100); resp.StatusCode != http.StatusOK || len(s.events) != 5 || s.err != io.EOF {
		t.Errorf("after a panic: got %d, %d events, %v; want 200, 5 events, EOF", resp.StatusCode, len(s.events), s.err)
	}
}

func TestLastEventID(t *testing.T) {
	got := make(chan string, 1)
	ts := newServer(t, func(e *echo.Echo) {
		e.GET("/sse", echov5sse.Handle(func(c *echo.Context) (core.EventTarget, error) {
			got <- echov5sse.LastEventID(c)
			tg := core.NewTarget()
			tg.Close()
			return tg, nil
		}))
	}, nil)
	for _, id := range []string{"41", ""} {
		var hdr http.Header
		if id != "" {
			hdr = http.Header{"Last-Event-Id": {id}}
		}
		resp, _ := get(t, ts, "/sse", hdr)
		_, _ = io.Copy(io.Discard, resp.Body)
		if got := <-got; got != id {
			t.Errorf("LastEventID: got %q; want %q", got, id)
		}
	}
}

// disconnect serves a stream whose producer dispatches every interval (never
// when interval is 0), lets the client read min events, then closes the
// client's connection and returns how long the server took to end the stream.
func disconnect(t *testing.T, interval time.Duration, min int, opts ...core.Option) time.Duration {
	t.Helper()
	targets := make(chan *core.Target, 1)
	ts := newServer(t, func(e *echo.Echo) {
		e.GET("/sse", echov5sse.Handle(func(*echo.Context) (core.EventTarget, error) {
			tg := core.NewTarget()
			targets <- tg
			if interval > 0 {
				go func() {
					tick := time.NewTicker(interval)
					defer tick.Stop()
					for i := 0; i < 100000; i++ {
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

// TestServerWriteTimeout checks that http.Server.WriteTimeout (200ms) does not
// cut a healthy 600ms stream: the per-write deadline replaces it.
func TestServerWriteTimeout(t *testing.T) {
	for _, wt := range []time.Duration{0, time.Second} {
		t.Run(fmt.Sprintf("WithWriteTimeout(%v)", wt), func(t *testing.T) {
			ts := newServer(t, func(e *echo.Echo) {
				e.GET("/sse", echov5sse.Handle(func(*echo.Context) (core.EventTarget, error) {
					tg := core.NewTarget()
					go func() {
						defer tg.Close()
						tick := time.NewTicker(100 * time.Millisecond)
						defer tick.Stop()
						for i := range 7 { // at 0, 100, ..., 600 ms
							if i > 0 {
								select {
								case <-tick.C:
								case <-tg.Done():
									return
								}
							}
							if tg.Dispatch(core.Message{ID: strconv.Itoa(i)}) != nil {
								return
							}
						}
					}()
					return tg, nil
				}, core.WithWriteTimeout(wt)))
			}, func(ts *httptest.Server) { ts.Config.WriteTimeout = 200 * time.Millisecond })
			start := time.Now()
			resp, _ := get(t, ts, "/sse", nil)
			s := readStream(resp.Body, 10)
			if d := time.Since(start); len(s.events) != 7 || s.err != io.EOF || d < 550*time.Millisecond {
				t.Errorf("got %d events, %v, over %v; want 7 events and EOF over 600ms", len(s.events), s.err, d)
			}
		})
	}
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
// but reads nothing is dropped by the per-write deadline. Echo's Response
// hides Flush errors; should the deadline expire inside a Flush, the failed
// write still cancels the request context, so the stream ends as quickly (with
// ErrClientGone instead of ErrWrite).
func TestClientStopsReading(t *testing.T) {
	targets := make(chan *core.Target, 1)
	ts := newServer(t, func(e *echo.Echo) {
		e.GET("/sse", echov5sse.Handle(func(*echo.Context) (core.EventTarget, error) {
			tg := core.NewTarget()
			targets <- tg
			data := strings.Repeat("x", 64<<10)
			go func() {
				for i := 0; i < 100000 && tg.Dispatch(core.Message{Data: data}) == nil; i++ {
				}
			}()
			return tg, nil
		}, core.WithWriteTimeout(200*time.Millisecond), core.WithHeartbeat(-1)))
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
}

// TestWriterCannotFlush serves through a ResponseWriter that cannot flush
// (set by a middleware under echo.Response, whose Flush then panics): the
// stream must be refused with a 500 rather than a panic or an empty 200, and
// the server keeps serving.
func TestWriterCannotFlush(t *testing.T) {
	var errs <-chan error
	ts := newServer(t, func(e *echo.Echo) {
		errs = recordErrors(e)
		h := echov5sse.Handle(func(*echo.Context) (core.EventTarget, error) {
			tg := core.NewTarget()
			_ = tg.Dispatch(core.Message{Data: "x"})
			tg.Close()
			return tg, nil
		})
		e.GET("/sse", h, func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c *echo.Context) error {
				r, err := echo.UnwrapResponse(c.Response())
				if err != nil {
					return err
				}
				r.ResponseWriter = struct{ http.ResponseWriter }{r.ResponseWriter}
				return next(c)
			}
		})
		e.GET("/ok", h)
	}, nil)
	resp, _ := get(t, ts, "/sse", nil)
	body, _ := io.ReadAll(resp.Body)
	if want := `{"message":"Internal Server Error"}` + "\n"; resp.StatusCode != http.StatusInternalServerError || string(body) != want {
		t.Errorf("got %d %q; want 500 %q", resp.StatusCode, body, want)
	}
	if err := <-errs; !errors.Is(err, nethttpsse.ErrNoFlush) {
		t.Errorf("HTTPErrorHandler: got %v; want it to wrap nethttpsse.ErrNoFlush", err)
	}
	resp, _ = get(t, ts, "/ok", nil)
	if s := readStream(resp.Body, 10); len(s.events) != 1 || s.err != io.EOF {
		t.Errorf("next request: got %+v, %v; want one event and EOF", s.events, s.err)
	}
}

// TestGroupShutdown checks that core.Group.Shutdown ends a stream after what
// was queued, and the handler returns.
func TestGroupShutdown(t *testing.T) {
	var g core.Group
	targets := make(chan *core.Target, 1)
	ts := newServer(t, func(e *echo.Echo) {
		e.GET("/sse", echov5sse.Handle(func(*echo.Context) (core.EventTarget, error) {
			tg := core.NewTarget()
			targets <- tg
			return tg, tg.Dispatch(core.Message{Data: "ready"})
		}, core.WithGroup(&g), core.WithHeartbeat(time.Hour)))
	}, nil)
	resp, _ := get(t, ts, "/sse", nil)
	tg := <-targets
	p := client.NewParser(resp.Body)
	if ev, err := p.Next(); err != nil || ev.Data != "ready" {
		t.Fatalf("first event %+v, %v", ev, err)
	}
	if err := tg.Dispatch(core.Message{Data: "queued"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if ev, err := p.Next(); err != nil || ev.Data != "queued" {
		t.Errorf("after Shutdown: %+v, %v; want the queued event", ev, err)
	}
	if _, err := p.Next(); err != io.EOF {
		t.Errorf("end: %v; want io.EOF", err)
	}
	if !errors.Is(tg.Err(), core.ErrShutdown) {
		t.Errorf("Err %v; want ErrShutdown", tg.Err())
	}
}

// TestGzipMiddleware checks the package documentation's claim that
// middleware.Gzip works on SSE routes: each flush delivers a compressed chunk,
// so an event arrives while the stream is open.
func TestGzipMiddleware(t *testing.T) {
	targets := make(chan *core.Target, 1)
	ts := newServer(t, func(e *echo.Echo) {
		e.Use(middleware.Gzip())
		e.GET("/sse", echov5sse.Handle(func(*echo.Context) (core.EventTarget, error) {
			tg := core.NewTarget()
			targets <- tg
			return tg, nil
		}))
	}, nil)
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/sse", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Client{Transport: tr, Timeout: testTimeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("Content-Encoding %q; want gzip", ce)
	}
	tg := <-targets
	if err := tg.Dispatch(core.Message{Data: "first"}); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := client.NewParser(zr)
	if ev, err := p.Next(); err != nil || ev.Data != "first" {
		t.Fatalf("first event %+v, %v", ev, err)
	}
	tg.Close()
	if _, err := p.Next(); err != io.EOF {
		t.Errorf("end: %v; want io.EOF", err)
	}
}
