package fiberv3sse_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v3"
	"go.uber.org/goleak"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// fasthttpGlobals are fasthttp's process-wide goroutines, started once by a
// package-level sync.Once and never stopped.
var fasthttpGlobals = []goleak.Option{
	// fasthttp refreshes its cached Date header line once a second on one
	// goroutine started by serverDateOnce (header.go) the first time a server
	// writes a response.
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	// fasthttp compresses on GOMAXPROCS worker goroutines started once per
	// algorithm (stacklessWriteGzipOnce in compress.go, and the Brotli,
	// Deflate and Zstd ones).
	goleak.IgnoreTopFunction("github.com/valyala/fasthttp/stackless.funcWorker"),
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, fasthttpGlobals...) }

// newApp returns a Fiber app.
func newApp(cfg ...fiber.Config) *fiber.App {
	app := fiber.New(cfg...)
	// fasthttp's worker pool cleaner sleeps this long between rounds and
	// only then sees that the server stopped: keep it short so that it has
	// exited when goleak looks.
	app.Server().MaxIdleWorkerDuration = 10 * time.Millisecond
	return app
}

// serve runs app on a loopback listener until the test ends and returns its
// base URL.
func serve(t testing.TB, app *fiber.App) string {
	t.Helper()
	return "http://" + serveOn(t, app, listen(t)).Addr().String()
}

// serveTLS is serve over TLS, with a fresh self-signed certificate for
// 127.0.0.1. It returns the base URL and a client configuration that trusts
// the certificate.
func serveTLS(t testing.TB, app *fiber.App) (string, *tls.Config) {
	t.Helper()
	srv, cli := certificate(t)
	ln := serveOn(t, app, tls.NewListener(listen(t), srv))
	return "https://" + ln.Addr().String(), cli
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serveOn runs app on ln until the test ends.
func serveOn(t testing.TB, app *fiber.App, ln net.Listener) net.Listener {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- app.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true}) }()
	t.Cleanup(func() {
		if err := app.ShutdownWithTimeout(5 * time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("listener: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("listener did not return after shutdown")
		}
	})
	return ln
}

// certificate returns a server configuration with a fresh self-signed
// certificate for 127.0.0.1, and a client configuration that trusts it.
func certificate(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ssekit test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// httpClient returns a client whose idle connections are closed when the
// test ends.
func httpClient(t testing.TB) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// get sends a GET with the given headers (name, value pairs).
func get(t testing.TB, c *http.Client, url string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// readAll reads a whole (short) body.
func readAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// targets is a route that hands every target it creates to the test.
type targets chan *core.Target

func (ch targets) handler(opts ...core.TargetOption) func(fiber.Ctx) (core.EventTarget, error) {
	return func(fiber.Ctx) (core.EventTarget, error) {
		tg := core.NewTarget(opts...)
		ch <- tg
		return tg, nil
	}
}

// next returns the next target the route created.
func (ch targets) next(t testing.TB) *core.Target {
	t.Helper()
	select {
	case tg := <-ch:
		return tg
	case <-time.After(5 * time.Second):
		t.Fatal("the handler was not called")
		return nil
	}
}

// waitDone waits until tg's stream has ended and returns how long it took.
func waitDone(t testing.TB, tg *core.Target, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-tg.Done():
		return time.Since(start)
	case <-time.After(within):
		t.Fatalf("stream still running after %v", within)
		return 0
	}
}

// rawConn dials addr (a base URL) and sends a request for path.
func rawConn(t testing.TB, base, method, path string, hdr ...string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	writeRequest(t, conn, method, path, hdr...)
	return conn, bufio.NewReader(conn)
}

// rawTLSConn is rawConn over TLS, for a base URL and client configuration
// from serveTLS.
func rawTLSConn(t testing.TB, base string, cfg *tls.Config, method, path string, hdr ...string) (net.Conn, *bufio.Reader) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", strings.TrimPrefix(base, "https://"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	writeRequest(t, conn, method, path, hdr...)
	return conn, bufio.NewReader(conn)
}

func writeRequest(t testing.TB, conn net.Conn, method, path string, hdr ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: test\r\n")
	for i := 0; i+1 < len(hdr); i += 2 {
		b.WriteString(hdr[i] + ": " + hdr[i+1] + "\r\n")
	}
	b.WriteString("\r\n")
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
}

// events reads every event of a stream until it ends.
func events(t testing.TB, r io.Reader) []client.Event {
	t.Helper()
	p := client.NewParser(r)
	var evs []client.Event
	for range 1000 {
		ev, err := p.Next()
		if err == io.EOF {
			return evs
		}
		if err != nil {
			t.Fatalf("after %d events: %v", len(evs), err)
		}
		evs = append(evs, ev)
	}
	t.Fatal("too many events")
	return nil
}

// bg is a context for the tests' client calls.
func bg(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
