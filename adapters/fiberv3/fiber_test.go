package fiberv3sse_test

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/gofiber/fiber/v3/middleware/compress"
	"github.com/gofiber/fiber/v3/middleware/recover"

	fiberv3sse "github.com/ssekit/ssekit/adapters/fiberv3"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// TestHeadersExact reads the header block off the wire (see
// ssetest.HeadersExact).
func TestHeadersExact(t *testing.T) {
	ssetest.HeadersExact(t, sseServer(t, false, fiber.Config{}, ssetest.NewTargets(1)))
}

func TestHeadersBeforeFirstEvent(t *testing.T) {
	ssetest.HeadersBeforeFirstEvent(t, sseServer(t, false, fiber.Config{}, ssetest.NewTargets(1),
		core.WithHeartbeat(time.Hour)))
}

// danet is the Danet route of the README (The model), with a producer that stops early when
// the stream ends.
func danet(fiber.Ctx) (core.EventTarget, error) { return ssetest.Danet(100 * time.Millisecond), nil }

func TestDanet(t *testing.T) {
	app := newApp()
	app.Get("/sse", fiberv3sse.Handle(danet))
	base := serve(t, app)
	resp, _ := ssetest.Get(t, ssetest.HTTPClient(t), base+"/sse", nil)
	ssetest.CheckDanet(t, ssetest.ReadStream(resp.Body, 10))
}

func TestHandlerError(t *testing.T) {
	stopped := make(chan *core.Target, 1)
	cases := []struct {
		name   string
		h      fiberv3sse.HandlerFunc
		status int
		body   string
	}{
		{"core.Error", func(fiber.Ctx) (core.EventTarget, error) { return nil, core.Error(401, "nope") }, 401, "nope"},
		{"internal", func(fiber.Ctx) (core.EventTarget, error) { return nil, errors.New("db password") }, 500, "Internal Server Error"},
		{"fiber.Error", func(fiber.Ctx) (core.EventTarget, error) { return nil, fiber.ErrTeapot }, 418, "I'm a teapot"},
		{"wrapped fiber.Error", func(fiber.Ctx) (core.EventTarget, error) {
			return nil, fmt.Errorf("ctx: %w", fiber.NewError(409, "conflict"))
		}, 409, "conflict"},
		{"nil target", func(fiber.Ctx) (core.EventTarget, error) { return nil, nil }, 500, "Internal Server Error"},
		{"target and error", func(fiber.Ctx) (core.EventTarget, error) {
			tg := core.NewTarget()
			stopped <- tg
			return tg, core.Error(403, "")
		}, 403, "Forbidden"},
	}
	for _, custom := range []bool{false, true} {
		var seen atomic.Int32
		cfg := fiber.Config{}
		if custom {
			cfg.ErrorHandler = func(c fiber.Ctx, err error) error {
				seen.Add(1)
				var fe *fiber.Error
				if !errors.As(err, &fe) {
					return c.Status(599).SendString("not a *fiber.Error")
				}
				return c.Status(fe.Code).SendString("custom: " + fe.Message)
			}
		}
		app := newApp(cfg)
		for i, tc := range cases {
			app.Get("/"+strconv.Itoa(i), fiberv3sse.Handle(tc.h))
		}
		base := serve(t, app)
		c := ssetest.HTTPClient(t)
		for i, tc := range cases {
			resp, _ := ssetest.Get(t, c, base+"/"+strconv.Itoa(i), nil)
			body := ssetest.ReadAll(t, resp.Body)
			want := tc.body
			if custom {
				want = "custom: " + want
			}
			if resp.StatusCode != tc.status || body != want {
				t.Errorf("custom=%v %s: got %d %q; want %d %q", custom, tc.name, resp.StatusCode, body, tc.status, want)
			}
			if ct := resp.Header.Get("Content-Type"); ct == "text/event-stream" {
				t.Errorf("custom=%v %s: error answered as an event stream", custom, tc.name)
			}
		}
		if n := int(seen.Load()); custom && n != len(cases) {
			t.Errorf("custom ErrorHandler called %d times; want %d", n, len(cases))
		}
		select {
		case tg := <-stopped:
			ssetest.WaitDone(t, tg, time.Second)
		default:
			t.Error("the target returned beside an error was not created")
		}
	}
}

