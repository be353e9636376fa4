package fiberv3sse_test

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/gofiber/fiber/v3"
	"go.uber.org/goleak"

	fiberv3sse "github.com/ssekit/ssekit/adapters/fiberv3"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
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
	return "http://" + serveOn(t, app, ssetest.Listen(t)).Addr().String()
}

// serveTLS is serve over TLS, with a fresh self-signed certificate for
// 127.0.0.1. It returns the base URL and a client configuration that trusts
// the certificate.
func serveTLS(t testing.TB, app *fiber.App) (string, *tls.Config) {
	t.Helper()
	ln, cli := ssetest.ListenTLS(t)
	return "https://" + serveOn(t, app, ln).Addr().String(), cli
}

// serveOn runs app on ln until the test ends.
func serveOn(t testing.TB, app *fiber.App, ln net.Listener) net.Listener {
	t.Helper()
	ssetest.RunServer(t, ln, func(ln net.Listener) error {
		return app.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true})
	}, func() error { return app.ShutdownWithTimeout(5 * time.Second) })
	return ln
}

// sseServer serves, on an app made with cfg (over TLS with useTLS), the
// routes the shared checks of ssetest.Server expect: GET /sse streams the
// targets of ts through Handle with opts, GET /ok answers "ok".
func sseServer(t testing.TB, useTLS bool, cfg fiber.Config, ts *ssetest.Targets, opts ...core.Option) ssetest.Server {
	t.Helper()
	app := newApp(cfg)
	app.Get("/sse", fiberv3sse.Handle(handler(ts), opts...))
	app.Get("/ok", okRoute)
	s := ssetest.Server{Targets: ts}
	if useTLS {
		s.Base, s.TLS = serveTLS(t, app)
	} else {
		s.Base = serve(t, app)
	}
	return s
}

// handler is a route that hands every target it creates to ts.
func handler(ts *ssetest.Targets) fiberv3sse.HandlerFunc {
	return func(fiber.Ctx) (core.EventTarget, error) { return ts.New() }
}

func okRoute(c fiber.Ctx) error { return c.SendString("ok") }
