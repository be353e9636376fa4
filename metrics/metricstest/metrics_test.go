package metricstest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/core"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp's process-wide goroutines, started once, never stopped.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp/stackless.funcWorker"),
	)
}

// timeout bounds every wait of these tests (a busy machine is slow, never
// this slow).
const timeout = 20 * time.Second

// TestMetrics runs real streams on every adapter, with each metrics library
// installed, and reads the figures back through the library's test reader.
func TestMetrics(t *testing.T) {
	for _, srv := range servers {
		for _, l := range libs {
			t.Run(srv.name+"/"+l.name, func(t *testing.T) {
				t.Parallel()
				obs, read := l.setup(t)
				scenarios(t, srv, obs, read)
			})
		}
	}
}

// fixture is one adapter's server with its metrics.
type fixture struct {
	srv   server
	base  string
	read  reader
	b     *broker.Broker
	group *core.Group
}

// value reads one figure of route path.
func (f *fixture) value(t *testing.T, metric, path string, labels ...string) float64 {
	t.Helper()
	if path != "" {
		labels = append(labels, "route", f.srv.label(path), "adapter", f.srv.name)
	}
	return f.read(t, metric, labels...)
}

// waitValue waits until the figure is want (bounded).
func (f *fixture) waitValue(t *testing.T, want float64, metric, path string, labels ...string) {
	t.Helper()
	f.waitFor(t, "", want, func(got float64) bool { return got == want }, metric, path, labels...)
}

// waitFor waits until ok accepts the figure (bounded).
func (f *fixture) waitFor(t *testing.T, cmp string, want float64, ok func(float64) bool, metric, path string, labels ...string) {
	t.Helper()
	var got float64
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got = f.value(t, metric, path, labels...); ok(got) {
			return
		}
	}
	t.Fatalf("%s %s %v: got %v; want %s%v within %v", metric, path, labels, got, cmp, want, timeout)
}

// waitAtLeast waits until the figure is at least want (bounded).
func (f *fixture) waitAtLeast(t *testing.T, want float64, metric, path string, labels ...string) {
	t.Helper()
	f.waitFor(t, ">= ", want, func(got float64) bool { return got >= want }, metric, path, labels...)
}

func scenarios(t *testing.T, srv server, obs observer, read reader) {
	f := &fixture{srv: srv, read: read, group: &core.Group{}}
	f.b = broker.New(broker.Options{Observer: obs, QueueEvents: 8})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := f.b.Shutdown(ctx); err != nil {
			t.Errorf("broker Shutdown: %v", err)
		}
	})
	common := []core.Option{core.WithObserver(obs), core.WithGroup(f.group)}
	big := strings.Repeat("x", 64<<10)
	f.base = srv.serve(t, []route{
		{"/done", func(string) (core.EventTarget, error) {
			tg := core.NewTarget()
			for i := range 3 {
				tg.Dispatch(core.Message{ID: fmt.Sprint(i), Data: "event"})
			}
			tg.Close()
			return tg, nil
		}, common},
		{"/deny", func(string) (core.EventTarget, error) {
			return nil, core.Error(http.StatusForbidden, "no")
		}, common},
		{"/hold", func(string) (core.EventTarget, error) {
			tg := core.NewTarget()
			tg.Dispatch(core.Message{Data: "first"})
			return tg, nil
		}, slices.Concat(common, []core.Option{core.WithHeartbeat(30 * time.Millisecond)})},
		{"/stall", func(string) (core.EventTarget, error) {
			// QueueOnly: the producer must meet a full queue. By default its
			// first Dispatch on the idle stream may write the event itself and
			// block there until the write timeout, never waiting for space.
			tg := core.NewTarget(core.WithQueueBytes(128<<10), core.QueueOnly())
			go func() { // until the stream ends, bounded
				for i := 0; i < 100_000; i++ {
					if tg.Dispatch(core.Message{Data: big}) != nil {
						return
					}
				}
			}()
			return tg, nil
			// The write timeout leaves the producer time to fill the queue
			// and wait on a busy machine.
		}, slices.Concat(common, []core.Option{core.WithWriteTimeout(2 * time.Second)})},
		{"/topic", func(last string) (core.EventTarget, error) {
			return f.b.Subscribe(context.Background(), []string{"room"}, last)
		}, common},
	})

	t.Run("closed", f.closed)
	t.Run("rejected", f.rejected)
	t.Run("client gone", f.clientGone)
	t.Run("stalled", f.stalled)
	t.Run("slow subscriber", f.slowSubscriber)
	t.Run("shutdown", f.shutdown) // last: the group refuses streams from then on
	f.waitValue(t, 0, "streams_open", "")
}

// A stream that ends normally: its events, bytes and flushes are counted.
func (f *fixture) closed(t *testing.T) {
	res, err := http.Get(f.base + "/done")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /done: %d, %v", res.StatusCode, err)
	}
	f.waitValue(t, 1, "streams_ended_total", "/done", "reason", "closed")
	f.waitValue(t, 1, "streams_started_total", "/done")
	f.waitValue(t, 0, "streams_open", "/done")
	f.waitValue(t, 3, "events_written_total", "/done")
	f.waitValue(t, float64(len(body)), "bytes_written_total", "/done")
	f.waitAtLeast(t, 1, "flushes_total", "/done")
	f.waitValue(t, 1, "stream_duration_seconds", "/done")
}

