package nbiosse_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// TestDrainsWhileBytesPending guards the burst rate: a stream whose last
// bytes have not all left drains again while less than LowWater is pending
// (waiting for the whole batch to leave made bursts ~2x slower than on
// net/http), and stops there, so that a client that does not read holds at
// most LowWater plus one queue of bytes in the server.
func TestDrainsWhileBytesPending(t *testing.T) {
	const queue = 8 << 10
	pendingc := make(chan func() int64, 1)
	nbiosse.OnStream(func(p func() int64) { pendingc <- p })
	t.Cleanup(func() { nbiosse.OnStream(nil) })
	targets := make(chan *core.Target, 1)
	base := serve(t, nbiosse.Handle(func(*http.Request) (core.EventTarget, error) {
		q := core.NewTarget(core.WithQueueBytes(queue))
		targets <- q
		return q, nil
	}, core.WithHeartbeat(-1), core.WithWriteTimeout(6*ssetest.Timeout)))

	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4 << 10) // fill the kernel's buffers sooner
	if _, err := io.WriteString(conn, "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	var pending func() int64
	var tg *core.Target
	select {
	case pending = <-pendingc:
	case <-time.After(ssetest.Timeout):
		t.Fatal("no stream started")
	}
	tg = <-targets
	defer tg.Close()

	// The client reads nothing: once the kernel's buffers are full, bytes
	// stay pending in the server. Dispatch until the stream stops draining
	// (Dispatch waits at the queue's limit) with at least LowWater pending.
	data := strings.Repeat("x", 1000)
	const most = nbiosse.LowWater + 2*queue // LowWater, one batch, framing
	deadline := time.Now().Add(3 * ssetest.Timeout)
	for i := 0; ; i++ {
		if time.Now().After(deadline) || i == 1_000_000 {
			t.Fatalf("after %d events: %d bytes pending when Dispatch waits; want the stream to drain until at least %d are", i, pending(), nbiosse.LowWater)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := tg.DispatchContext(ctx, core.Message{Data: data})
		cancel()
		if p := pending(); p > most {
			t.Fatalf("%d bytes pending; want at most %d (LowWater and one queue)", p, most)
		}
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			if pending() >= nbiosse.LowWater {
				return // bounded, after draining while bytes were pending
			}
			// The stream may only be late (a busy machine): try again.
		case err != nil:
			t.Fatalf("dispatch %d: %v", i, err)
		}
	}
}
