package faults

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	fiberv2 "github.com/gofiber/fiber/v2"
	fiberv3 "github.com/gofiber/fiber/v3"
	echov4 "github.com/labstack/echo/v4"
	echov5 "github.com/labstack/echo/v5"
	"go.uber.org/goleak"

	echosse "github.com/ssekit/ssekit/adapters/echo"
	echov5sse "github.com/ssekit/ssekit/adapters/echov5"
	fibersse "github.com/ssekit/ssekit/adapters/fiber"
	fiberv3sse "github.com/ssekit/ssekit/adapters/fiberv3"
	ginsse "github.com/ssekit/ssekit/adapters/gin"
	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
	"github.com/ssekit/ssekit/interop/internal/nbioserve"
)

// fasthttpGlobals are fasthttp's process-wide goroutines, started once by a
// package-level sync.Once and never stopped.
var fasthttpGlobals = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	goleak.IgnoreTopFunction("github.com/valyala/fasthttp/stackless.funcWorker"),
}

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	raiseNoFile()
	goleak.VerifyTestMain(m, fasthttpGlobals...)
}

// raiseNoFile raises the soft limit on open files to the hard one (the
// disconnect storm keeps a few hundred sockets open at once, on both ends).
func raiseNoFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// wait bounds every wait of these tests that has no bound of its own. It is
// wide: the tests run with -race on busy machines.
const wait = 15 * time.Second

// request is what a test route sees of a request, copied out of the
// framework (Fiber's strings point into reused buffers).
type request struct {
	Method      string
	Query       url.Values // parsed with url.ParseQuery, the same on every adapter
	LastEventID string
	Context     context.Context
}

// handler is a test route: the same on every adapter.
type handler func(r request) (core.EventTarget, error)

// serverConfig is what a test sets on its server, as a user would.
type serverConfig struct {
	ReadHeaderTimeout time.Duration // net/http
	ReadTimeout       time.Duration // fasthttp (Fiber): headers and body
	SmallBuf          bool          // shrink every accepted connection's send buffer to 4 KiB
}

// adapter serves a handler at /sse through one ssekit adapter on a loopback
// port and returns the base URL; the server stops when the test ends.
type adapter struct {
	name  string
	serve func(t testing.TB, cfg serverConfig, h handler, opts ...core.Option) string
}

var adapters = []adapter{
	{"nethttp", serveNetHTTP},
	{"gin", serveGin},
	{"echo", serveEcho},
	{"echov5", serveEchoV5},
	{"fiber", serveFiber},
	{"fiberv3", serveFiberV3},
	{"nbio", serveNbio},
}

func adapterNamed(name string) adapter {
	for _, a := range adapters {
		if a.name == name {
			return a
		}
	}
	panic("no adapter " + name)
}

func parseQuery(raw string) url.Values {
	q, _ := url.ParseQuery(raw) // keeps what parsed before a bad escape
	return q
}

func fromHTTP(r *http.Request, last string) request {
	return request{Method: r.Method, Query: parseQuery(r.URL.RawQuery), LastEventID: last, Context: r.Context()}
}

// listen returns a loopback listener, shrinking send buffers when asked.
func listen(t testing.TB, cfg serverConfig) net.Listener {
	ln := ssetest.Listen(t)
	if cfg.SmallBuf {
		return ssetest.SmallBufListener{Listener: ln}
	}
	return ln
}

// serveHTTP serves h with net/http; a user sets ReadHeaderTimeout (not
// ReadTimeout or WriteTimeout, which would cut healthy streams).
func serveHTTP(t testing.TB, cfg serverConfig, h http.Handler) string {
	ln := listen(t, cfg)
	logs := new(ssetest.LogBuffer)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: cfg.ReadHeaderTimeout, ErrorLog: stdlog.New(logs, "", 0)}
	ssetest.RunServer(t, ln, func(ln net.Listener) error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(ctx)
		if err != nil {
			_ = srv.Close()
		}
		return err
	})
	t.Cleanup(func() {
		if l := logs.String(); strings.Contains(l, "panic") {
			t.Errorf("net/http logged a panic: %s", strings.TrimSpace(truncate(l, 4000)))
		} else if l != "" {
			t.Logf("net/http logged: %s", strings.TrimSpace(truncate(l, 2000)))
		}
	})
	return "http://" + ln.Addr().String()
}

