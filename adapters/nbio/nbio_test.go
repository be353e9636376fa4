package nbiosse_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"

	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
	"github.com/ssekit/ssekit/adapters/nbio/nbiotest"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// logTo sends nbio's log to buf until the test ends.
type logTo struct{ buf *ssetest.LogBuffer }

func (l logTo) Debug(string, ...any)          {}
func (l logTo) Info(string, ...any)           {}
func (l logTo) Warn(string, ...any)           {}
func (l logTo) Error(format string, v ...any) { fmt.Fprintf(l.buf, format, v...) }

// TestPanicsVisible guards against panics that vanish: a stream runs on the
// shared worker pool after the handler returned, out of reach of nbhttp's
// own recover. Both the handler's and the stream's panic are logged with
// their stacks through nbio's logger and reach OnEnd.
func TestPanicsVisible(t *testing.T) {
	var buf ssetest.LogBuffer
	prev := logging.DefaultLogger
	logging.SetLogger(logTo{&buf})
	t.Cleanup(func() { logging.SetLogger(prev) })
	ssetest.PanicsVisible(t, func(t *testing.T, h func() (core.EventTarget, error), opts ...core.Option) string {
		return serve(t, nbiosse.Handle(func(*http.Request) (core.EventTarget, error) { return h() }, opts...))
	}, buf.Panics)
}

// TestNoGoroutinePerStream guards the point of the adapter: 200 idle streams
// (heartbeats on, so the timing wheel holds them all) add no goroutine per
// stream on the server, only the shared pool, wheel and engine ones.
func TestNoGoroutinePerStream(t *testing.T) {
	const n = 200
	ts := ssetest.NewTargets(n)
	base := serve(t, nbiosse.Handle(func(*http.Request) (core.EventTarget, error) { return ts.New() },
		core.WithHeartbeat(time.Minute)))
	before := runtime.NumGoroutine()
	conns := make([]net.Conn, n)
	for i := range conns {
		conn, err := net.Dial("tcp", base[len("http://"):])
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n")
		conns[i] = conn
	}
	targets := make([]*core.Target, n)
	for i := range targets {
		targets[i] = ts.Next(t)
	}
	for _, conn := range conns { // every stream has sent its headers
		_ = conn.SetReadDeadline(time.Now().Add(ssetest.Timeout))
		buf := make([]byte, 512)
		if _, err := conn.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	// Only the client side's goroutines are per connection here: none, as
	// the connections are read by this goroutine.
	if grew := runtime.NumGoroutine() - before; grew > 40 {
		t.Fatalf("%d idle streams added %d goroutines; want no goroutine per stream (at most 40 shared)", n, grew)
	}
	for _, tg := range targets {
		tg.Close()
	}
	for _, tg := range targets {
		ssetest.WaitDone(t, tg, ssetest.Timeout)
	}
}

// TestNotAttached checks that an engine not prepared with Attach gets a 500
// and OnEnd hears why, instead of streams that never learn their writes left.
func TestNotAttached(t *testing.T) {
	ended := make(chan error, 1)
	ln := ssetest.Listen(t)
	e := nbhttp.NewEngine(nbhttp.Config{
		Network: "tcp", Addrs: []string{ln.Addr().String()}, NPoller: 1,
		Listen: func(string, string) (net.Listener, error) { return ln, nil },
		Handler: nbiosse.Handle(func(*http.Request) (core.EventTarget, error) { return core.NewTarget(), nil },
			core.WithOnEnd(func(err error) { ended <- err })),
	})
	nbiotest.RaceShim(e)
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	resp, cancel := ssetest.Get(t, ssetest.HTTPClient(t), "http://"+ln.Addr().String()+"/sse", nil)
	defer cancel()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status %d; want 500", resp.StatusCode)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, nbiosse.ErrNotAttached) {
			t.Errorf("OnEnd got %v; want ErrNotAttached", err)
		}
	case <-time.After(ssetest.Timeout):
		t.Fatal("OnEnd not called")
	}
}

// readyOnly is an EventTarget without Notify: the adapter watches its Ready
// channel on a goroutine of its own.
type readyOnly struct{ t *core.Target }

func (r readyOnly) Ready() <-chan struct{}          { return r.t.Ready() }
func (r readyOnly) Drain(dst []byte) ([]byte, bool) { return r.t.Drain(dst) }
func (r readyOnly) Stop(err error)                  { r.t.Stop(err) }

// TestTargetWithoutNotifier checks that a target that only has Ready still
// streams, and that the goroutine watching it ends with the stream (goleak).
func TestTargetWithoutNotifier(t *testing.T) {
	base := serve(t, nbiosse.Handle(func(*http.Request) (core.EventTarget, error) {
		tg := core.NewTarget()
		go func() {
			for i := range 3 {
				tg.Dispatch(core.Message{Data: fmt.Sprint(i)})
				time.Sleep(5 * time.Millisecond)
			}
			tg.Close()
		}()
		return readyOnly{tg}, nil
	}))
	resp, cancel := ssetest.Get(t, ssetest.HTTPClient(t), base+"/sse", nil)
	defer cancel()
	if body := ssetest.ReadAll(t, resp.Body); body != "data: 0\n\ndata: 1\n\ndata: 2\n\n" {
		t.Fatalf("body %q", body)
	}
}

// TestKeepAliveAfterStream checks that after a stream ends cleanly its
// connection serves the next request, as net/http's does (nbhttp's parser
// gets it back), instead of a close that races the client's reuse.
func TestKeepAliveAfterStream(t *testing.T) {
	ts := ssetest.NewTargets(1)
	mux := http.NewServeMux()
	mux.Handle("GET /sse", nbiosse.Handle(func(*http.Request) (core.EventTarget, error) { return ts.New() },
		core.WithWriteTimeout(50*time.Millisecond)))
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	s := ssetest.Server{Base: serve(t, mux), Targets: ts}
	ssetest.KeepAliveAfterStream(t, s)
}
