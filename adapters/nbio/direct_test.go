package nbiosse_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// readUntil reads c until what it has read contains want, or fails after
// within.
func readUntil(t *testing.T, c net.Conn, br *bufio.Reader, want string, within time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	var got strings.Builder
	for !strings.Contains(got.String(), want) {
		b, err := br.ReadByte()
		if err != nil {
			t.Fatalf("read %q, then %v; want %q", got.String(), err, want)
		}
		got.WriteByte(b)
	}
}

// directStream holds every pool worker and opens a /lone stream, whose
// target (made with topts) it returns once the response head has arrived
// and the stream has been idle longer than the direct rule asks.
func directStream(t *testing.T, topts ...core.TargetOption) (*core.Target, net.Conn, *bufio.Reader, func()) {
	targets := make(chan *core.Target, 1)
	base, release := holdPool(t, func(r *http.Request) (core.EventTarget, error) {
		tg := core.NewTarget(topts...)
		targets <- tg
		return tg, nil
	}, core.WithHeartbeat(-1))
	c := dial(t, base, "/lone")
	br := bufio.NewReader(c)
	readUntil(t, c, br, "\r\n\r\n", ssetest.Timeout)
	time.Sleep(5 * time.Millisecond) // idle: more than 100µs since the head
	return <-targets, c, br, release
}

// TestDirectWhilePoolBusy guards the direct step: a lone event on an idle
// stream is written by its producer (here the pool's every worker is held,
// so nobody else could write it), while the end (Close) is left to a worker,
// so the target's Stop and OnEnd never run inside Close.
func TestDirectWhilePoolBusy(t *testing.T) {
	tg, c, br, release := directStream(t)
	if err := tg.Dispatch(core.Message{Data: "lone"}); err != nil {
		t.Fatal(err)
	}
	readUntil(t, c, br, "data: lone\n\n", ssetest.Timeout)
	tg.Close()
	select {
	case <-tg.Done():
		t.Fatal("the stream ended inside Close; want its end left to a worker")
	default:
	}
	release()
	readUntil(t, c, br, "0\r\n\r\n", ssetest.Timeout) // the last chunk
	ssetest.WaitDone(t, tg, ssetest.Timeout)
}

// TestQueueOnlyNotDirect: a QueueOnly target's producer never writes; its
// event waits for a worker.
func TestQueueOnlyNotDirect(t *testing.T) {
	tg, c, br, release := directStream(t, core.QueueOnly())
	if err := tg.Dispatch(core.Message{Data: "queued"}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if b, err := br.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %q, %v while every worker is held; want nothing", b, err)
	}
	release()
	readUntil(t, c, br, "data: queued\n\n", ssetest.Timeout)
	tg.Close()
}

// TestRequestAfterDirectClose: a client that sends its next request as soon
// as it has read a close event (written directly, while the pool is busy, so
// the last chunk comes later) gets an answer or a closed connection, never
// silence: the request used to be discarded and the connection reused, and
// the client waited for the keep-alive timeout (found by an attack).
func TestRequestAfterDirectClose(t *testing.T) {
	tg, c, br, release := directStream(t)
	if err := tg.Dispatch(core.Message{Event: "close"}); err != nil {
		t.Fatal(err)
	}
	readUntil(t, c, br, "event: close\n", ssetest.Timeout)
	if _, err := io.WriteString(c, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the request arrives while the stream still holds the connection
	release()
	readUntil(t, c, br, "0\r\n\r\n", ssetest.Timeout)
	_ = c.SetReadDeadline(time.Now().Add(ssetest.Timeout))
	resp, err := http.ReadResponse(br, nil)
	var ne net.Error
	switch {
	case err == nil:
		resp.Body.Close()
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("the request sent after the close event got neither an answer nor a close within %v", ssetest.Timeout)
	}
}
