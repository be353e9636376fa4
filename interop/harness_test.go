package interop

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"iter"
	stdlog "log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	fiberv2 "github.com/gofiber/fiber/v2"
	fiberv3 "github.com/gofiber/fiber/v3"
	echov4 "github.com/labstack/echo/v4"
	echov5 "github.com/labstack/echo/v5"

	echosse "github.com/ssekit/ssekit/adapters/echo"
	echov5sse "github.com/ssekit/ssekit/adapters/echov5"
	fibersse "github.com/ssekit/ssekit/adapters/fiber"
	fiberv3sse "github.com/ssekit/ssekit/adapters/fiberv3"
	ginsse "github.com/ssekit/ssekit/adapters/gin"
	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/interop/internal/nbioserve"
)

// Besides the conformance handler on every other path, each test server has
// two routes of its framework's own:
const (
	// pagePath serves a blank HTML page, so that Chromium's EventSource runs
	// on the server's origin (the handlers send no CORS headers).
	pagePath = "/__interop/page"
	// plainPath answers 200 with a plain-text body: not an event stream.
	plainPath = "/__interop/plain"
	// noContentPath hands its first request to the conformance handler and
	// answers every later one 204 No Content, by the framework itself.
	noContentPath = "/__interop/204"
)

// pageHTML is the blank page; its empty icon keeps Chromium from asking for
// /favicon.ico, which the handler under test would answer.
var pageHTML = []byte(`<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">` +
	`<title>ssekit interop</title></head><body></body></html>`)

const plainBody = "not an event stream"

// server is one running test server.
type server struct {
	base       string       // such as http://127.0.0.1:41234, or https://... over h2
	ca         string       // over h2: the PEM certificate clients must trust; "" otherwise
	plainHits  atomic.Int32 // requests plainPath answered
	noContent  atomic.Int32 // requests noContentPath received
	tls        *tls.Config  // over h2: a client configuration that trusts the server; nil otherwise
	stopServer func() error
	logs       *logBuffer // what the framework or net/http logged, if captured
	// panicLogged allows the log to hold the adapter's report of a recovered
	// handler panic ("ssekit: panic ..."), which adapters write where their
	// framework logs (handler-panic); net/http's own panic report still fails.
	panicLogged bool
}

// stop stops the server, waiting (bounded) for its connections and
// handlers, and reports anything it logged.
func (s *server) stop() error {
	err := s.stopServer()
	if s.logs != nil {
		l := s.logs.String()
		switch {
		case l == "":
		case s.panicLogged && strings.Contains(l, "ssekit: panic") && !strings.Contains(l, "http: panic serving") &&
			!strings.Contains(l, "http2: panic serving") && !strings.Contains(l, "superfluous"):
			// The adapter's own report of the handler's recovered panic.
		default:
			err = errors.Join(err, fmt.Errorf("the server logged: %s", strings.TrimSpace(l)))
		}
	}
	return err
}

// adapter serves a conformance handler through one ssekit adapter, over
// HTTP/1.1 or (h2) HTTP/2 over TLS.
type adapter struct {
	name  string
	h2    bool
	serve func(h2 bool, h conformance.Handler, opts ...core.Option) (*server, error)
}

// adapters are the adapters under test, in the matrix's column order: every
// adapter over HTTP/1.1, then those built on net/http over HTTP/2 with TLS
// (fasthttp and nbhttp have no HTTP/2).
var adapters = []adapter{
	{"nethttp", false, serveNetHTTP},
	{"gin", false, serveGin},
	{"echo", false, serveEcho},
	{"echov5", false, serveEchoV5},
	{"fiber", false, serveFiber},
	{"fiberv3", false, serveFiberV3},
	{"nbio", false, serveNbio},
	{"nethttp-h2", true, serveNetHTTP},
	{"gin-h2", true, serveGin},
	{"echo-h2", true, serveEcho},
	{"echov5-h2", true, serveEchoV5},
}

// stopTimeout bounds a server's graceful stop; it is then closed hard.
const stopTimeout = 5 * time.Second

