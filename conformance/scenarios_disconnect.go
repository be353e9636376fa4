package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// producerLimit bounds a producer loop in count (env.Context bounds it in time).
const producerLimit = 10_000_000

// offer hands tg to whoever waits on targets, without ever blocking.
func offer(targets chan<- *core.Target, tg *core.Target) {
	select {
	case targets <- tg:
	default:
	}
}

// checkGone checks how a stream ended after its client left.
func checkGone(t testing.TB, tg *core.Target) {
	t.Helper()
	if err := tg.Err(); !endedByClient(err) {
		t.Errorf("target.Err() after the client left: got %v; want core.ErrClientGone or core.ErrWrite", err)
	}
}

func clientDisconnect() Scenario {
	s := Scenario{
		Name: "client-disconnect",
		Doc: `Under traffic (a producer dispatching as fast as it can), a client that closes the connection ends the
stream: the target's Done closes within 1s, the producer's Dispatch returns core.ErrClosed, and no
goroutine is left.`,
		Options: []core.Option{core.WithHeartbeat(100 * time.Millisecond)},
		Serial:  true,
	}
	s.Run = func(t testing.TB, env *Env) {
		targets := make(chan *core.Target, 1)
		prod := make(chan error, 1)
		ctx := env.Context()
		base := env.Serve(t, func(Request) (core.EventTarget, error) {
			tg := core.NewTarget()
			offer(targets, tg)
			go func() {
				var err error
				for i := 0; i < producerLimit && err == nil; i++ {
					err = tg.DispatchContext(ctx, core.Message{ID: strconv.Itoa(i), Data: "traffic"})
				}
				select {
				case prod <- err:
				default:
				}
			}()
			return tg, nil
		}, s.Options...)
		st := env.Get(t, base+s.Path())
		for i := range 10 {
			if _, err := st.Next(EventTimeout); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
		}
		tg := receive(t, targets, time.Second, "the target")
		left := time.Now()
		st.Close()
		waitDone(t, tg, time.Second, "the client closed the connection")
		t.Logf("the stream noticed the client had left after %v (under traffic)", time.Since(left))
		checkGone(t, tg)
		if err := receive(t, prod, time.Second, "the producer's last Dispatch"); !errors.Is(err, core.ErrClosed) {
			t.Errorf("the producer's last Dispatch: got %v; want core.ErrClosed", err)
		}
	}
	return s
}

func clientDisconnectIdle() Scenario {
	s := Scenario{
		Name: "client-disconnect-idle",
		Doc: `A client that leaves an idle stream ends it: the target's Done closes within 1s (with
WithHeartbeat(100ms), so that adapters that see a disconnect only when a write fails notice too).`,
		Options: []core.Option{core.WithHeartbeat(100 * time.Millisecond)},
		Serial:  true,
	}
	s.Run = func(t testing.TB, env *Env) {
		targets := make(chan *core.Target, 1)
		base := env.Serve(t, func(Request) (core.EventTarget, error) {
			tg := core.NewTarget()
			offer(targets, tg)
			return tg, tg.Dispatch(core.Message{Data: "ready"})
		}, s.Options...)
		st := env.Get(t, base+s.Path())
		st.ExpectWithin(t, []client.Event{message("ready", "")}, false, EventTimeout)
		tg := receive(t, targets, time.Second, "the target")
		left := time.Now()
		st.Close()
		waitDone(t, tg, time.Second, "the client closed the connection")
		t.Logf("the stream noticed the client had left after %v (idle, heartbeat 100ms)", time.Since(left))
		checkGone(t, tg)
	}
	return s
}

// stalledEvent is the data of the events sent to a client that never reads.
var stalledEvent = strings.Repeat("s", 64<<10)

