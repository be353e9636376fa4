package nethttpsse_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout bounds every wait in these tests.
const testTimeout = 5 * time.Second

// plainWriter is a ResponseWriter that cannot flush.
type plainWriter struct {
	header http.Header
	code   int
	body   []byte
}

func (w *plainWriter) Header() http.Header         { return w.header }
func (w *plainWriter) WriteHeader(code int)        { w.code = code }
func (w *plainWriter) Write(p []byte) (int, error) { w.body = append(w.body, p...); return len(p), nil }

// TestNoFlush: a writer that cannot flush cannot stream: Handle answers 500
// and stops the target, so its producers wake up.
func TestNoFlush(t *testing.T) {
	tg := core.NewTarget()
	h := nethttpsse.Handle(func(*http.Request) (core.EventTarget, error) { return tg, nil })
	w := &plainWriter{header: http.Header{}}
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/sse", nil))
	if w.code != http.StatusInternalServerError {
		t.Errorf("status: got %d; want 500", w.code)
	}
	if ct := w.header.Get("Content-Type"); ct == "text/event-stream" {
		t.Errorf("Content-Type: got %q; want no event stream", ct)
	}
	select {
	case <-tg.Done():
	default:
		t.Fatal("the target was not stopped")
	}
	if err := tg.Err(); !errors.Is(err, nethttpsse.ErrNoFlush) {
		t.Errorf("target.Err(): got %v; want ErrNoFlush", err)
	}
	if err := tg.Dispatch(core.Message{Data: "x"}); !errors.Is(err, core.ErrClosed) {
		t.Errorf("Dispatch: got %v; want core.ErrClosed", err)
	}

	tg2 := core.NewTarget()
	err := nethttpsse.Serve(&plainWriter{header: http.Header{}}, httptest.NewRequest(http.MethodGet, "/", nil), tg2, core.Options{})
	if !errors.Is(err, nethttpsse.ErrNoFlush) {
		t.Errorf("Serve: got %v; want ErrNoFlush", err)
	}
}

// unwrapper hides every optional interface of the writer it wraps, and
// exposes it through Unwrap, as middleware wrappers do.
type unwrapper struct{ w http.ResponseWriter }

func (u unwrapper) Header() http.Header         { return u.w.Header() }
func (u unwrapper) WriteHeader(code int)        { u.w.WriteHeader(code) }
func (u unwrapper) Write(p []byte) (int, error) { return u.w.Write(p) }
func (u unwrapper) Unwrap() http.ResponseWriter { return u.w }

// TestFlushThroughUnwrap: Serve finds Flush through a wrapper that has
// Unwrap: each event reaches the client while the stream is open (the
// producer waits for the client to read the first before closing).
func TestFlushThroughUnwrap(t *testing.T) {
	read := make(chan struct{})
	sse := nethttpsse.Handle(func(*http.Request) (core.EventTarget, error) {
		tg := core.NewTarget()
		go func() {
			defer tg.Close()
			if tg.Dispatch(core.Message{Data: "one"}) != nil {
				return
			}
			select {
			case <-read:
				_ = tg.Dispatch(core.Message{Data: "two"})
			case <-tg.Done():
			}
		}()
		return tg, nil
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sse.ServeHTTP(unwrapper{w}, r)
	}))
	defer srv.Close()
	p := get(t, srv.URL)
	expect(t, p, "one")
	close(read)
	expect(t, p, "two")
	if _, err := p.Next(); err != io.EOF {
		t.Errorf("after the events: got %v; want io.EOF", err)
	}
}

// TestServerWriteTimeout: http.Server.WriteTimeout is one absolute deadline
// per request; the stream rolls it forward on each write, so a stream
// outlives it (here the second event comes 600ms in, with a 200ms
// WriteTimeout and no heartbeat in between).
func TestServerWriteTimeout(t *testing.T) {
	ln := ssetest.Listen(t)
	srv := &http.Server{
		WriteTimeout:      200 * time.Millisecond,
		ReadHeaderTimeout: testTimeout,
		Handler: nethttpsse.Handle(func(*http.Request) (core.EventTarget, error) {
			tg := core.NewTarget()
			go func() {
				defer tg.Close()
				if tg.Dispatch(core.Message{Data: "first"}) != nil {
					return
				}
				timer := time.NewTimer(600 * time.Millisecond) // what is tested: a pause longer than WriteTimeout
				defer timer.Stop()
				select {
				case <-timer.C:
					_ = tg.Dispatch(core.Message{Data: "after 600ms"})
				case <-tg.Done():
				}
			}()
			return tg, nil
		}, core.WithHeartbeat(-1)),
	}
	ssetest.RunServer(t, ln, func(ln net.Listener) error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		return srv.Shutdown(ctx)
	})
	start := time.Now()
	p := get(t, "http://"+ln.Addr().String())
	expect(t, p, "first")
	expect(t, p, "after 600ms")
	if _, err := p.Next(); err != io.EOF {
		t.Errorf("after the events: got %v; want io.EOF (the stream ended cleanly)", err)
	}
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Errorf("the stream lasted %v; want at least 600ms", d)
	}
}

// TestLastEventID: LastEventID reads the request header.
func TestLastEventID(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if got := nethttpsse.LastEventID(r); got != "" {
		t.Errorf("no header: got %q; want empty", got)
	}
	r.Header.Set("Last-Event-ID", "42")
	if got := nethttpsse.LastEventID(r); got != "42" {
		t.Errorf("got %q; want 42", got)
	}
}

// get opens an event stream on url (see ssetest.Get).
func get(t *testing.T, url string) *client.Parser {
	t.Helper()
	resp, _ := ssetest.Get(t, ssetest.HTTPClient(t), url, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d; want 200", resp.StatusCode)
	}
	return client.NewParser(resp.Body)
}

// expect reads one event and checks its data.
func expect(t *testing.T, p *client.Parser, data string) {
	t.Helper()
	ev, err := p.Next()
	if err != nil {
		t.Fatalf("want event %q: got %v", data, err)
	}
	if ev.Data != data {
		t.Fatalf("event data: got %q; want %q", ev.Data, data)
	}
}
