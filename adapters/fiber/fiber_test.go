package fibersse_test

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/recover"

	fibersse "github.com/ssekit/ssekit/adapters/fiber"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

func TestHeadersExact(t *testing.T) {
	app := newApp()
	ts := make(targets, 1)
	app.Get("/sse", fibersse.Handle(ts.handler()))
	base := serve(t, app)

	conn, br := rawConn(t, base, "GET", "/sse")
	tg := ts.next(t)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if status != "HTTP/1.1 200 OK\r\n" {
		t.Errorf("status line %q; want %q", status, "HTTP/1.1 200 OK\r\n")
	}
	var got []string
	for range 50 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
		if !strings.HasPrefix(line, "Date: ") {
			got = append(got, strings.TrimSuffix(line, "\r\n"))
		}
	}
	slices.Sort(got)
	want := []string{
		"Cache-Control: no-cache",
		"Content-Type: text/event-stream",
		"Transfer-Encoding: chunked", // fasthttp's framing of a stream of unknown size
		"X-Accel-Buffering: no",
	}
	if !slices.Equal(got, want) {
		t.Errorf("headers (but Date) %q; want %q", got, want)
	}

	// The body is chunked and ends with the target.
	if err := tg.Dispatch(core.Message{Data: "x"}); err != nil {
		t.Fatal(err)
	}
	tg.Close()
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(
		strings.NewReader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), br)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp.Body); body != "data: x\n\n" {
		t.Errorf("body %q; want %q", body, "data: x\n\n")
	}
}