// A handler error answers without a stream.
func (f *fixture) rejected(t *testing.T) {
	res, err := http.Get(f.base + "/deny")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("GET /deny: %d; want 403", res.StatusCode)
	}
	f.waitValue(t, 1, "streams_rejected_total", "/deny", "reason", "handler_error")
	if got := f.value(t, "streams_started_total", "/deny"); got != 0 {
		t.Fatalf("started: %v; want 0 for a rejected request", got)
	}
}

// An idle stream sends heartbeats; a client that leaves ends it.
func (f *fixture) clientGone(t *testing.T) {
	conn, br := dial(t, f.base, "/hold")
	readEvent(t, conn, br)
	f.waitValue(t, 1, "streams_open", "/hold")
	f.waitAtLeast(t, 2, "heartbeats_total", "/hold")
	conn.Close()
	f.waitValue(t, 1, "streams_ended_total", "/hold", "reason", "client_gone")
	f.waitValue(t, 0, "streams_open", "/hold")
}

// A client that stops reading stalls its stream's writes until the write
// timeout ends it; the producer waited for queue space meanwhile.
func (f *fixture) stalled(t *testing.T) {
	conn, _ := dial(t, f.base, "/stall") // never read from again
	defer conn.Close()
	// A small receive buffer fills sooner. (Not for a client that reads
	// again later: below the loopback MSS, the window may never reopen.)
	_ = conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	f.waitValue(t, 1, "streams_ended_total", "/stall", "reason", "stalled")
	f.waitAtLeast(t, 1, "dispatch_wait_seconds", "/stall")
}

// A subscriber too slow for the broker's queue is disconnected: its stream
// ends as a slow subscriber once it catches up.
func (f *fixture) slowSubscriber(t *testing.T) {
	slow, slowBr := dial(t, f.base, "/topic")
	defer slow.Close()
	f.waitValue(t, 1, "broker_subscribers", "", "topic", "room")
	big := strings.Repeat("y", 64<<10)
	var first string
	published := 0
	for ; published < 2000 && f.value(t, "broker_slow_drops_total", "", "topic", "room") == 0; published++ {
		id, err := f.b.Publish(context.Background(), "room", core.Message{Data: big})
		if err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = id
		}
	}
	f.waitValue(t, 1, "broker_slow_drops_total", "", "topic", "room")
	_ = slow.SetReadDeadline(time.Now().Add(timeout))
	if _, err := io.Copy(io.Discard, slowBr); err != nil {
		t.Fatalf("reading the slow stream to its end: %v", err)
	}
	f.waitValue(t, 1, "streams_ended_total", "/topic", "reason", "slow_subscriber")
	f.waitValue(t, float64(published), "broker_published_total", "", "topic", "room", "result", "ok")
	f.waitAtLeast(t, 1, "broker_deliveries_total", "", "topic", "room")
	f.waitValue(t, 0, "broker_subscribers", "", "topic", "room")

	// A client that resumes gets the log after its id.
	again, br := dial(t, f.base, "/topic", "Last-Event-ID: "+first)
	readEvent(t, again, br)
	f.waitValue(t, 1, "broker_replays_total", "", "reset", "false")
	f.waitValue(t, float64(published-1), "broker_replayed_events_total", "")
	again.Close()
	f.waitValue(t, 0, "broker_subscribers", "", "topic", "room")
}

// Shutting the group down ends every stream as a shutdown.
func (f *fixture) shutdown(t *testing.T) {
	for range 2 {
		conn, br := dial(t, f.base, "/hold")
		defer conn.Close()
		readEvent(t, conn, br)
	}
	f.waitValue(t, 2, "streams_open", "/hold")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := f.group.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	f.waitValue(t, 2, "streams_ended_total", "/hold", "reason", "shutdown")
	f.waitValue(t, 0, "streams_open", "/hold")
}

// dial sends a GET for path on a raw connection, and reads the response
// headers.
func dial(t *testing.T, base, path string, hdr ...string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), timeout)
	if err != nil {
		t.Fatal(err)
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\nConnection: close\r\n"
	for _, h := range hdr {
		req += h + "\r\n"
	}
	if _, err := conn.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	br := bufio.NewReaderSize(conn, 4<<10)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		t.Fatalf("GET %s: status %q, %v", path, status, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("GET %s: headers: %v", path, err)
		}
		if line == "\r\n" {
			break
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn, br
}

// readEvent reads up to the end of the next event (chunk framing aside).
func readEvent(t *testing.T, conn net.Conn, br *bufio.Reader) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	defer conn.SetReadDeadline(time.Time{})
	var last byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			t.Fatalf("reading an event: %v", err)
		}
		if c == '\n' && last == '\n' {
			return
		}
		if c != '\r' {
			last = c
		}
	}
}
