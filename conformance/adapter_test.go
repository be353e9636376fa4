package conformance_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ssekit/ssekit/adapter"
	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
)

// request maps a net/http request to the suite's view of it.
func request(r *http.Request) conformance.Request {
	return conformance.Request{
		Method:      r.Method,
		Path:        r.URL.Path,
		Query:       r.URL.RawQuery,
		LastEventID: r.Header.Get("Last-Event-ID"),
		Header:      r.Header,
		Context:     r.Context(),
		Body:        r.Body,
	}
}

// nethttpHarness serves through the net/http adapter: the reference.
var nethttpHarness = conformance.HarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) string {
	srv := httptest.NewServer(nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return h(request(r))
	}, opts...))
	t.Cleanup(srv.Close)
	return srv.URL
})

// breakage is a way for an adapter to get SSE wrong, for proving that the
// suite notices. The zero value breaks nothing.
type breakage struct {
	noFlush    bool            // Flush does nothing (the server's buffers decide)
	holdBack   bool            // the last byte written is held back until the next write
	noDeadline bool            // the writer cannot bound writes
	okOnError  bool            // a handler error answers an empty 200 stream (Danet's bug)
	header     [2]string       // a header to set over core's
	leak       <-chan struct{} // leak a goroutine per request, until this closes
}

// brokenHarness serves through a small custom adapter written on core
// directly, broken as b says.
func brokenHarness(b breakage) conformance.Harness {
	return conformance.HarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) string {
		o := core.NewOptions(opts...)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if b.leak != nil {
				go func() { <-b.leak }()
			}
			tg, err := adapter.CallHandler(o, r, func(r *http.Request) (core.EventTarget, error) { return h(request(r)) })
			if refusing := errors.Is(err, core.ErrShutdown) || err == nil && adapter.Closing(o); refusing {
				adapter.SetHeader(w.Header())
				if r.ProtoMajor < 2 {
					w.Header().Set("Connection", "close")
				}
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write(adapter.Refusal())
				if err == nil {
					_ = adapter.End(tg, o, core.ErrShutdown) // CallHandler reported a handler's error already
				}
				return
			}
			if err != nil && !b.okOnError {
				http.Error(w, core.ErrorText(err), core.StatusOf(err))
				return
			}
			adapter.SetHeader(w.Header())
			if b.header[0] != "" {
				w.Header().Set(b.header[0], b.header[1])
			}
			w.WriteHeader(http.StatusOK)
			if err != nil {
				return
			}
			rc := http.NewResponseController(w)
			_ = rc.EnableFullDuplex()
			bw := &brokenWriter{w: w, rc: rc, b: b}
			var cw adapter.Writer = bw
			if !b.noDeadline {
				cw = deadlineWriter{bw}
			}
			_ = adapter.Run(r.Context(), cw, tg, o)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	})
}

type brokenWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	b    breakage
	mu   sync.Mutex
	held []byte
}

func (w *brokenWriter) Write(p []byte) (int, error) {
	if !w.b.holdBack || len(p) == 0 {
		return w.w.Write(p)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out := append(w.held, p[:len(p)-1]...)
	w.held = []byte{p[len(p)-1]}
	if _, err := w.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *brokenWriter) Flush() error {
	if w.b.noFlush {
		return nil
	}
	return w.rc.Flush()
}

type deadlineWriter struct{ *brokenWriter }

func (w deadlineWriter) SetWriteDeadline(t time.Time) error { return w.rc.SetWriteDeadline(t) }

// TestCustomAdapter checks that an adapter written on core directly, with
// nothing broken, passes everything: the baseline for the broken ones.
func TestCustomAdapter(t *testing.T) {
	conformance.Run(t, brokenHarness(breakage{}))
}

// TestReferenceHarness runs the suite on the net/http adapter from this
// package's tests too, so a change to the suite is checked against it here.
func TestReferenceHarness(t *testing.T) {
	conformance.Run(t, nethttpHarness)
}
