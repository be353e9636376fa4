package echosse_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/goleak"

	echosse "github.com/ssekit/ssekit/adapters/echo"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newServer starts a loopback server for a new Echo instance that setup fills
// in; config, when set, adjusts the server before it starts. Once the server
// is closed it fails the test if Echo or net/http logged anything, such as
// "response already committed" or "superfluous response.WriteHeader call".
func newServer(t *testing.T, setup func(e *echo.Echo), config func(ts *httptest.Server)) *httptest.Server {
	t.Helper()
	e := echo.New()
	var log ssetest.LogBuffer
	e.Logger.SetOutput(&log)
	setup(e)
	return ssetest.StartServer(t, e, &log, config)
}

// serveSSE is the ssetest.Serve of this adapter: GET /sse serves h through
// Handle, on a server from newServer.
func serveSSE(t *testing.T, h func() (core.EventTarget, error), config func(*httptest.Server), opts ...core.Option) *httptest.Server {
	return newServer(t, func(e *echo.Echo) {
		e.GET("/sse", echosse.Handle(func(echo.Context) (core.EventTarget, error) { return h() }, opts...))
	}, config)
}

// get sends a GET for path to ts; cancel abandons it.
func get(t *testing.T, ts *httptest.Server, path string) (*http.Response, context.CancelFunc) {
	t.Helper()
	return ssetest.Get(t, ts.Client(), ts.URL+path, nil)
}

// danet serves the Danet route of the README (The model), with a shorter pause.
func danet(echo.Context) (core.EventTarget, error) { return ssetest.Danet(10 * time.Millisecond), nil }

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
		e.GET("/sse", echosse.Handle(danet), func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				err := next(c)
				r := c.Response()
				responses <- response{r.Status, r.Size, r.Committed, err}
				return err
			}
		})
	}, nil)
	resp, _ := get(t, ts, "/sse")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d; want 200", resp.StatusCode)
	}
	s := ssetest.ReadStream(resp.Body, 100)
	ssetest.CheckDanet(t, s)
	want200 := response{http.StatusOK, int64(len(s.Raw)), true, nil}
	if got := <-responses; got != want200 {
		t.Errorf("Echo's response: got %+v; want %+v", got, want200)
	}
}

// TestHeaders checks the response headers as net/http's client sees them
// (see ssetest.Headers).
func TestHeaders(t *testing.T) { ssetest.Headers(t, serveSSE) }

// recordErrors installs an HTTPErrorHandler that sends each error to the
// returned channel, then answers it as Echo's default handler does.
func recordErrors(e *echo.Echo) <-chan error {
	errs := make(chan error, 8)
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		errs <- err
		e.DefaultHTTPErrorHandler(err, c)
	}
	return errs
}

