// Package brokertest holds the test helpers the broker's tests and its
// Redis backend's tests share: writers that stand in for clients (one that
// records, one that stalls), a stream-loop runner and event-list helpers.
// Helpers fail the test through t, as httptest-style helpers do.
//
// It imports neither broker nor redisbroker, so that package broker's own
// (internal) tests can use it.
package brokertest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// Timeout bounds every wait of these helpers.
const Timeout = 15 * time.Second

// Recorder is a core.Writer that keeps what the stream loop writes and
// signals every flush.
type Recorder struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	flushed chan struct{} // cap 1
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{flushed: make(chan struct{}, 1)} }

// Write implements core.Writer.
func (r *Recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

// Flush implements core.Writer.
func (r *Recorder) Flush() error {
	select {
	case r.flushed <- struct{}{}:
	default:
	}
	return nil
}

// Events parses what was written so far as a client would.
func (r *Recorder) Events() []client.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return client.ParseAll(r.buf.Bytes())
}

// WaitEvents waits until r holds at least n events and returns them, or
// fails the test after Timeout.
func (r *Recorder) WaitEvents(t testing.TB, n int) []client.Event {
	t.Helper()
	deadline := time.NewTimer(Timeout)
	defer deadline.Stop()
	for {
		if ev := r.Events(); len(ev) >= n {
			return ev
		}
		select {
		case <-r.flushed:
		case <-deadline.C:
			t.Fatalf("got %d events; want %d", len(r.Events()), n)
		}
	}
}

// Stalled is a core.Writer whose writes block until Release is closed: a
// client that stopped reading.
type Stalled struct {
	Blocked chan struct{} // closed at the first blocked write
	Release chan struct{} // close to let writes fail
	once    sync.Once
}

// NewStalled returns a Stalled writer.
func NewStalled() *Stalled {
	return &Stalled{Blocked: make(chan struct{}), Release: make(chan struct{})}
}

// Write blocks until Release is closed, then fails.
func (s *Stalled) Write([]byte) (int, error) {
	s.once.Do(func() { close(s.Blocked) })
	<-s.Release
	return 0, errors.New("stalled client gone")
}

// Flush implements core.Writer.
func (s *Stalled) Flush() error { return nil }

// Run runs the stream loop for tgt on w in a goroutine, with heartbeats and
// write deadlines off unless opts say otherwise; the channel gets its result.
func Run(tgt core.EventTarget, w core.Writer, opts ...core.Option) <-chan error {
	o := core.NewOptions(append([]core.Option{core.WithHeartbeat(-1), core.WithWriteTimeout(-1)}, opts...)...)
	done := make(chan error, 1)
	go func() { done <- core.Run(context.Background(), w, tgt, o) }()
	return done
}

// Wait receives from c, or fails the test after Timeout.
func Wait[T any](t testing.TB, c <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(Timeout)
	defer timer.Stop()
	select {
	case v := <-c:
		return v
	case <-timer.C:
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// IDs lists the events' ids, "reset" for an event of type reset (the
// broker's reset signal), and marks a repeated id with "dup:".
func IDs(events []client.Event, reset string) []string {
	out := make([]string, 0, len(events))
	prev := ""
	for _, e := range events {
		if e.Type == reset {
			out = append(out, "reset")
			continue
		}
		if e.LastEventID == prev {
			out = append(out, "dup:"+prev)
		}
		prev = e.LastEventID
		out = append(out, e.LastEventID)
	}
	return out
}

// Datas lists the events' data.
func Datas(events []client.Event) []string {
	out := make([]string, 0, len(events))
	for _, e := range events {
		out = append(out, e.Data)
	}
	return out
}

// Equal fails the test unless got equals want.
func Equal(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}