func serveNetHTTP(t testing.TB, cfg serverConfig, h handler, opts ...core.Option) string {
	return serveHTTP(t, cfg, nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return h(fromHTTP(r, nethttpsse.LastEventID(r)))
	}, opts...))
}

func serveGin(t testing.TB, cfg serverConfig, h handler, opts ...core.Option) string {
	r := gin.New()
	r.Any("/sse", ginsse.Handle(func(c *gin.Context) (core.EventTarget, error) {
		return h(fromHTTP(c.Request, ginsse.LastEventID(c)))
	}, opts...))
	return serveHTTP(t, cfg, r)
}

func serveEcho(t testing.TB, cfg serverConfig, h handler, opts ...core.Option) string {
	e := echov4.New()
	e.Logger.SetOutput(io.Discard)
	e.Any("/sse", echosse.Handle(func(c echov4.Context) (core.EventTarget, error) {
		return h(fromHTTP(c.Request(), echosse.LastEventID(c)))
	}, opts...))
	return serveHTTP(t, cfg, e)
}

func serveEchoV5(t testing.TB, cfg serverConfig, h handler, opts ...core.Option) string {
	e := echov5.New()
	e.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	e.Any("/sse", echov5sse.Handle(func(c *echov5.Context) (core.EventTarget, error) {
		return h(fromHTTP(c.Request(), echov5sse.LastEventID(c)))
	}, opts...))
	return serveHTTP(t, cfg, e)
}

// serveFasthttp runs a Fiber app (v2 or v3) on a loopback listener.
func serveFasthttp(t testing.TB, cfg serverConfig, serve func(net.Listener) error, shutdown func(time.Duration) error) string {
	ln := listen(t, cfg)
	ssetest.RunServer(t, ln, serve, func() error { return shutdown(5 * time.Second) })
	return "http://" + ln.Addr().String()
}

func serveFiber(t testing.TB, cfg serverConfig, h handler, opts ...core.Option) string {
	app := fiberv2.New(fiberv2.Config{DisableStartupMessage: true, ReadTimeout: cfg.ReadTimeout})
	// fasthttp's worker pool cleaner sleeps this long between rounds and
	// only then sees that the server stopped: keep it short for goleak.
	app.Server().MaxIdleWorkerDuration = 10 * time.Millisecond
	app.All("/sse", fibersse.Handle(func(c *fiberv2.Ctx) (core.EventTarget, error) {
		rc := c.Context()
		return h(request{Method: string(rc.Method()), Query: parseQuery(string(rc.URI().QueryString())),
			LastEventID: fibersse.LastEventID(c), Context: context.Background()})
	}, opts...))
	return serveFasthttp(t, cfg, app.Listener, app.ShutdownWithTimeout)
}

func serveFiberV3(t testing.TB, cfg serverConfig, h handler, opts ...core.Option) string {
	app := fiberv3.New(fiberv3.Config{ReadTimeout: cfg.ReadTimeout})
	app.Server().MaxIdleWorkerDuration = 10 * time.Millisecond
	app.All("/sse", fiberv3sse.Handle(func(c fiberv3.Ctx) (core.EventTarget, error) {
		rc := c.RequestCtx()
		return h(request{Method: string(rc.Method()), Query: parseQuery(string(rc.URI().QueryString())),
			LastEventID: fiberv3sse.LastEventID(c), Context: context.Background()})
	}, opts...))
	return serveFasthttp(t, cfg, func(ln net.Listener) error {
		return app.Listener(ln, fiberv3.ListenConfig{DisableStartupMessage: true})
	}, app.ShutdownWithTimeout)
}

