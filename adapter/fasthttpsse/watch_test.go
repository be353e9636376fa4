package fasthttpsse

import (
	"crypto/tls"
	"net"
	"testing"
)

// startWatch watches sockets, plain or under TLS, and nothing else.
func TestStartWatch(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	tc := tls.Server(srv, &tls.Config{}) // its state is enough: no handshake

	for _, tt := range []struct {
		name       string
		conn       net.Conn
		bodyStream bool
		want       bool
	}{
		{"nil", nil, false, false},
		{"in-memory pipe", p1, false, false},
		{"TCP", srv, false, canPeek},
		{"TCP, streamed request body", srv, true, canPeek},
		{"TLS", tc, false, canPeek},
		// Bytes of the body may still arrive: on TLS they would end the stream.
		{"TLS, streamed request body", tc, true, false},
	} {
		w := startWatch(tt.conn, tt.bodyStream)
		if got := w != nil; got != tt.want {
			t.Errorf("%s: watched %v; want %v", tt.name, got, tt.want)
		}
		if w != nil {
			select {
			case <-w.Done():
				t.Errorf("%s: done with the client still there: %v", tt.name, w.Err())
			default:
			}
			w.stop()
			if w.Err() != nil {
				t.Errorf("%s: Err %v after stop; want nil", tt.name, w.Err())
			}
		}
	}
	// After stop, the connection reads normally again (no deadline left).
	if _, err := cli.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := srv.Read(b); err != nil || b[0] != 'x' {
		t.Errorf("read after stop: %q, %v", b, err)
	}
	// A nil watch is a no-op with the background context.
	var w *watch
	w.stop()
	if w.ctx().Done() != nil {
		t.Error("nil watch: context can be done")
	}
}