func TestPanic(t *testing.T) {
	for _, withRecover := range []bool{false, true} {
		t.Run(fmt.Sprintf("recover=%v", withRecover), func(t *testing.T) {
			app := newApp()
			if withRecover {
				app.Use(recover.New())
			}
			app.Get("/panic", fiberv3sse.Handle(func(fiber.Ctx) (core.EventTarget, error) { panic("boom") }))
			// A panic after the stream (here in OnEnd) runs on the
			// connection's goroutine, outside any middleware.
			app.Get("/onend", fiberv3sse.Handle(func(fiber.Ctx) (core.EventTarget, error) {
				tg := core.NewTarget()
				tg.Dispatch(core.Message{Data: "x"})
				tg.Close()
				return tg, nil
			}, core.WithOnEnd(func(error) { panic("boom in OnEnd") })))
			app.Get("/ok", func(c fiber.Ctx) error { return c.SendString("ok") })
			base := serve(t, app)
			c := ssetest.HTTPClient(t)

			resp, _ := ssetest.Get(t, c, base+"/panic", nil)
			if body := ssetest.ReadAll(t, resp.Body); resp.StatusCode != 500 || body != "Internal Server Error" {
				t.Errorf("panic: got %d %q; want 500 %q", resp.StatusCode, body, "Internal Server Error")
			}
			resp, _ = ssetest.Get(t, c, base+"/onend", nil)
			if resp.StatusCode != 200 {
				t.Errorf("onend: status %d; want 200", resp.StatusCode)
			}
			// The panic fails the response (the connection is closed), the
			// event before it was delivered.
			b, _ := io.ReadAll(resp.Body)
			if string(b) != "data: x\n\n" {
				t.Errorf("onend: body %q; want %q", b, "data: x\n\n")
			}
			resp, _ = ssetest.Get(t, c, base+"/ok", nil)
			if body := ssetest.ReadAll(t, resp.Body); body != "ok" {
				t.Errorf("after the panics: got %q; want ok", body)
			}
		})
	}
}

// TestLastEventID checks LastEventID, used after the handler returned (see
// ssetest.LastEventIDs).
func TestLastEventID(t *testing.T) {
	app := newApp()
	app.Get("/sse", fiberv3sse.Handle(func(c fiber.Ctx) (core.EventTarget, error) {
		return ssetest.ResumeAfter(fiberv3sse.LastEventID(c)), nil
	}))
	ssetest.LastEventIDs(t, serve(t, app)+"/sse")
}

