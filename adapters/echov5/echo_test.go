package echov5sse_test

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"
	"go.uber.org/goleak"

	echov5sse "github.com/ssekit/ssekit/adapters/echov5"
	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newServer starts a loopback server for a new Echo instance that setup fills
// in; config, when set, adjusts the server before it starts. Once the server
// is closed it fails the test if Echo or net/http logged anything, such as
// "echo: response already written to client" or "superfluous
// response.WriteHeader call".
func newServer(t *testing.T, setup func(e *echo.Echo), config func(ts *httptest.Server)) *httptest.Server {
	t.Helper()
	e := echo.New()
	var log ssetest.LogBuffer
	e.Logger = slog.New(slog.NewTextHandler(&log, nil))
	setup(e)
	return ssetest.StartServer(t, e, &log, config)
}

// serveSSE is the ssetest.Serve of this adapter: GET /sse serves h through
// Handle, on a server from newServer.
func serveSSE(t *testing.T, h func() (core.EventTarget, error), config func(*httptest.Server), opts ...core.Option) *httptest.Server {
	return newServer(t, func(e *echo.Echo) {
		e.GET("/sse", echov5sse.Handle(func(*echo.Context) (core.EventTarget, error) { return h() }, opts...))
	}, config)
}

// get sends a GET for path with header (may be nil) to ts; cancel abandons
// it.
func get(t *testing.T, ts *httptest.Server, path string, header http.Header) (*http.Response, context.CancelFunc) {
	t.Helper()
	return ssetest.Get(t, ts.Client(), ts.URL+path, header)
}

// danet serves the Danet route of the README (The model), with a shorter pause.
func danet(*echo.Context) (core.EventTarget, error) { return ssetest.Danet(10 * time.Millisecond), nil }

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
	s := ssetest.ReadStream(resp.Body, 100)
	ssetest.CheckDanet(t, s)
	want200 := response{http.StatusOK, int64(len(s.Raw)), true, nil}
	select {
	case got := <-responses:
		if got != want200 {
			t.Errorf("Echo's response: got %+v; want %+v", got, want200)
		}
	case <-time.After(ssetest.Timeout):
		t.Fatal("the handler did not return")
	}
}

// TestHeaders checks the response headers as net/http's client sees them
// (see ssetest.Headers).
func TestHeaders(t *testing.T) { ssetest.Headers(t, serveSSE) }

// TestRawHeaders reads the response header block off the wire while the
// target is still open and has nothing queued (see ssetest.RawHeaders).
func TestRawHeaders(t *testing.T) { ssetest.RawHeaders(t, serveSSE) }

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
			case <-time.After(ssetest.Timeout):
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
	if s := ssetest.ReadStream(resp.Body, 100); resp.StatusCode != http.StatusOK || len(s.Events) != 5 || s.Err != io.EOF {
		t.Errorf("after a panic: got %d, %d events, %v; want 200, 5 events, EOF", resp.StatusCode, len(s.Events), s.Err)
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

func TestClientDisconnectUnderTraffic(t *testing.T) {
	took := ssetest.ClientDisconnect(t, serveSSE, time.Millisecond, 5)
	t.Logf("vanished client noticed under traffic (1 event/ms) after %v", took)
}

func TestClientDisconnectIdle(t *testing.T) {
	took := ssetest.ClientDisconnect(t, serveSSE, 0, 0, core.WithHeartbeat(-1))
	t.Logf("vanished client noticed on an idle stream (no heartbeat) after %v", took)
}

// TestServerWriteTimeout checks that http.Server.WriteTimeout (200ms) does not
// cut a healthy 600ms stream: the per-write deadline replaces it.
func TestServerWriteTimeout(t *testing.T) {
	for _, wt := range []time.Duration{0, time.Second} {
		t.Run(fmt.Sprintf("WithWriteTimeout(%v)", wt), func(t *testing.T) {
			ts := serveSSE(t, func() (core.EventTarget, error) { return ssetest.Ticks(7, 100*time.Millisecond), nil },
				func(ts *httptest.Server) { ts.Config.WriteTimeout = 200 * time.Millisecond }, core.WithWriteTimeout(wt))
			ssetest.CheckTicks(t, ts.Client(), ts.URL+"/sse")
		})
	}
}

// TestClientStopsReading checks that a client that keeps its connection open
// but reads nothing is dropped by the per-write deadline. Echo's Response
// hides Flush errors; should the deadline expire inside a Flush, the failed
// write still cancels the request context, so the stream ends as quickly (with
// ErrClientGone instead of ErrWrite).
func TestClientStopsReading(t *testing.T) {
	ssetest.ClientStopsReading(t, serveSSE, 64<<10, 0, core.WithHeartbeat(-1))
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
	if s := ssetest.ReadStream(resp.Body, 10); len(s.Events) != 1 || s.Err != io.EOF {
		t.Errorf("next request: got %+v, %v; want one event and EOF", s.Events, s.Err)
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
	ctx, cancel := context.WithTimeout(context.Background(), ssetest.Timeout)
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
	resp, err := (&http.Client{Transport: tr, Timeout: ssetest.Timeout}).Do(req)
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
