package metricstest

import (
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	"github.com/labstack/echo/v4"

	echosse "github.com/ssekit/ssekit/adapters/echo"
	fibersse "github.com/ssekit/ssekit/adapters/fiber"
	ginsse "github.com/ssekit/ssekit/adapters/gin"
	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// handler is a route's handler, whatever the framework: it gets the
// request's Last-Event-ID.
type handler func(lastEventID string) (core.EventTarget, error)

// route is one GET route of a test server, with its own options.
type route struct {
	path string
	h    handler
	opts []core.Option
}

// server serves routes with one adapter on a loopback listener until the
// test ends, and returns its base URL.
type server struct {
	name string
	// label is the route label the adapter reports for path.
	label func(path string) string
	serve func(t *testing.T, routes []route) string
}

var servers = []server{
	{"net/http", func(p string) string { return "GET " + p }, serveNetHTTP},
	{"gin", func(p string) string { return p }, serveGin},
	{"echo", func(p string) string { return p }, serveEcho},
	{"fiber", func(p string) string { return p }, serveFiber},
}

func serveNetHTTP(t *testing.T, routes []route) string {
	mux := http.NewServeMux()
	for _, r := range routes {
		mux.Handle("GET "+r.path, nethttpsse.Handle(func(req *http.Request) (core.EventTarget, error) {
			return r.h(nethttpsse.LastEventID(req))
		}, r.opts...))
	}
	return "http://" + startHTTP(t, mux)
}

func serveGin(t *testing.T, routes []route) string {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	for _, r := range routes {
		e.GET(r.path, ginsse.Handle(func(c *gin.Context) (core.EventTarget, error) {
			return r.h(ginsse.LastEventID(c))
		}, r.opts...))
	}
	return "http://" + startHTTP(t, e)
}

func serveEcho(t *testing.T, routes []route) string {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	for _, r := range routes {
		e.GET(r.path, echosse.Handle(func(c echo.Context) (core.EventTarget, error) {
			return r.h(echosse.LastEventID(c))
		}, r.opts...))
	}
	return "http://" + startHTTP(t, e)
}

func serveFiber(t *testing.T, routes []route) string {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Server().MaxIdleWorkerDuration = 10 * time.Millisecond // its cleaner exits before goleak looks
	for _, r := range routes {
		app.Get(r.path, fibersse.Handle(func(c *fiber.Ctx) (core.EventTarget, error) {
			return r.h(fibersse.LastEventID(c))
		}, r.opts...))
	}
	ln := ssetest.Listen(t)
	ssetest.RunServer(t, ln, app.Listener, func() error { return app.ShutdownWithTimeout(5 * time.Second) })
	return "http://" + ln.Addr().String()
}

// startHTTP serves h with net/http until the test ends and returns its address.
func startHTTP(t *testing.T, h http.Handler) string {
	ln := ssetest.Listen(t)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	serve := func(ln net.Listener) error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	ssetest.RunServer(t, ln, serve, srv.Close)
	return ln.Addr().String()
}
