// Package ssetest holds the helpers that the adapters' tests share: a
// response reader built on the spec-exact client parser, raw HTTP/1.1
// connections and header blocks, the Danet example route and what a client
// must see of it, and checks written once for every adapter given a server's
// URL.
//
// Like net/http/httptest, it is for tests only: helpers fail the test they
// are given (t.Fatalf) or panic on a misuse, and every wait is bounded.
// Only the standard library, core and client may be imported here, so that
// every module of github.com/ssekit/ssekit can use it.
package ssetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// Timeout bounds every request and wait of these helpers that has no bound
// of its own.
const Timeout = 10 * time.Second

// LogBuffer collects log output (a framework's logger, http.Server.ErrorLog)
// from any goroutine.
// Records of the panics the adapters log on purpose (each is one Write,
// holding "ssekit: panic") are kept apart: see Panics.
type LogBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	panics bytes.Buffer
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if bytes.Contains(p, []byte("ssekit: panic")) {
		return b.panics.Write(p)
	}
	return b.buf.Write(p)
}

// Panics returns the panic records written so far (with their stacks).
func (b *LogBuffer) Panics() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.panics.String()
}

// String returns what was written so far, but the panic records.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// HTTPClient returns a client without transparent decompression, whose
// requests time out after Timeout and whose idle connections are closed when
// the test ends.
func HTTPClient(t testing.TB) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: Timeout}
}

// Get sends a GET for url with header (may be nil) through c, under a
// context that ends after Timeout. The body is closed when the test ends;
// cancel abandons the request earlier (it closes the client's connection).
func Get(t testing.TB, c *http.Client, url string, header http.Header) (resp *http.Response, cancel context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err = c.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close(); cancel() })
	return resp, cancel
}

// ReadAll reads a whole (short) body and returns it as a string.
func ReadAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

// Stream is what a client read from a response body.
type Stream struct {
	Events  []client.Event
	Retries []time.Duration // every retry field, in order
	Raw     []byte          // the bytes read
	Err     error           // io.EOF when the body ended normally; nil when max events arrived first
}

// ReadStream parses body until it ends, fails, or max events arrive. Its
// waits are bounded by the body's own: a response from Get, or a connection
// with a read deadline.
func ReadStream(body io.Reader, max int) Stream {
	var s Stream
	var raw bytes.Buffer
	p := client.NewParser(io.TeeReader(body, &raw))
	p.OnRetry = func(d time.Duration) { s.Retries = append(s.Retries, d) }
	for len(s.Events) < max {
		ev, err := p.Next()
		if err != nil {
			s.Err = err
			break
		}
		s.Events = append(s.Events, ev)
	}
	s.Raw = raw.Bytes()
	return s
}

// Events reads every event of a stream until it ends normally, failing the
// test on any other error or after 1000 events.
func Events(t testing.TB, r io.Reader) []client.Event {
	t.Helper()
	s := ReadStream(r, 1000)
	if s.Err != io.EOF {
		t.Fatalf("after %d events: %v; want io.EOF", len(s.Events), s.Err)
	}
	return s.Events
}

// Send returns a target holding msgs and closed: its stream writes them and
// ends. It has the shape of an adapter handler's result.
func Send(msgs ...core.Message) (core.EventTarget, error) {
	tg := core.NewTarget()
	for _, m := range msgs {
		if err := tg.Dispatch(m); err != nil {
			panic("ssetest.Send: " + err.Error())
		}
	}
	tg.Close()
	return tg, nil
}

// Danet returns the target of the Danet route of the README (The model): a producer
// dispatches four "hello" events (ids 0 to 3, retry 1s) pause apart, then a
// "close" event (id 4) that ends the stream. The producer stops early when
// the stream ends.
func Danet(pause time.Duration) *core.Target {
	t := core.NewTarget()
	go func() {
		defer t.Close()
		for id := 0; id < 4; id++ {
			if t.Dispatch(core.Message{ID: strconv.Itoa(id), Event: "hello", Data: "world", Retry: time.Second}) != nil {
				return
			}
			timer := time.NewTimer(pause)
			select {
			case <-timer.C:
			case <-t.Done():
				timer.Stop()
				return
			}
		}
		_ = t.Dispatch(core.Message{ID: "4", Event: "close", Data: "close", Retry: time.Second})
	}()
	return t
}