// serveHTTP serves h with net/http on a loopback port: over HTTP/1.1, or
// with h2 over TLS with the test certificate, offering HTTP/2 only (ALPN
// h2), so that a client that cannot speak it fails instead of falling back.
func serveHTTP(s *server, h2 bool, h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if s.logs == nil {
		s.logs = new(logBuffer)
	}
	var inflight active    // requests being handled
	var wrong atomic.Int32 // requests that did not arrive over HTTP/2 on an h2 server
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inflight.add()
			defer inflight.done()
			if h2 && r.ProtoMajor != 2 {
				wrong.Add(1)
			}
			h.ServeHTTP(w, r)
		}),
		ErrorLog:          stdlog.New(s.logs, "", 0),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	if h2 {
		cert := testCert()
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert.cert}, NextProtos: []string{"h2"}}
		p := new(http.Protocols)
		p.SetHTTP2(true)
		srv.Protocols = p
		s.ca = cert.pem
		s.tls = &tls.Config{RootCAs: cert.pool}
		go func() { served <- srv.ServeTLS(ln, "", "") }()
		s.base = "https://" + ln.Addr().String()
	} else {
		go func() { served <- srv.Serve(ln) }()
		s.base = "http://" + ln.Addr().String()
	}
	s.stopServer = func() error {
		// Every client has gone by now: every stream must end (bounded).
		var err error
		if n := wrong.Load(); n > 0 {
			err = fmt.Errorf("%d requests reached the h2 server over HTTP/1.1; want every one over HTTP/2", n)
		}
		if !inflight.idleWithin(stopTimeout) {
			err = errors.Join(err, fmt.Errorf("a handler was still running %v after its client left (a stream outlived its client)", stopTimeout))
		}
		// Close, not Shutdown: a connection Chromium opened ahead of need
		// and never used would hold Shutdown for 5s.
		err = errors.Join(err, srv.Close())
		if e := <-served; !errors.Is(e, http.ErrServerClosed) {
			err = errors.Join(err, e)
		}
		if !inflight.idleWithin(stopTimeout) {
			err = errors.Join(err, fmt.Errorf("a handler was still running %v after the server closed", stopTimeout))
		}
		return err
	}
	return s, nil
}

// active counts the requests a server is handling.
type active struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to zero
}

func (a *active) add() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == 0 {
		a.idle = make(chan struct{})
	}
	a.n++
}

func (a *active) done() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n--; a.n == 0 {
		close(a.idle)
	}
}

// idleWithin waits, for d at most, until no request is being handled.
func (a *active) idleWithin(d time.Duration) bool {
	a.mu.Lock()
	if a.n == 0 {
		a.mu.Unlock()
		return true
	}
	idle := a.idle
	a.mu.Unlock()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-idle:
		return true
	case <-timer.C:
		return false
	}
}

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

func serveNetHTTP(h2 bool, h conformance.Handler, opts ...core.Option) (*server, error) {
	s := new(server)
	sse := nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return h(request(r))
	}, opts...)
	return serveHTTP(s, h2, routes(s, sse))
}

// routes serves the test routes with net/http's own API, and sse on every
// other path.
func routes(s *server, sse http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case pagePath:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(pageHTML)
		case plainPath:
			s.plainHits.Add(1)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte(plainBody))
		case noContentPath:
			if s.noContent.Add(1) > 1 {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			sse.ServeHTTP(w, r)
		default:
			sse.ServeHTTP(w, r)
		}
	})
}

func serveGin(h2 bool, h conformance.Handler, opts ...core.Option) (*server, error) {
	s := new(server)
	sse := ginsse.Handle(func(c *gin.Context) (core.EventTarget, error) {
		r := request(c.Request)
		r.LastEventID = ginsse.LastEventID(c)
		return h(r)
	}, opts...)
	r := gin.New()
	r.Any("/*path", func(c *gin.Context) {
		switch c.Request.URL.Path {
		case pagePath:
			c.Data(http.StatusOK, "text/html; charset=utf-8", pageHTML)
		case plainPath:
			s.plainHits.Add(1)
			c.String(http.StatusOK, plainBody)
		case noContentPath:
			if s.noContent.Add(1) > 1 {
				c.Status(http.StatusNoContent)
				c.Writer.WriteHeaderNow()
				return
			}
			sse(c)
		default:
			sse(c)
		}
	})
	return serveHTTP(s, h2, r)
}

