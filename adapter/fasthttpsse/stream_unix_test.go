//go:build unix

package fasthttpsse

import (
	"errors"
	"testing"

	"github.com/ssekit/ssekit/core"
)

// A client that closes its connection ends the stream at once, with no
// heartbeat to notice it, and the body ends cleanly. It needs the connection
// watch, which only Unix systems have.
func TestStreamClientGone(t *testing.T) {
	cli, srv := tcpPair(t)
	tg := core.NewTarget()
	tg.Dispatch(core.Message{ID: "1", Data: "a"})
	s := NewStream(tg, core.NewOptions(core.WithHeartbeat(-1)), nil, srv, false, pipe)
	ch := writeTo(s, srv)
	want := "id: 1\ndata: a\n\n"
	readString(t, cli, want)
	cli.Close()
	r := wait(t, ch)
	if r.err != nil || r.n != int64(len(want)) {
		t.Errorf("WriteTo: %d, %v; want %d, nil", r.n, r.err, len(want))
	}
	if !errors.Is(tg.Err(), core.ErrClientGone) {
		t.Errorf("Err %v; want ErrClientGone", tg.Err())
	}
}
