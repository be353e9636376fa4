package fasthttpsse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/ssekit/core"
)

// streamWriter is a named writer callback, as fasthttp.StreamWriter is.
type streamWriter func(w *bufio.Writer)

// pipe stands in for fasthttp.NewBoundedStreamReader: it runs sw on a
// goroutine of its own, writing through a bufio.Writer into a pipe whose Close
// makes later writes fail.
func pipe(sw streamWriter) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriter(pw)
		sw(bw)
		_ = pw.CloseWithError(bw.Flush())
	}()
	return pr
}

// tcpPair returns both ends of a loopback TCP connection, closed when the test
// ends.
func tcpPair(t *testing.T) (cli, srv net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	srv, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return cli, srv
}

// result is what WriteTo returned.
type result struct {
	n   int64
	err error
}

// writeTo runs s.WriteTo(w) on a goroutine of its own.
func writeTo(s *Stream, w io.Writer) <-chan result {
	ch := make(chan result, 1)
	go func() {
		n, err := s.WriteTo(w)
		ch <- result{n, err}
	}()
	return ch
}

// wait returns what WriteTo returned, failing the test after 5 s.
func wait(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("stream still running")
		return result{}
	}
}

// readString reads len(want) bytes from c and compares them with want.
func readString(t *testing.T, c net.Conn, want string) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, len(want))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read %q: %v", b, err)
	}
	if string(b) != want {
		t.Errorf("read %q; want %q", b, want)
	}
}

// The body is normally framed with WriteTo; a consumer that reads it gets the
// same bytes through the pipe.
func TestStreamRead(t *testing.T) {
	tg := core.NewTarget()
	tg.Dispatch(core.Message{ID: "1", Data: "a"})
	tg.Dispatch(core.Message{ID: "2", Data: "b"})
	tg.Close()
	s := NewStream(tg, core.NewOptions(), nil, nil, false, pipe)
	b, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := "id: 1\ndata: a\n\nid: 2\ndata: b\n\n"; string(b) != want {
		t.Errorf("read %q; want %q", b, want)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := s.WriteTo(io.Discard); !errors.Is(err, errConsumed) {
		t.Errorf("WriteTo after Read: %v; want errConsumed", err)
	}
}

// Closing the pipe while the loop waits ends the stream.
func TestStreamReadClose(t *testing.T) {
	tg := core.NewTarget()
	tg.Dispatch(core.Message{Data: "a"})
	s := NewStream(tg, core.NewOptions(core.WithHeartbeat(10*time.Millisecond)), nil, nil, false, pipe)
	buf := make([]byte, 64)
	if _, err := s.Read(buf); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tg.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("stream still running after Close")
	}
	if !errors.Is(tg.Err(), core.ErrWrite) {
		t.Errorf("Err %v; want ErrWrite", tg.Err())
	}
}

// A body closed before anything consumed it still stops the target.
func TestStreamCloseUnread(t *testing.T) {
	tg := core.NewTarget()
	var ended error
	s := NewStream(tg, core.NewOptions(core.WithOnEnd(func(err error) { ended = err })), nil, nil, false, pipe)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tg.Done():
	default:
		t.Fatal("target not stopped")
	}
	if !errors.Is(tg.Err(), errNotSent) || !errors.Is(ended, errNotSent) {
		t.Errorf("Err %v, OnEnd %v; want errNotSent", tg.Err(), ended)
	}
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, errConsumed) {
		t.Errorf("Read after Close: %v; want errConsumed", err)
	}
}

// Bytes the client sends during a stream on a plain connection (a pipelined
// request) do not end it, and stay on the connection for the server.
func TestStreamPipelined(t *testing.T) {
	cli, srv := tcpPair(t)
	tg := core.NewTarget()
	s := NewStream(tg, core.NewOptions(core.WithHeartbeat(-1)), nil, srv, false, pipe)
	ch := writeTo(s, srv)
	next := "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
	if _, err := cli.Write([]byte(next)); err != nil {
		t.Fatal(err)
	}
	tg.Dispatch(core.Message{Data: "a"})
	readString(t, cli, "data: a\n\n")
	tg.Close()
	if r := wait(t, ch); r.err != nil {
		t.Errorf("WriteTo: %v", r.err)
	}
	if tg.Err() != nil {
		t.Errorf("Err %v; want nil", tg.Err())
	}
	readString(t, srv, next)
}

// A client that stops reading ends the stream once a write misses its
// deadline, set on the connection.
func TestStreamWriteTimeout(t *testing.T) {
	cli, srv := tcpPair(t)
	// Small socket buffers, so that one large event fills them.
	if err := cli.(*net.TCPConn).SetReadBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	if err := srv.(*net.TCPConn).SetWriteBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	tg := core.NewTarget()
	tg.Dispatch(core.Message{Data: strings.Repeat("x", 8<<20)})
	s := NewStream(tg, core.NewOptions(core.WithWriteTimeout(50*time.Millisecond)), nil, srv, false, pipe)
	r := wait(t, writeTo(s, srv))
	if r.err == nil {
		t.Error("WriteTo: nil error; want the write's")
	}
	if !errors.Is(tg.Err(), core.ErrWrite) || !errors.Is(tg.Err(), os.ErrDeadlineExceeded) {
		t.Errorf("Err %v; want ErrWrite on a timeout", tg.Err())
	}
}

// Closing the shutdown channel ends the stream with ErrShutdown, after what
// was queued, and the body ends cleanly.
func TestStreamShutdown(t *testing.T) {
	tg := core.NewTarget()
	tg.Dispatch(core.Message{Data: "a"})
	shutdown := make(chan struct{})
	close(shutdown)
	s := NewStream(tg, core.NewOptions(), shutdown, nil, false, pipe)
	var b bytes.Buffer
	if _, err := s.WriteTo(&b); err != nil {
		t.Errorf("WriteTo: %v", err)
	}
	if want := "data: a\n\n"; b.String() != want {
		t.Errorf("wrote %q; want %q", b.String(), want)
	}
	if !errors.Is(tg.Err(), core.ErrShutdown) {
		t.Errorf("Err %v; want ErrShutdown", tg.Err())
	}
}

// A panic after the stream (here in OnEnd) fails the body, so that the server
// closes the connection, and goes no further.
func TestStreamPanic(t *testing.T) {
	tg := core.NewTarget()
	tg.Close()
	s := NewStream(tg, core.NewOptions(core.WithOnEnd(func(error) { panic("boom") })), nil, nil, false, pipe)
	_, err := s.WriteTo(io.Discard)
	if pe := (*core.PanicError)(nil); !errors.As(err, &pe) || pe.Value != "boom" {
		t.Errorf("WriteTo: %v; want a *core.PanicError", err)
	}
}

// Without a connection, writes get no deadline.
func TestWriterNoConn(t *testing.T) {
	w := &writer{w: io.Discard}
	if err := w.SetWriteDeadline(time.Now()); !errors.Is(err, errNoConn) {
		t.Errorf("SetWriteDeadline: %v; want errNoConn", err)
	}
}