func serveEcho(h2 bool, h conformance.Handler, opts ...core.Option) (*server, error) {
	s := new(server)
	sse := echosse.Handle(func(c echov4.Context) (core.EventTarget, error) {
		r := request(c.Request())
		r.LastEventID = echosse.LastEventID(c)
		return h(r)
	}, opts...)
	e := echov4.New()
	s.logs = new(logBuffer)
	e.Logger.SetOutput(s.logs)
	e.Any("/*", func(c echov4.Context) error {
		switch c.Request().URL.Path {
		case pagePath:
			return c.HTMLBlob(http.StatusOK, pageHTML)
		case plainPath:
			s.plainHits.Add(1)
			return c.String(http.StatusOK, plainBody)
		case noContentPath:
			if s.noContent.Add(1) > 1 {
				return c.NoContent(http.StatusNoContent)
			}
		}
		return sse(c)
	})
	return serveHTTP(s, h2, e)
}

func serveEchoV5(h2 bool, h conformance.Handler, opts ...core.Option) (*server, error) {
	s := new(server)
	sse := echov5sse.Handle(func(c *echov5.Context) (core.EventTarget, error) {
		r := request(c.Request())
		r.LastEventID = echov5sse.LastEventID(c)
		return h(r)
	}, opts...)
	e := echov5.New()
	s.logs = new(logBuffer)
	e.Logger = slog.New(slog.NewTextHandler(s.logs, nil))
	e.Any("/*", func(c *echov5.Context) error {
		switch c.Request().URL.Path {
		case pagePath:
			return c.HTMLBlob(http.StatusOK, pageHTML)
		case plainPath:
			s.plainHits.Add(1)
			return c.String(http.StatusOK, plainBody)
		case noContentPath:
			if s.noContent.Add(1) > 1 {
				return c.NoContent(http.StatusNoContent)
			}
		}
		return sse(c)
	})
	return serveHTTP(s, h2, e)
}

// fiberRequest copies what a conformance handler sees out of a fasthttp
// request: Fiber's strings point into buffers reused once the handler
// returns. fasthttp has no per-request context.
func fiberRequest(method, path, query, lastEventID []byte, headers iter.Seq2[[]byte, []byte], body []byte) conformance.Request {
	hdr := http.Header{}
	for k, v := range headers {
		hdr.Add(string(k), string(v))
	}
	return conformance.Request{
		Method:      string(method),
		Path:        string(path),
		Query:       string(query),
		LastEventID: string(lastEventID),
		Header:      hdr,
		Context:     context.Background(),
		Body:        bytes.NewReader(bytes.Clone(body)),
	}
}