// serveNbio serves through the nbio adapter on an nbhttp engine, whose one
// read timeout (KeepaliveTime) takes the config's longer one. nbhttp's
// request context does not end with the client: the route gets a
// background one.
func serveNbio(t testing.TB, cfg serverConfig, h handler, opts ...core.Option) string {
	ln := listen(t, cfg)
	stop, err := nbioserve.Start(ln, nbiosse.Handle(func(r *http.Request) (core.EventTarget, error) {
		req := fromHTTP(r, nbiosse.LastEventID(r))
		req.Context = context.Background()
		return h(req)
	}, opts...), max(cfg.ReadHeaderTimeout, cfg.ReadTimeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String()
}

// ends counts the streams that ended, by reason; pass ends.option() to a
// route.
type ends struct {
	mu      sync.Mutex
	n       int
	reasons map[string]int
	changed chan struct{} // cap 1
}

func newEnds() *ends { return &ends{reasons: map[string]int{}, changed: make(chan struct{}, 1)} }

func (e *ends) option() core.Option {
	return core.WithOnEnd(func(err error) {
		e.mu.Lock()
		e.n++
		e.reasons[reasonOf(err)]++
		e.mu.Unlock()
		select {
		case e.changed <- struct{}{}:
		default:
		}
	})
}

func (e *ends) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

func (e *ends) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return fmt.Sprint(e.reasons)
}

// waitFor waits until n streams have ended, within d.
func (e *ends) waitFor(t testing.TB, n int, d time.Duration) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for e.count() < n {
		select {
		case <-e.changed:
		case <-deadline.C:
			t.Fatalf("%d streams ended (%s); want %d within %v", e.count(), e, n, d)
		}
	}
}

// reasonOf names the reason a stream ended, for counting.
func reasonOf(err error) string {
	switch {
	case err == nil:
		return "normal"
	case errors.Is(err, core.ErrClientGone):
		return "client gone"
	case errors.Is(err, core.ErrWrite):
		return "write failed"
	case errors.Is(err, core.ErrShutdown):
		return "shutdown"
	}
	var p *core.PanicError
	if errors.As(err, &p) {
		return "PANIC"
	}
	return truncate(err.Error(), 60)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// heapInuse returns HeapInuse after two collections.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

const (
	kiB = 1 << 10
	miB = 1 << 20
)

// checkHeap fails the test when the heap grew past base by more than bound,
// and logs the figure.
func checkHeap(t testing.TB, what string, base uint64, bound uint64) uint64 {
	t.Helper()
	now := heapInuse()
	grew := int64(now) - int64(base)
	t.Logf("heap %s: %.1f MiB in use (%+.1f MiB over the baseline; bound %+.0f MiB)",
		what, float64(now)/miB, float64(grew)/miB, float64(bound)/miB)
	if grew > int64(bound) {
		t.Errorf("heap %s grew by %.1f MiB; bound %.0f MiB", what, float64(grew)/miB, float64(bound)/miB)
	}
	return now
}

// waitGoroutines waits until at most base+slack goroutines run, within d,
// and fails the test with their stacks otherwise. It returns the count.
func waitGoroutines(t testing.TB, what string, base, slack int, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		n := runtime.NumGoroutine()
		if n <= base+slack {
			t.Logf("goroutines %s: %d (baseline %d)", what, n, base)
			return n
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("goroutines %s: %d, baseline %d (+%d allowed) after %v:\n%s", what, n, base, slack, d, truncate(b.String(), 20000))
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settle lets the goroutines of a test just started (servers, pools) come
// up, and returns the goroutine count and heap to compare with.
func settle() (goroutines int, heap uint64) {
	time.Sleep(50 * time.Millisecond)
	return runtime.NumGoroutine(), heapInuse()
}

// hostPort strips the scheme of a base URL.
func hostPort(base string) string { return strings.TrimPrefix(base, "http://") }

// dial opens a TCP connection to base; it is closed when the test ends.
func dial(t testing.TB, base string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", hostPort(base))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// dialSmallWindow is dial with a 4 KiB receive buffer set before the
// connection is made, so that the window it advertises stays small: a client
// that never reads blocks the server's writes after a few KiB.
func dialSmallWindow(t testing.TB, base string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4*kiB)
		})
		return errors.Join(err, serr)
	}}
	c, err := d.Dial("tcp", hostPort(base))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// reset closes c with a TCP RST instead of a FIN.
func reset(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}

// rawResponse is a response read off a raw connection.
type rawResponse struct {
	status int
	header http.Header
	br     *bufio.Reader
}

// readResponseHead reads a status line and headers within d.
func readResponseHead(c net.Conn, br *bufio.Reader, d time.Duration) (*rawResponse, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("status line: %w (got %q)", err, line)
	}
	parts := strings.SplitN(strings.TrimSpace(line), " ", 3)
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "HTTP/1.") {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	var status int
	if _, err := fmt.Sscanf(parts[1], "%d", &status); err != nil {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	h := http.Header{}
	for range 200 {
		l, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("headers: %w", err)
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			return &rawResponse{status: status, header: h, br: br}, nil
		}
		k, v, _ := strings.Cut(l, ":")
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return nil, errors.New("too many header lines")
}
