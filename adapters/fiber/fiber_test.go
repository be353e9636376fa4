package fibersse_test

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/recover"

	fibersse "github.com/ssekit/ssekit/adapters/fiber"
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
func danet(*fiber.Ctx) (core.EventTarget, error) { return ssetest.Danet(100 * time.Millisecond), nil }

func TestDanet(t *testing.T) {
	app := newApp()
	app.Get("/sse", fibersse.Handle(danet))
	base := serve(t, app)
	resp, _ := ssetest.Get(t, ssetest.HTTPClient(t), base+"/sse", nil)
	ssetest.CheckDanet(t, ssetest.ReadStream(resp.Body, 10))
}

func TestHandlerError(t *testing.T) {
	stopped := make(chan *core.Target, 1)
	cases := []struct {
		name   string
		h      fibersse.HandlerFunc
		status int
		body   string
	}{
		{"core.Error", func(*fiber.Ctx) (core.EventTarget, error) { return nil, core.Error(401, "nope") }, 401, "nope"},
		{"internal", func(*fiber.Ctx) (core.EventTarget, error) { return nil, errors.New("db password") }, 500, "Internal Server Error"},
		{"fiber.Error", func(*fiber.Ctx) (core.EventTarget, error) { return nil, fiber.ErrTeapot }, 418, "I'm a teapot"},
		{"wrapped fiber.Error", func(*fiber.Ctx) (core.EventTarget, error) {
			return nil, fmt.Errorf("ctx: %w", fiber.NewError(409, "conflict"))
		}, 409, "conflict"},
		{"nil target", func(*fiber.Ctx) (core.EventTarget, error) { return nil, nil }, 500, "Internal Server Error"},
		{"target and error", func(*fiber.Ctx) (core.EventTarget, error) {
			tg := core.NewTarget()
			stopped <- tg
			return tg, core.Error(403, "")
		}, 403, "Forbidden"},
	}
	for _, custom := range []bool{false, true} {
		var seen atomic.Int32
		cfg := fiber.Config{}
		if custom {
			cfg.ErrorHandler = func(c *fiber.Ctx, err error) error {
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
			app.Get("/"+strconv.Itoa(i), fibersse.Handle(tc.h))
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
			app.Get("/panic", fibersse.Handle(func(*fiber.Ctx) (core.EventTarget, error) { panic("boom") }))
			// A panic after the stream (here in OnEnd) runs on the
			// connection's goroutine, outside any middleware.
			app.Get("/onend", fibersse.Handle(func(*fiber.Ctx) (core.EventTarget, error) {
				tg := core.NewTarget()
				tg.Dispatch(core.Message{Data: "x"})
				tg.Close()
				return tg, nil
			}, core.WithOnEnd(func(error) { panic("boom in OnEnd") })))
			app.Get("/ok", func(c *fiber.Ctx) error { return c.SendString("ok") })
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
	app.Get("/sse", fibersse.Handle(func(c *fiber.Ctx) (core.EventTarget, error) {
		return ssetest.ResumeAfter(fibersse.LastEventID(c)), nil
	}))
	ssetest.LastEventIDs(t, serve(t, app)+"/sse")
}

func TestLastEventIDIsACopy(t *testing.T) {
	app := newApp()
	var id string
	app.Get("/", func(c *fiber.Ctx) error {
		id = fibersse.LastEventID(c)
		copy(c.Context().Request.Header.Peek("Last-Event-ID"), "XX")
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
			app.Get("/sse", fibersse.Handle(func(*fiber.Ctx) (core.EventTarget, error) {
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
	app.Get("/sse", fibersse.Handle(handler(ts), core.WithHeartbeat(time.Hour)))
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
	start := time.Now()
	if err := app.ShutdownWithTimeout(3 * time.Second); err != nil {
		t.Fatalf("ShutdownWithTimeout: %v", err)
	}
	t.Logf("app.ShutdownWithTimeout returned after %v with a stream open", time.Since(start))
	ssetest.WaitDone(t, tg, time.Second)
	if !errors.Is(tg.Err(), core.ErrClientGone) && !errors.Is(tg.Err(), core.ErrShutdown) {
		t.Errorf("Err %v; want ErrClientGone or ErrShutdown", tg.Err())
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

func TestCompressMiddleware(t *testing.T) {
	app := newApp()
	app.Use(compress.New(compress.Config{Level: compress.LevelBestSpeed}))
	ts := ssetest.NewTargets(1)
	app.Get("/sse", fibersse.Handle(handler(ts)))
	base := serve(t, app)

	resp, _ := ssetest.Get(t, ssetest.HTTPClient(t), base+"/sse", http.Header{"Accept-Encoding": {"gzip"}})
	if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("Content-Encoding %q; want gzip", ce)
	}
	tg := ts.Next(t)
	if err := tg.Dispatch(core.Message{Data: "first"}); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := client.NewParser(zr)
	// The first event arrives while the stream is still open: each batch is
	// compressed and flushed.
	if ev, err := p.Next(); err != nil || ev.Data != "first" {
		t.Fatalf("first event %+v, %v", ev, err)
	}
	tg.Close()
	if _, err := p.Next(); err != io.EOF {
		t.Errorf("end: %v; want io.EOF", err)
	}
}

// A compressed stream is written by fasthttp's compressing goroutine, not the
// connection's: the watch still notices a client that leaves it idle.
func TestDisconnectCompressed(t *testing.T) {
	app := newApp()
	app.Use(compress.New(compress.Config{Level: compress.LevelBestSpeed}))
	ts := ssetest.NewTargets(1)
	app.Get("/sse", fibersse.Handle(handler(ts), core.WithHeartbeat(-1)))
	base := serve(t, app)

	conn, br := ssetest.Dial(t, base, "GET", "/sse", "Accept-Encoding", "gzip")
	tg := ts.Next(t)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("Content-Encoding %q; want gzip", ce)
	}
	conn.Close()
	t.Logf("Done %v after the client closed (gzip, idle, no heartbeat)", ssetest.WaitDone(t, tg, time.Second))
	if !errors.Is(tg.Err(), core.ErrClientGone) {
		t.Errorf("Err %v; want ErrClientGone", tg.Err())
	}
}