func TestLastEventIDIsACopy(t *testing.T) {
	app := newApp()
	var id string
	app.Get("/", func(c fiber.Ctx) error {
		id = fiberv3sse.LastEventID(c)
		copy(c.RequestCtx().Request.Header.Peek("Last-Event-ID"), "XX")
		return nil
	})
	req, _ := http.NewRequest(http.MethodGet, "http://test/", nil)
	req.Header.Set("Last-Event-ID", "41")
	resp, err := app.Test(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if id != "41" {
		t.Errorf("LastEventID %q after the header buffer changed; want 41", id)
	}
}

// disconnect reads from the stream until the first event (or only the
// headers), closes the connection and measures how long until Done (see
// ssetest.Disconnect). With useTLS the stream runs over TLS.
func disconnect(t *testing.T, producer, useTLS bool, opts ...core.Option) time.Duration {
	return ssetest.Disconnect(t, sseServer(t, useTLS, fiber.Config{}, ssetest.NewTargets(1), opts...), producer)
}

func TestDisconnectUnderTraffic(t *testing.T) {
	for i := range 3 {
		t.Logf("run %d: Done %v after the client closed (event every 5ms)", i, disconnect(t, true, false))
	}
}

// An idle stream notices at once that its client closed the connection, with
// no heartbeat to fail: the watch sees the end of the connection.
func TestDisconnectIdle(t *testing.T) {
	for i := range 3 {
		t.Logf("run %d: Done %v after the client closed (idle, no heartbeat)", i,
			disconnect(t, false, false, core.WithHeartbeat(-1)))
	}
}

// Over TLS too (the client's close_notify alert, or the end of the
// connection).
func TestDisconnectIdleTLS(t *testing.T) {
	for i := range 3 {
		t.Logf("run %d: Done %v after the client closed (TLS, idle, no heartbeat)", i,
			disconnect(t, false, true, core.WithHeartbeat(-1)))
	}
}

func TestStalledReader(t *testing.T) {
	ssetest.StalledReader(t, sseServer(t, false, fiber.Config{}, ssetest.NewTargets(1, core.WithQueueBytes(256<<10)),
		core.WithHeartbeat(time.Hour), core.WithWriteTimeout(200*time.Millisecond)))
}

// TestServerWriteTimeout checks that the server's WriteTimeout (200ms) does
// not cut a healthy 600ms stream, with or without a per-write deadline.
func TestServerWriteTimeout(t *testing.T) {
	for _, wt := range []time.Duration{0, -1} {
		t.Run(fmt.Sprintf("WithWriteTimeout(%v)", wt), func(t *testing.T) {
			app := newApp(fiber.Config{WriteTimeout: 200 * time.Millisecond})
			app.Get("/sse", fiberv3sse.Handle(func(fiber.Ctx) (core.EventTarget, error) {
				return ssetest.Ticks(7, 100*time.Millisecond), nil
			}, core.WithWriteTimeout(wt)))
			ssetest.CheckTicks(t, ssetest.HTTPClient(t), serve(t, app)+"/sse")
		})
	}
}

func TestKeepAliveAfterStream(t *testing.T) {
	ssetest.KeepAliveAfterStream(t, sseServer(t, false, fiber.Config{}, ssetest.NewTargets(1),
		core.WithWriteTimeout(50*time.Millisecond)))
}

// TestHead: Fiber routes HEAD to the GET route (see ssetest.Head).
func TestHead(t *testing.T) {
	ssetest.Head(t, sseServer(t, false, fiber.Config{}, ssetest.NewTargets(1)))
}

func TestShutdown(t *testing.T) {
	app := newApp()
	ts := ssetest.NewTargets(1)
	app.Get("/sse", fiberv3sse.Handle(handler(ts), core.WithHeartbeat(time.Hour)))
	base := serve(t, app)

	resp, _ := ssetest.Get(t, ssetest.HTTPClient(t), base+"/sse", nil)
	tg := ts.Next(t)
	if err := tg.Dispatch(core.Message{Data: "before"}); err != nil {
		t.Fatal(err)
	}
	p := client.NewParser(resp.Body)
	if ev, err := p.Next(); err != nil || ev.Data != "before" {
		t.Fatalf("first event %+v, %v", ev, err)
	}
	if err := tg.Dispatch(core.Message{Data: "queued"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := app.ShutdownWithTimeout(3 * time.Second); err != nil {
		t.Fatalf("ShutdownWithTimeout: %v", err)
	}
	t.Logf("app.ShutdownWithTimeout returned after %v with a stream open", time.Since(start))
	ssetest.WaitDone(t, tg, time.Second)
	if !errors.Is(tg.Err(), core.ErrShutdown) {
		t.Errorf("Err %v; want ErrShutdown", tg.Err())
	}
	if ev, err := p.Next(); err != nil || ev.Data != "queued" {
		t.Errorf("after shutdown: %+v, %v; want the queued event", ev, err)
	}
	if _, err := p.Next(); err != io.EOF {
		t.Errorf("after shutdown: %v; want a clean end (io.EOF)", err)
	}
}

func TestGroupShutdown(t *testing.T) {
	var g core.Group
	ssetest.GroupShutdown(t, sseServer(t, false, fiber.Config{}, ssetest.NewTargets(1),
		core.WithGroup(&g), core.WithHeartbeat(time.Hour)), &g)
}

// TestCompressMiddleware checks the advice of the package documentation:
// Fiber v3's compress middleware reads c.Response().Body() (which would
// consume the whole stream), so SSE routes skip it with its Next, and the
// other routes stay compressed.
func TestCompressMiddleware(t *testing.T) {
	app := newApp()
	app.Use(compress.New(compress.Config{
		Level: compress.LevelBestSpeed,
		Next:  func(c fiber.Ctx) bool { return c.Path() == "/sse" },
	}))
	ts := ssetest.NewTargets(1)
	app.Get("/sse", fiberv3sse.Handle(handler(ts)))
	text := strings.Repeat("compressible ", 100)
	app.Get("/text", func(c fiber.Ctx) error { return c.SendString(text) })
	base := serve(t, app)
	c := ssetest.HTTPClient(t)

	resp, _ := ssetest.Get(t, c, base+"/sse", http.Header{"Accept-Encoding": {"gzip"}})
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("SSE route: Content-Encoding %q; want none", ce)
	}
	tg := ts.Next(t)
	if err := tg.Dispatch(core.Message{Data: "first"}); err != nil {
		t.Fatal(err)
	}
	p := client.NewParser(resp.Body)
	// The first event arrives while the stream is still open.
	if ev, err := p.Next(); err != nil || ev.Data != "first" {
		t.Fatalf("first event %+v, %v", ev, err)
	}
	tg.Close()
	if _, err := p.Next(); err != io.EOF {
		t.Errorf("end: %v; want io.EOF", err)
	}

	resp, _ = ssetest.Get(t, c, base+"/text", http.Header{"Accept-Encoding": {"gzip"}})
	if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("other route: Content-Encoding %q; want gzip", ce)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if body := ssetest.ReadAll(t, zr); body != text {
		t.Errorf("other route: body %q; want %q", body, text)
	}
}
