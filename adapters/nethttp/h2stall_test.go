package nethttpsse_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

// smallSendBuf shrinks every accepted connection's send buffer, so that a
// client that stops reading stalls the server's writes soon.
type smallSendBuf struct{ net.Listener }

func (l smallSendBuf) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		_ = c.(*net.TCPConn).SetWriteBuffer(4096)
	}
	return c, err
}

// h2frame writes one HTTP/2 frame.
func h2frame(t *testing.T, c net.Conn, typ, flags byte, stream uint32, payload []byte) {
	t.Helper()
	n := len(payload)
	hdr := []byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags,
		byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
	if _, err := c.Write(append(hdr, payload...)); err != nil {
		t.Fatal(err)
	}
}

// TestHTTP2StalledClientHoldsNoProducer guards producers on HTTP/2: a
// client opens an h2c stream with the largest flow-control windows, then
// stops reading the connection. A producer dispatching on the idle stream
// used to write itself (the direct write) and was held until the client left
// (5s and more with a 300ms write timeout): net/http's HTTP/2 server does
// not end a write held by a stalled connection at its deadline, it queues
// the stream's reset behind the stalled bytes. Over HTTP/2 the writer is
// never lent: every DispatchContext returns by its own context's end.
func TestHTTP2StalledClientHoldsNoProducer(t *testing.T) {
	const wt = 300 * time.Millisecond
	targets := make(chan *core.Target, 1)
	ts := httptest.NewUnstartedServer(nethttpsse.Handle(func(*http.Request) (core.EventTarget, error) {
		tg := core.NewTarget(core.WithQueueBytes(64 << 10))
		targets <- tg
		return tg, nil
	}, core.WithWriteTimeout(wt), core.WithHeartbeat(-1)))
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	ts.Config.Protocols = &p
	ts.Listener = smallSendBuf{ts.Listener}
	ts.Start()
	defer ts.Close()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
	}}
	c, err := d.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close() // the stalled stream's loop write ends with the connection
	if _, err := io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	h2frame(t, c, 0x4, 0, 0, []byte{0, 4, 0x7f, 0xff, 0xff, 0xff}) // SETTINGS: initial window 2^31-1
	inc := uint32(1<<31 - 1 - 65535)
	h2frame(t, c, 0x8, 0, 0, []byte{byte(inc >> 24), byte(inc >> 16), byte(inc >> 8), byte(inc)}) // connection window
	h2frame(t, c, 0x4, 0x1, 0, nil)                                                               // SETTINGS ACK
	h2frame(t, c, 0x1, 0x5, 1, []byte{0x82, 0x86, 0x84, 0x41, 0x01, 'x'})                         // HEADERS: GET http://x/
	var tg *core.Target
	select {
	case tg = <-targets:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not start")
	}
	time.Sleep(50 * time.Millisecond) // the stream idles; the client reads nothing more
	msg := core.Message{Data: strings.Repeat("x", 16<<10)}
	const ctxWait = time.Second
	held := make(chan string, 1)
	go func() {
		// Bounded: the queue (64 KiB) fills within a few dispatches.
		for range 200 {
			ctx, cancel := context.WithTimeout(context.Background(), ctxWait)
			err := tg.DispatchContext(ctx, msg)
			cancel()
			if err != nil {
				held <- "" // waited for queue space until its context ended
				return
			}
		}
		held <- "200 Dispatches of 16 KiB were accepted by a stalled stream with a 64 KiB queue"
	}()
	// Generous for a loaded machine; the defect held a Dispatch until the
	// client left.
	select {
	case msg := <-held:
		if msg != "" {
			t.Fatal(msg)
		}
	case <-time.After(ctxWait + 5*time.Second):
		_ = c.Close() // lets the held Dispatch go
		<-held
		t.Fatalf("a Dispatch was held %v and more (its context ends after %v)", ctxWait+5*time.Second, ctxWait)
	}
}
