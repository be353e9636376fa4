package fiberv3sse

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/ssekit/ssekit/core"
)

// The body is normally framed with WriteTo; a consumer that reads it gets the
// same bytes through fasthttp's bounded pipe.
func TestStreamRead(t *testing.T) {
	tg := core.NewTarget()
	tg.Dispatch(core.Message{ID: "1", Data: "a"})
	tg.Dispatch(core.Message{ID: "2", Data: "b"})
	tg.Close()
	s := &stream{t: tg, o: core.NewOptions()}
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
	s := &stream{t: tg, o: core.NewOptions(core.WithHeartbeat(10 * time.Millisecond))}
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
	s := &stream{t: tg, o: core.NewOptions(core.WithOnEnd(func(err error) { ended = err }))}
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
