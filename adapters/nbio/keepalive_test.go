package nbiosse_test

import (
	"bufio"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/lesismal/nbio/nbhttp"

	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// TestKeepaliveArmedLate guards streams against nbhttp's late keep-alive
// deadline: nbhttp arms a new connection's read deadline (KeepaliveTime)
// just after registering it with the poller, so a request served in between
// had its stream closed, as a client gone, KeepaliveTime later (seen in
// interop/faults' slowloris under load). The test arms that deadline itself
// once the stream has taken the connection over, with heartbeats off: the
// stream must still be open, and stream, well past it.
func TestKeepaliveArmedLate(t *testing.T) {
	const keepalive = 2 * time.Second
	nbiosse.OnHijack(func(c net.Conn) { _ = c.SetReadDeadline(time.Now().Add(keepalive)) })
	t.Cleanup(func() { nbiosse.OnHijack(nil) }) // runs after the engine stopped
	targets := make(chan *core.Target, 1)
	base := serveConf(t, nbiosse.Handle(func(*http.Request) (core.EventTarget, error) {
		tg := core.NewTarget()
		targets <- tg
		return tg, nil
	}, core.WithHeartbeat(-1)), func(c *nbhttp.Config) { c.KeepaliveTime = keepalive })
	c := dial(t, base, "/sse")
	br := bufio.NewReader(c)
	readUntil(t, c, br, "\r\n\r\n", ssetest.Timeout)
	tg := <-targets
	defer tg.Close()
	time.Sleep(keepalive + keepalive/2)
	select {
	case <-tg.Done():
		t.Fatalf("the stream ended (%v) when the late keep-alive deadline fired", tg.Err())
	default:
	}
	if err := tg.Dispatch(core.Message{Data: "alive"}); err != nil {
		t.Fatal(err)
	}
	readUntil(t, c, br, "data: alive\n\n", ssetest.Timeout)
}