// DanetEvents returns the events a client must see of the Danet route.
func DanetEvents() []client.Event {
	var evs []client.Event
	for id := range 4 {
		evs = append(evs, client.Event{Type: "hello", Data: "world", LastEventID: strconv.Itoa(id)})
	}
	return append(evs, client.Event{Type: "close", Data: "close", LastEventID: "4"})
}

// DanetBody is the exact response body of the Danet route.
const DanetBody = "id: 0\nevent: hello\nretry: 1000\ndata: world\n\n" +
	"id: 1\nevent: hello\nretry: 1000\ndata: world\n\n" +
	"id: 2\nevent: hello\nretry: 1000\ndata: world\n\n" +
	"id: 3\nevent: hello\nretry: 1000\ndata: world\n\n" +
	"id: 4\nevent: close\nretry: 1000\ndata: close\n\n"

// CheckDanet checks a whole stream read from the Danet route: its events,
// its exact bytes, five retry fields of 1s, and a normal end.
func CheckDanet(t testing.TB, s Stream) {
	t.Helper()
	if s.Err != io.EOF {
		t.Fatalf("end of body: got %v; want io.EOF", s.Err)
	}
	if want := DanetEvents(); !slices.Equal(s.Events, want) {
		t.Errorf("events: got %+v; want %+v", s.Events, want)
	}
	if string(s.Raw) != DanetBody {
		t.Errorf("body: got %q; want %q", s.Raw, DanetBody)
	}
	if len(s.Retries) != 5 || slices.ContainsFunc(s.Retries, func(d time.Duration) bool { return d != time.Second }) {
		t.Errorf("retries: got %v; want 5 times 1s", s.Retries)
	}
}

// Ticks returns a target whose producer dispatches n events with ids 0 to
// n-1, every apart (the first at once), then closes it. It stops early when
// the stream ends.
func Ticks(n int, every time.Duration) *core.Target {
	tg := core.NewTarget()
	go func() {
		defer tg.Close()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := range n {
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
	return tg
}

// Produce dispatches an event with data and ids counting from 0 every
// interval (as fast as possible when interval is 0) until the stream ends,
// for at most 100000 events.
func Produce(tg *core.Target, data string, interval time.Duration) {
	var tick <-chan time.Time
	if interval > 0 {
		tk := time.NewTicker(interval)
		defer tk.Stop()
		tick = tk.C
	}
	for i := 0; i < 100000; i++ {
		if tg.Dispatch(core.Message{ID: strconv.Itoa(i), Data: data}) != nil {
			return
		}
		if tick == nil {
			continue
		}
		select {
		case <-tick:
		case <-tg.Done():
			return
		}
	}
}

// Targets hands the test every target that a route creates.
type Targets struct {
	ch   chan *core.Target
	opts []core.TargetOption
}

// NewTargets returns a Targets whose routes may create n targets before the
// test takes one; each is made with opts.
func NewTargets(n int, opts ...core.TargetOption) *Targets {
	return &Targets{ch: make(chan *core.Target, n), opts: opts}
}

// New creates a target and hands it to the test: a route's handler returns
// ts.New(). It panics when more targets wait than NewTargets allowed.
func (ts *Targets) New() (core.EventTarget, error) {
	tg := core.NewTarget(ts.opts...)
	select {
	case ts.ch <- tg:
	default:
		panic("ssetest: too many targets waiting")
	}
	return tg, nil
}

// Next returns the next target the route created, within 5s.
func (ts *Targets) Next(t testing.TB) *core.Target {
	t.Helper()
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	select {
	case tg := <-ts.ch:
		return tg
	case <-timer.C:
		t.Fatalf("the handler was not called")
		return nil
	}
}

// WaitDone waits until tg's stream has ended, within the given time, and
// returns how long it took.
func WaitDone(t testing.TB, tg *core.Target, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case <-tg.Done():
		return time.Since(start)
	case <-timer.C:
		t.Fatalf("stream still running after %v", within)
		return 0
	}
}

// StillRunning fails the test if tg's stream ends within d.
func StillRunning(t testing.TB, tg *core.Target, d time.Duration, why string) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-tg.Done():
		t.Fatalf("stream ended %s: %v", why, tg.Err())
	case <-timer.C:
	}
}

// EndedByClient reports whether err is how a stream ends when its client
// leaves: core.ErrClientGone or core.ErrWrite.
func EndedByClient(err error) bool {
	return errors.Is(err, core.ErrClientGone) || errors.Is(err, core.ErrWrite)
}