func serveFiber(h2 bool, h conformance.Handler, opts ...core.Option) (*server, error) {
	if h2 {
		return nil, errors.New("fasthttp has no HTTP/2")
	}
	s := new(server)
	sse := fibersse.Handle(func(c *fiberv2.Ctx) (core.EventTarget, error) {
		rc := c.Context()
		return h(fiberRequest(rc.Method(), rc.Path(), rc.URI().QueryString(), []byte(fibersse.LastEventID(c)),
			rc.Request.Header.All(), rc.Request.Body()))
	}, opts...)
	app := fiberv2.New(fiberv2.Config{DisableStartupMessage: true})
	// fasthttp's worker pool cleaner sleeps this long between rounds and
	// only then sees that the server stopped: keep it short for goleak.
	app.Server().MaxIdleWorkerDuration = 10 * time.Millisecond
	app.Use(func(c *fiberv2.Ctx) error {
		switch c.Path() {
		case pagePath:
			c.Type("html", "utf-8")
			return c.Send(pageHTML)
		case plainPath:
			s.plainHits.Add(1)
			return c.SendString(plainBody)
		case noContentPath:
			if s.noContent.Add(1) > 1 {
				return c.SendStatus(http.StatusNoContent)
			}
		}
		return sse(c)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	s.base = "http://" + ln.Addr().String()
	s.stopServer = func() error { return fiberStop(app.ShutdownWithTimeout, served) }
	return s, nil
}

func serveFiberV3(h2 bool, h conformance.Handler, opts ...core.Option) (*server, error) {
	if h2 {
		return nil, errors.New("fasthttp has no HTTP/2")
	}
	s := new(server)
	sse := fiberv3sse.Handle(func(c fiberv3.Ctx) (core.EventTarget, error) {
		rc := c.RequestCtx()
		return h(fiberRequest(rc.Method(), rc.Path(), rc.URI().QueryString(), []byte(fiberv3sse.LastEventID(c)),
			rc.Request.Header.All(), rc.Request.Body()))
	}, opts...)
	app := fiberv3.New()
	app.Server().MaxIdleWorkerDuration = 10 * time.Millisecond
	app.Use(func(c fiberv3.Ctx) error {
		switch c.Path() {
		case pagePath:
			c.Type("html", "utf-8")
			return c.Send(pageHTML)
		case plainPath:
			s.plainHits.Add(1)
			return c.SendString(plainBody)
		case noContentPath:
			if s.noContent.Add(1) > 1 {
				return c.SendStatus(http.StatusNoContent)
			}
		}
		return sse(c)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln, fiberv3.ListenConfig{DisableStartupMessage: true}) }()
	s.base = "http://" + ln.Addr().String()
	s.stopServer = func() error { return fiberStop(app.ShutdownWithTimeout, served) }
	return s, nil
}

// serveNbio serves through the nbio adapter on an nbhttp engine (an event
// loop: no goroutine per stream). nbhttp reuses the request once the handler
// returns and its context does not end with the client: the handler gets
// copies and a background context, and its producers watch the target.
func serveNbio(h2 bool, h conformance.Handler, opts ...core.Option) (*server, error) {
	if h2 {
		return nil, errors.New("nbhttp has no HTTP/2")
	}
	s := new(server)
	sse := nbiosse.Handle(func(r *http.Request) (core.EventTarget, error) {
		req := request(r)
		req.LastEventID = nbiosse.LastEventID(r)
		req.Header = r.Header.Clone()
		req.Context = context.Background()
		return h(req)
	}, opts...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	stop, err := nbioserve.Start(ln, routes(s, sse), 0)
	if err != nil {
		return nil, err
	}
	s.base = "http://" + ln.Addr().String()
	s.stopServer = func() error { stop(); return nil }
	return s, nil
}

// fiberStop shuts a Fiber app down and waits (bounded) for its listener.
func fiberStop(shutdown func(time.Duration) error, served <-chan error) error {
	err := shutdown(stopTimeout)
	if err != nil {
		err = fmt.Errorf("shutdown: %w", err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case e := <-served:
		err = errors.Join(err, e)
	case <-timer.C:
		err = errors.Join(err, errors.New("the listener did not return after shutdown"))
	}
	return err
}

// logBuffer collects a server's log output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// h2Cert is the certificate of the h2 test servers: a self-signed ECDSA
// certificate for 127.0.0.1, its PEM form (which the Node.js clients trust),
// the base64 SHA-256 of its public key (which Chromium trusts, through
// --ignore-certificate-errors-spki-list) and a pool with it (for Go clients).
type h2Cert struct {
	cert tls.Certificate
	pem  string
	spki string
	pool *x509.CertPool
}

// testCert makes the certificate once per process.
var testCert = sync.OnceValue(func() h2Cert {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("interop: generating a test key: " + err.Error())
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "127.0.0.1", Organization: []string{"ssekit interop"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic("interop: making a test certificate: " + err.Error())
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic("interop: parsing the test certificate: " + err.Error())
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return h2Cert{
		cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		pem:  string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		spki: base64.StdEncoding.EncodeToString(spki[:]),
		pool: pool,
	}
})