func TestHandlerError(t *testing.T) {
	stopped := make(chan *core.Target, 1)
	internal := errors.New("db password is hunter2")
	forbidden := echo.NewHTTPError(http.StatusForbidden, "no entry")
	teapot := echo.NewHTTPError(http.StatusTeapot, "short and stout")
	var errs <-chan error
	ts := newServer(t, func(e *echo.Echo) {
		errs = recordErrors(e)
		e.GET("/401", echosse.Handle(func(echo.Context) (core.EventTarget, error) {
			tg := core.NewTarget()
			stopped <- tg
			return tg, core.Error(http.StatusUnauthorized, "token expired")
		}))
		e.GET("/500", echosse.Handle(func(echo.Context) (core.EventTarget, error) {
			return nil, fmt.Errorf("loading: %w", internal)
		}))
		e.GET("/nil", echosse.Handle(func(echo.Context) (core.EventTarget, error) { return nil, nil }))
		e.GET("/403", echosse.Handle(func(echo.Context) (core.EventTarget, error) { return nil, forbidden }))
		e.GET("/418", echosse.Handle(func(echo.Context) (core.EventTarget, error) {
			return nil, fmt.Errorf("brewing: %w", teapot)
		}))
	}, nil)
	for _, tc := range []struct {
		path, message string
		status        int
		err           error // what errors.Is must find in the error Echo handles
	}{
		{"/401", "token expired", http.StatusUnauthorized, nil},
		{"/500", "Internal Server Error", http.StatusInternalServerError, internal},
		{"/nil", "Internal Server Error", http.StatusInternalServerError, core.ErrNilTarget},
		{"/403", "no entry", http.StatusForbidden, forbidden},
		{"/418", "short and stout", http.StatusTeapot, teapot},
	} {
		resp, _ := get(t, ts, tc.path)
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		wantBody := `{"message":"` + tc.message + `"}` + "\n"
		if resp.StatusCode != tc.status || string(body) != wantBody {
			t.Errorf("%s: got %d %q; want %d %q", tc.path, resp.StatusCode, body, tc.status, wantBody)
		}
		select {
		case got := <-errs:
			var he *echo.HTTPError
			if !errors.As(got, &he) || he.Code != tc.status {
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
		e.GET("/panic", echosse.Handle(func(echo.Context) (core.EventTarget, error) { panic("boom") }))
		e.GET("/sse", echosse.Handle(danet))
	}, nil)
	resp, _ := get(t, ts, "/panic")
	body, _ := io.ReadAll(resp.Body)
	if want := `{"message":"Internal Server Error"}` + "\n"; resp.StatusCode != http.StatusInternalServerError || string(body) != want {
		t.Errorf("panic: got %d %q; want 500 %q", resp.StatusCode, body, want)
	}
	var pe *core.PanicError
	if err := <-errs; !errors.As(err, &pe) || pe.Value != "boom" {
		t.Errorf("HTTPErrorHandler: got %v; want one wrapping *core.PanicError(boom)", err)
	}
	resp, _ = get(t, ts, "/sse")
	if s := ssetest.ReadStream(resp.Body, 100); resp.StatusCode != http.StatusOK || len(s.Events) != 5 || s.Err != io.EOF {
		t.Errorf("after a panic: got %d, %d events, %v; want 200, 5 events, EOF", resp.StatusCode, len(s.Events), s.Err)
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

// TestClientStopsReading checks that a client that keeps its connection open
// but reads nothing is dropped by the per-write deadline. Echo's Response
// hides Flush errors; should the deadline expire inside a Flush, the failed
// write still cancels the request context, so the stream ends as quickly (with
// ErrClientGone instead of ErrWrite).
func TestClientStopsReading(t *testing.T) {
	t.Run("big events", func(t *testing.T) { ssetest.ClientStopsReading(t, serveSSE, 64<<10, 0) })
	t.Run("small events", func(t *testing.T) { ssetest.ClientStopsReading(t, serveSSE, 100, time.Millisecond) })
}

// TestServerWriteTimeout checks that http.Server.WriteTimeout does not cut a
// healthy stream: the per-write deadline replaces it.
func TestServerWriteTimeout(t *testing.T) { ssetest.WriteTimeoutEarlyLate(t, serveSSE) }

// TestWriterCannotFlush serves through a ResponseWriter that cannot flush
// (set by a middleware under echo.Response, whose Flush then panics): the
// stream must be refused with a 500 rather than a panic or an empty 200, and
// the server keeps serving.
func TestWriterCannotFlush(t *testing.T) {
	ts := newServer(t, func(e *echo.Echo) {
		h := echosse.Handle(func(echo.Context) (core.EventTarget, error) {
			tg := core.NewTarget()
			_ = tg.Dispatch(core.Message{Data: "x"})
			tg.Close()
			return tg, nil
		})
		e.GET("/sse", h, func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				c.Response().Writer = struct{ http.ResponseWriter }{c.Response().Writer}
				return next(c)
			}
		})
		e.GET("/ok", h)
	}, nil)
	resp, _ := get(t, ts, "/sse")
	body, _ := io.ReadAll(resp.Body)
	status := resp.StatusCode
	resp, _ = get(t, ts, "/ok")
	if s := ssetest.ReadStream(resp.Body, 10); len(s.Events) != 1 || s.Err != io.EOF {
		t.Errorf("next request: got %+v, %v; want one event and EOF", s.Events, s.Err)
	}
	if status != http.StatusInternalServerError {
		t.Errorf("status: got %d %q; want 500", status, body)
	}
}

// TestRawHeaders reads the response header block off the wire (see
// ssetest.RawHeaders).
func TestRawHeaders(t *testing.T) { ssetest.RawHeaders(t, serveSSE) }