// hostPort strips the scheme of a base URL.
func hostPort(base string) string {
	return strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")
}

// Dial opens a TCP connection to base (a base URL, or host:port), closed
// when the test ends, and sends a request for path with hdr (name, value
// pairs) on it, unless method is empty.
func Dial(t testing.TB, base, method, path string, hdr ...string) (net.Conn, *bufio.Reader) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", hostPort(base))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	if method != "" {
		WriteRequest(t, conn, method, path, hdr...)
	}
	return conn, bufio.NewReader(conn)
}

// DialTLS is Dial over TLS with the client configuration cfg.
func DialTLS(t testing.TB, base string, cfg *tls.Config, method, path string, hdr ...string) (net.Conn, *bufio.Reader) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", hostPort(base), cfg)
	if err != nil {
		t.Fatalf("dial TLS: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	if method != "" {
		WriteRequest(t, conn, method, path, hdr...)
	}
	return conn, bufio.NewReader(conn)
}

// WriteRequest writes an HTTP/1.1 request without a body, with hdr (name,
// value pairs), within 5s.
func WriteRequest(t testing.TB, conn net.Conn, method, path string, hdr ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: test\r\n")
	for i := 0; i+1 < len(hdr); i += 2 {
		b.WriteString(hdr[i] + ": " + hdr[i+1] + "\r\n")
	}
	b.WriteString("\r\n")
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
}

// ReadHeader reads a raw HTTP/1.1 response header block (the status line
// through the empty line, at most 100 lines) from br.
func ReadHeader(br *bufio.Reader) (string, error) {
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

// ReadHeaderLines reads a response header block from br, within 5s on conn,
// and returns its status line and its header lines but Date, sorted, without
// their CRLF.
func ReadHeaderLines(t testing.TB, conn net.Conn, br *bufio.Reader) (status string, lines []string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, err := ReadHeader(br)
	if err != nil {
		t.Fatalf("reading headers: %v (got %q)", err, h)
	}
	all := strings.Split(strings.TrimSuffix(h, "\r\n\r\n"), "\r\n")
	for _, l := range all[1:] {
		if !strings.HasPrefix(l, "Date: ") {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return all[0], lines
}

// ChunkedHeaders are the header lines (but Date) of a stream served over
// HTTP/1.1, as ReadHeaderLines returns them: the three SSE headers, and the
// server's own chunked framing of a body of unknown size.
var ChunkedHeaders = []string{
	"Cache-Control: no-cache",
	"Content-Type: text/event-stream",
	"Transfer-Encoding: chunked",
	"X-Accel-Buffering: no",
}

// ReadResponse reads a response head from br within 5s on conn, and fails
// the test unless its status is 200.
func ReadResponse(t testing.TB, conn net.Conn, br *bufio.Reader) *http.Response {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d; want 200", resp.StatusCode)
	}
	return resp
}

// SmallBufListener shrinks the send buffer of every accepted TCP connection,
// so that a client that stops reading blocks the server's writes after a
// few KiB.
type SmallBufListener struct{ net.Listener }

// Accept accepts a connection and shrinks its send buffer to 4 KiB.
func (l SmallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// Listen returns a listener on a free loopback port.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln
}

// Certificate returns a server configuration with a fresh self-signed
// certificate for 127.0.0.1, and a client configuration that trusts it.
func Certificate(t testing.TB) (server, client *tls.Config) {
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

// ListenTLS returns a loopback listener serving TLS with a fresh
// self-signed certificate for 127.0.0.1 (see Certificate), and a client
// configuration that trusts it.
func ListenTLS(t testing.TB) (net.Listener, *tls.Config) {
	t.Helper()
	srv, cli := Certificate(t)
	return tls.NewListener(Listen(t), srv), cli
}

// RunServer runs serve(ln) on a new goroutine until the test ends; then it
// calls shutdown and fails the test if either fails or serve has not
// returned within 5s.
func RunServer(t testing.TB, ln net.Listener, serve func(net.Listener) error, shutdown func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- serve(ln) }()
	t.Cleanup(func() {
		if err := shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		timer := time.NewTimer(5 * time.Second)
		defer timer.Stop()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-timer.C:
			t.Error("serve did not return after shutdown")
		}
	})
}