func TestHeadersBeforeFirstEvent(t *testing.T) {
	app := newApp()
	ts := make(targets, 1)
	app.Get("/sse", fibersse.Handle(ts.handler(), core.WithHeartbeat(time.Hour)))
	base := serve(t, app)

	start := time.Now()
	resp := get(t, httpClient(t), base+"/sse")
	elapsed := time.Since(start)
	tg := ts.next(t)
	if elapsed > time.Second {
		t.Errorf("headers took %v with no event dispatched", elapsed)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("got %d %q; want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.ContentLength != -1 {
		t.Errorf("ContentLength %d; want -1 (unknown)", resp.ContentLength)
	}
	for _, h := range []string{"Connection", "Keep-Alive", "Content-Length"} {
		if v, ok := resp.Header[h]; ok {
			t.Errorf("header %s: %q; want none", h, v)
		}
	}
	tg.Close()
	if evs := events(t, resp.Body); len(evs) != 0 {
		t.Errorf("events %v; want none", evs)
	}
}

// danet is the route of design.md §1, with a producer that stops early when
// the stream ends.
func danet(c *fiber.Ctx) (core.EventTarget, error) {
	t := core.NewTarget()
	go func() {
		defer t.Close()
		for id := 0; id < 4; id++ {
			t.Dispatch(core.Message{ID: strconv.Itoa(id), Event: "hello", Data: "world", Retry: time.Second})
			select {
			case <-time.After(100 * time.Millisecond):
			case <-t.Done():
				return
			}
		}
		t.Dispatch(core.Message{ID: "4", Event: "close", Data: "close", Retry: time.Second})
	}()
	return t, nil
}

func TestDanet(t *testing.T) {
	app := newApp()
	app.Get("/sse", fibersse.Handle(danet))
	base := serve(t, app)

	resp := get(t, httpClient(t), base+"/sse")
	p := client.NewParser(resp.Body)
	var retries []time.Duration
	p.OnRetry = func(d time.Duration) { retries = append(retries, d) }
	var got []client.Event
	for range 10 {
		ev, err := p.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	want := []client.Event{
		{Type: "hello", Data: "world", LastEventID: "0"},
		{Type: "hello", Data: "world", LastEventID: "1"},
		{Type: "hello", Data: "world", LastEventID: "2"},
		{Type: "hello", Data: "world", LastEventID: "3"},
		{Type: "close", Data: "close", LastEventID: "4"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("events %+v; want %+v", got, want)
	}
	if len(retries) != 5 || slices.ContainsFunc(retries, func(d time.Duration) bool { return d != time.Second }) {
		t.Errorf("retries %v; want 5 × 1s", retries)
	}
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
		c := httpClient(t)
		for i, tc := range cases {
			resp := get(t, c, base+"/"+strconv.Itoa(i))
			body := readAll(t, resp.Body)
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
			waitDone(t, tg, time.Second)
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
			c := httpClient(t)

			resp := get(t, c, base+"/panic")
			if body := readAll(t, resp.Body); resp.StatusCode != 500 || body != "Internal Server Error" {
				t.Errorf("panic: got %d %q; want 500 %q", resp.StatusCode, body, "Internal Server Error")
			}
			resp = get(t, c, base+"/onend")
			if resp.StatusCode != 200 {
				t.Errorf("onend: status %d; want 200", resp.StatusCode)
			}
			// The panic fails the response (the connection is closed), the
			// event before it was delivered.
			b, _ := io.ReadAll(resp.Body)
			if string(b) != "data: x\n\n" {
				t.Errorf("onend: body %q; want %q", b, "data: x\n\n")
			}
			resp = get(t, c, base+"/ok")
			if body := readAll(t, resp.Body); body != "ok" {
				t.Errorf("after the panics: got %q; want ok", body)
			}
		})
	}
}

func TestLastEventID(t *testing.T) {
	app := newApp()
	app.Get("/sse", fibersse.Handle(func(c *fiber.Ctx) (core.EventTarget, error) {
		id := fibersse.LastEventID(c)
		tg := core.NewTarget()
		go func() { // uses id after the handler returned
			defer tg.Close()
			tg.Dispatch(core.Message{Data: "resume after " + id})
		}()
		return tg, nil
	}))
	base := serve(t, app)
	c := httpClient(t)
	for _, id := range []string{"41", "", "abc"} {
		var hdr []string
		if id != "" {
			hdr = []string{"Last-Event-ID", id}
		}
		evs := events(t, get(t, c, base+"/sse", hdr...).Body)
		if len(evs) != 1 || evs[0].Data != "resume after "+id {
			t.Errorf("Last-Event-ID %q: events %+v", id, evs)
		}
	}
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
// headers), closes the connection and measures how long until Done. With
// useTLS the stream runs over TLS.
func disconnect(t *testing.T, producer, useTLS bool, opts ...core.Option) time.Duration {
	app := newApp()
	ts := make(targets, 1)
	app.Get("/sse", fibersse.Handle(ts.handler(), opts...))
	var conn net.Conn
	var br *bufio.Reader
	if useTLS {
		base, cfg := serveTLS(t, app)
		conn, br = rawTLSConn(t, base, cfg, "GET", "/sse")
	} else {
		conn, br = rawConn(t, serve(t, app), "GET", "/sse")
	}
	tg := ts.next(t)
	if producer {
		go func() {
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for i := 0; i < 10000; i++ { // about 50 s at most; the test ends it much sooner
				if tg.Dispatch(core.Message{ID: strconv.Itoa(i), Data: "tick"}) != nil {
					return
				}
				select {
				case <-tick.C:
				case <-tg.Done():
					return
				}
			}
		}()
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if producer {
		ev, err := client.NewParser(resp.Body).Next()
		if err != nil || ev.Data != "tick" {
			t.Fatalf("first event %+v, %v", ev, err)
		}
	}
	conn.Close()
	d := waitDone(t, tg, time.Second)
	// The watch notices the close; under traffic a write may fail first.
	if !errors.Is(tg.Err(), core.ErrClientGone) && !(producer && errors.Is(tg.Err(), core.ErrWrite)) {
		t.Errorf("Err %v; want ErrClientGone", tg.Err())
	}
	return d
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
	app := newApp()
	ts := make(targets, 1)
	app.Get("/sse", fibersse.Handle(ts.handler(core.WithQueueLimit(256<<10)),
		core.WithHeartbeat(time.Hour), core.WithWriteTimeout(200*time.Millisecond)))
	base := serve(t, app)

	conn, _ := rawConn(t, base, "GET", "/sse") // never reads
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10)
	}
	tg := ts.next(t)
	big := strings.Repeat("x", 64<<10)
	produced := make(chan int, 1)
	go func() {
		n := 0
		for ; n < 100000 && tg.Dispatch(core.Message{Data: big}) == nil; n++ {
		}
		produced <- n
	}()
	d := waitDone(t, tg, 10*time.Second)
	n := <-produced
	t.Logf("stream ended %v after the first dispatch, %d events of 64 KiB accepted, reason: %v", d, n, tg.Err())
	if !errors.Is(tg.Err(), core.ErrWrite) || !errors.Is(tg.Err(), os.ErrDeadlineExceeded) {
		t.Errorf("Err %v; want ErrWrite and a deadline error", tg.Err())
	}
}

func TestServerWriteTimeout(t *testing.T) {
	for _, wt := range []time.Duration{0, -1} {
		t.Run(fmt.Sprintf("WithWriteTimeout(%v)", wt), func(t *testing.T) {
			app := newApp(fiber.Config{WriteTimeout: 200 * time.Millisecond})
			app.Get("/sse", fibersse.Handle(func(*fiber.Ctx) (core.EventTarget, error) {
				tg := core.NewTarget()
				go func() {
					defer tg.Close()
					tick := time.NewTicker(100 * time.Millisecond)
					defer tick.Stop()
					for i := range 7 { // at 0, 100, ..., 600 ms
						if i > 0 {
							<-tick.C
						}
						if tg.Dispatch(core.Message{ID: strconv.Itoa(i)}) != nil {
							return
						}
					}
				}()
				return tg, nil
			}, core.WithWriteTimeout(wt)))
			base := serve(t, app)
			start := time.Now()
			evs := events(t, get(t, httpClient(t), base+"/sse").Body)
			if d := time.Since(start); len(evs) != 7 || d < 550*time.Millisecond {
				t.Errorf("got %d events over %v; want 7 over 600ms", len(evs), d)
			}
		})
	}
}

func TestKeepAliveAfterStream(t *testing.T) {
	app := newApp()
	app.Get("/sse", fibersse.Handle(func(*fiber.Ctx) (core.EventTarget, error) {
		tg := core.NewTarget()
		tg.Dispatch(core.Message{Data: "x"})
		tg.Close()
		return tg, nil
	}, core.WithWriteTimeout(50*time.Millisecond)))
	app.Get("/ok", func(c *fiber.Ctx) error { return c.SendString("ok") })
	base := serve(t, app)

	conn, br := rawConn(t, base, "GET", "/sse")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp.Body); body != "data: x\n\n" {
		t.Fatalf("body %q", body)
	}
	// Let the stream's last write deadline pass: the server must have
	// cleared it, or the next response on this connection fails.
	<-time.After(150 * time.Millisecond)
	writeRequest(t, conn, "GET", "/ok")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("second request on the connection: %v", err)
	}
	if body := readAll(t, resp.Body); body != "ok" {
		t.Errorf("second request: %q; want ok", body)
	}
}