func stalledReader() Scenario {
	s := Scenario{
		Name: "stalled-reader",
		Doc: `A client that sends its request and never reads cannot hold the stream forever: with
WithWriteTimeout(300ms) and a producer dispatching 64 KiB events, the stream ends (Done closes) within a
few seconds, once the connection's buffers are full, and the producer's Dispatch then returns
core.ErrClosed instead of blocking. Over HTTP/1.1 the client writes its request on a raw connection
with a small receive buffer; over HTTP/2 its flow-control windows are 64 KiB, which it never
replenishes, so the server's writes block on flow control.`,
		Options: []core.Option{core.WithWriteTimeout(300 * time.Millisecond), core.WithHeartbeat(-1)},
		Serial:  true,
	}
	s.Run = func(t testing.TB, env *Env) {
		targets := make(chan *core.Target, 1)
		prod := make(chan error, 1)
		ctx := env.Context()
		base := env.Serve(t, func(Request) (core.EventTarget, error) {
			tg := core.NewTarget()
			offer(targets, tg)
			go func() {
				var err error
				for i := 0; i < producerLimit && err == nil; i++ {
					err = tg.DispatchContext(ctx, core.Message{Data: stalledEvent})
				}
				select {
				case prod <- err:
				default:
				}
			}()
			return tg, nil
		}, s.Options...)
		if env.Transport == HTTP1 {
			conn := dialRaw(t, base)
			if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n",
				s.Path(), conn.RemoteAddr()); err != nil {
				t.Fatalf("writing the request: %v", err)
			}
		} else {
			stallH2(t, env, base+s.Path())
		}
		tg := receive(t, targets, 2*time.Second, "the target")
		waitDone(t, tg, 3*time.Second, "the client stopped reading (WithWriteTimeout(300ms))")
		if err := tg.Err(); err == nil {
			t.Errorf("target.Err() after a write timeout: got nil; want the write error")
		}
		if err := receive(t, prod, time.Second, "the producer's last Dispatch"); !errors.Is(err, core.ErrClosed) {
			t.Errorf("the producer's last Dispatch: got %v; want core.ErrClosed", err)
		}
	}
	return s
}

// stallH2 opens a GET stream on url over HTTP/2 and never reads its body: the
// client's flow-control windows (64 KiB for the stream and the connection)
// are never replenished, so the server's writes soon block. The stream and
// the client's connection are closed by the test's cleanup.
func stallH2(t testing.TB, env *Env, url string) {
	t.Helper()
	tr := newTransport(env.Transport)
	tr.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerConnection: 64 << 10, MaxReceiveBufferPerStream: 64 << 10}
	t.Cleanup(tr.CloseIdleConnections) // registered first: runs after the body is closed
	ctx, cancel := context.WithTimeout(env.Context(), env.Timeout)
	req := NewRequest(t, http.MethodGet, url, http.Header{"Accept": {"text/event-stream"}}, "").WithContext(ctx)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	if resp.ProtoMajor != 2 {
		t.Fatalf("GET %s: got a response over %s; want it over %s", url, resp.Proto, env.Transport)
	}
}

// dialRaw opens a TCP connection to the server at base, with a small receive
// buffer, closed by the test's cleanup.
func dialRaw(t testing.TB, base string) net.Conn {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("conformance: bad base URL %q: %v", base, err)
	}
	d := net.Dialer{Timeout: DefaultTimeout}
	conn, err := d.Dial("tcp", u.Host)
	if err != nil {
		t.Fatalf("dial %s: %v", u.Host, err)
	}
	t.Cleanup(func() { conn.Close() })
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10)
	}
	return conn
}

func producerAfterDisconnect() Scenario {
	s := Scenario{
		Name: "producer-after-disconnect",
		Doc: `A producer that dispatches after its client left (without watching Done) gets an error, and no later
than 3s: Dispatch never blocks forever on a dead stream.`,
		Serial: true,
	}
	s.Run = func(t testing.TB, env *Env) {
		targets := make(chan *core.Target, 1)
		base := env.Serve(t, func(Request) (core.EventTarget, error) {
			tg := core.NewTarget()
			offer(targets, tg)
			return tg, tg.Dispatch(core.Message{Data: "first"})
		}, s.Options...)
		st := env.Get(t, base+s.Path())
		st.ExpectWithin(t, []client.Event{message("first", "")}, false, EventTimeout)
		tg := receive(t, targets, time.Second, "the target")
		st.Close()
		ctx, cancel := context.WithTimeout(env.Context(), 3*time.Second)
		defer cancel()
		start := time.Now()
		var err error
		n := 0
		for ; n < producerLimit; n++ {
			if err = tg.DispatchContext(ctx, core.Message{Data: "late"}); err != nil {
				break
			}
		}
		if !errors.Is(err, core.ErrClosed) {
			t.Fatalf("Dispatch after the client left: got %v after %d accepted dispatches in %v; want core.ErrClosed within 3s",
				err, n, time.Since(start))
		}
		waitDone(t, tg, time.Second, "Dispatch returned ErrClosed")
		checkGone(t, tg)
	}
	return s
}
