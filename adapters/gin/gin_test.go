package ginsse_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"

	ginsse "github.com/ssekit/ssekit/adapters/gin"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m)
}

// newServer starts a loopback server for a new gin engine that setup fills
// in; config, when set, adjusts the server before it starts. Once the server
// is closed it fails the test if net/http logged anything, such as
// "superfluous response.WriteHeader call".
func newServer(t *testing.T, setup func(r *gin.Engine), config func(ts *httptest.Server)) *httptest.Server {
	t.Helper()
	r := gin.New()
	setup(r)
	return ssetest.StartServer(t, r, new(ssetest.LogBuffer), config)
}

// serveSSE is the ssetest.Serve of this adapter: GET /sse serves h through
// Handle, on a server from newServer.
func serveSSE(t *testing.T, h func() (core.EventTarget, error), config func(*httptest.Server), opts ...core.Option) *httptest.Server {
	return newServer(t, func(r *gin.Engine) {
		r.GET("/sse", ginsse.Handle(func(*gin.Context) (core.EventTarget, error) { return h() }, opts...))
	}, config)
}

// get sends a GET for path to ts; cancel abandons it.
func get(t *testing.T, ts *httptest.Server, path string) (*http.Response, context.CancelFunc) {
	t.Helper()
	return ssetest.Get(t, ts.Client(), ts.URL+path, nil)
}

// danet serves the Danet route of the README (The model), with a shorter pause.
func danet(*gin.Context) (core.EventTarget, error) { return ssetest.Danet(10 * time.Millisecond), nil }

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
	resp, _ := get(t, ts, "/sse")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d; want 200", resp.StatusCode)
	}
	// The exact body also shows that nothing follows the stream: the chain is
	// aborted.
	s := ssetest.ReadStream(resp.Body, 100)
	ssetest.CheckDanet(t, s)
	want200 := response{http.StatusOK, len(s.Raw), 0}
	if got := <-responses; got != want200 {
		t.Errorf("Gin's response (status, size, errors): got %+v; want %+v", got, want200)
	}
}

// TestHeaders checks the response headers as net/http's client sees them
// (see ssetest.Headers).
func TestHeaders(t *testing.T) { ssetest.Headers(t, serveSSE) }

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
		resp, _ := get(t, ts, tc.path)
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
		case <-time.After(ssetest.Timeout):
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
	resp, _ := get(t, ts, "/panic")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusInternalServerError || string(body) != "Internal Server Error" {
		t.Errorf("panic: got %d %q; want 500 %q", resp.StatusCode, body, "Internal Server Error")
	}
	var pe *core.PanicError
	select {
	case err := <-errs:
		if !errors.As(err, &pe) || pe.Value != "boom" {
			t.Errorf("c.Errors: got %v; want *core.PanicError(boom)", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("c.Errors: nothing recorded 10 s after the answer; want *core.PanicError(boom)")
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
// but reads nothing is dropped by the per-write deadline. With small events
// the deadline expires inside Flush, whose error Gin's writer hides; the failed
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
	resp, _ := get(t, ts, "/sse")
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status: got %d; want 500", resp.StatusCode)
	}
}

// TestRawHeaders reads the response header block off the wire (see
// ssetest.RawHeaders).
func TestRawHeaders(t *testing.T) { ssetest.RawHeaders(t, serveSSE) }