func TestHead(t *testing.T) {
	app := newApp()
	ts := make(targets, 1)
	app.Get("/sse", fibersse.Handle(ts.handler())) // Fiber routes HEAD to it too
	base := serve(t, app)
	req, _ := http.NewRequest(http.MethodHead, base+"/sse", nil)
	resp, err := httpClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("HEAD: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	tg := ts.next(t)
	waitDone(t, tg, time.Second)
	if !errors.Is(tg.Err(), core.ErrWrite) {
		t.Errorf("Err %v; want ErrWrite", tg.Err())
	}
}

func TestShutdown(t *testing.T) {
	app := newApp()
	ts := make(targets, 1)
	app.Get("/sse", fibersse.Handle(ts.handler(), core.WithHeartbeat(time.Hour)))
	base := serve(t, app)

	resp := get(t, httpClient(t), base+"/sse")
	tg := ts.next(t)
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
	waitDone(t, tg, time.Second)
	if !errors.Is(tg.Err(), core.ErrClientGone) && !errors.Is(tg.Err(), core.ErrShutdown) {
		t.Errorf("Err %v; want ErrClientGone or ErrShutdown", tg.Err())
	}
	if _, err := p.Next(); err != io.EOF {
		t.Errorf("after shutdown: %v; want a clean end (io.EOF)", err)
	}
}

func TestGroupShutdown(t *testing.T) {
	var g core.Group
	app := newApp()
	ts := make(targets, 1)
	app.Get("/sse", fibersse.Handle(ts.handler(), core.WithGroup(&g), core.WithHeartbeat(time.Hour)))
	base := serve(t, app)

	resp := get(t, httpClient(t), base+"/sse")
	tg := ts.next(t)
	for range 100 { // bounded wait for the stream to join the group
		if g.Len() == 1 {
			break
		}
		<-time.After(10 * time.Millisecond)
	}
	if err := tg.Dispatch(core.Message{Data: "queued"}); err != nil {
		t.Fatal(err)
	}
	if err := g.Shutdown(bg(t)); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(tg.Err(), core.ErrShutdown) {
		t.Errorf("Err %v; want ErrShutdown", tg.Err())
	}
	evs := events(t, resp.Body)
	if len(evs) != 1 || evs[0].Data != "queued" {
		t.Errorf("events %+v; want the queued one, then the end", evs)
	}
}

func TestCompressMiddleware(t *testing.T) {
	app := newApp()
	app.Use(compress.New(compress.Config{Level: compress.LevelBestSpeed}))
	ts := make(targets, 1)
	app.Get("/sse", fibersse.Handle(ts.handler()))
	base := serve(t, app)

	resp := get(t, httpClient(t), base+"/sse", "Accept-Encoding", "gzip")
	if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("Content-Encoding %q; want gzip", ce)
	}
	tg := ts.next(t)
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
	ts := make(targets, 1)
	app.Get("/sse", fibersse.Handle(ts.handler(), core.WithHeartbeat(-1)))
	base := serve(t, app)

	conn, br := rawConn(t, base, "GET", "/sse", "Accept-Encoding", "gzip")
	tg := ts.next(t)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("Content-Encoding %q; want gzip", ce)
	}
	conn.Close()
	t.Logf("Done %v after the client closed (gzip, idle, no heartbeat)", waitDone(t, tg, time.Second))
	if !errors.Is(tg.Err(), core.ErrClientGone) {
		t.Errorf("Err %v; want ErrClientGone", tg.Err())
	}
}
