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
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/ssekit/ssekit/adapter"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// Timeout bounds every wait of these helpers.
const Timeout = 15 * time.Second

// Recorder is a adapter.Writer that keeps what the stream loop writes and
// signals every flush.
type Recorder struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	flushed chan struct{} // cap 1
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{flushed: make(chan struct{}, 1)} }

// Write implements adapter.Writer.
func (r *Recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

// Flush implements adapter.Writer.
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

// Stalled is a adapter.Writer whose writes block until Release is closed: a
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

// Flush implements adapter.Writer.
func (s *Stalled) Flush() error { return nil }

// Run runs the stream loop for tgt on w in a goroutine, with heartbeats and
// write deadlines off unless opts say otherwise; the channel gets its result.
func Run(tgt core.EventTarget, w adapter.Writer, opts ...core.Option) <-chan error {
	o := core.NewOptions(append([]core.Option{core.WithHeartbeat(-1), core.WithWriteTimeout(-1)}, opts...)...)
	done := make(chan error, 1)
	go func() { done <- adapter.Run(context.Background(), w, tgt, o) }()
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

// Aliased returns a string equal to s whose bytes are those of the returned
// slice, as strings from a framework's reused buffers are (Fiber's c.Params):
// writing to the slice changes the string. Overwrite it with Scribble.
func Aliased(s string) (string, []byte) {
	b := []byte(s)
	if len(b) == 0 {
		return "", b
	}
	return unsafe.String(&b[0], len(b)), b
}

// Scribble overwrites b, as the next request does to a reused buffer.
func Scribble(b []byte) {
	for i := range b {
		b[i] = 'z'
	}
}

// Within runs f on its own goroutine and returns what it panicked with (nil
// if it returned), or fails the test when f has not returned within d: the
// call blocked, such as on a lock a panic left held. A blocked f is left
// behind (the test has failed).
func Within(t testing.TB, d time.Duration, what string, f func()) (panicked any) {
	t.Helper()
	done := make(chan any, 1)
	go func() {
		ok := false
		defer func() {
			if !ok {
				done <- recover()
			}
		}()
		f()
		ok = true
		done <- nil
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case p := <-done:
		return p
	case <-timer.C:
		t.Fatalf("%s: still blocked after %v", what, d)
		panic("unreachable")
	}
}

// Broker is what ReusedParams needs of a broker, as method values (a
// Subscribe wrapped to return a core.EventTarget).
type Broker struct {
	Publish   func(ctx context.Context, topic string, m core.Message) (string, error)
	Subscribe func(ctx context.Context, topics []string, lastEventID string) (core.EventTarget, error)
}

// ReusedParams checks a framework route that subscribes to the topic of its
// path, taken from a buffer the framework reuses (Fiber's c.Params), as
// users write it: base serves GET /t/:topic streaming b.Subscribe of the
// topic (ended receives each stream's end reason, from core.WithOnEnd) and
// GET /o/:name answering anything. It opens the stream of "alpha",
// sends 400 other requests, publishes to "alpha" and expects the event, ends
// the stream, and expects Publish and Subscribe to still complete.
func ReusedParams(t *testing.T, base string, b Broker, ended <-chan error) {
	t.Helper()
	const bound = 10 * time.Second
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}

	ctx, cancel := context.WithTimeout(context.Background(), 4*Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/t/alpha", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /t/alpha: %s", resp.Status)
	}
	// Headers arrive after the handler returned: the subscription is
	// registered, and its topic string points into the framework's buffer.

	const workers, each = 4, 100
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				// No longer than /t/alpha, so the framework's path buffer
				// is overwritten in place rather than grown.
				url := fmt.Sprintf("%s/o/%c%04d", base, 'a'+w, i)
				r, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err == nil {
					var res *http.Response
					if res, err = hc.Do(r); err == nil {
						_, err = io.Copy(io.Discard, res.Body)
						res.Body.Close()
					}
				}
				if err != nil {
					t.Errorf("GET %s: %v", url, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	got := make(chan client.Event, 1)
	readErr := make(chan error, 1)
	go func() {
		ev, err := client.NewParser(resp.Body).Next()
		if err != nil {
			readErr <- err
			return
		}
		got <- ev
	}()
	if _, err := b.Publish(ctx, "alpha", core.Message{Data: "after reuse"}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	timer := time.NewTimer(bound)
	defer timer.Stop()
	select {
	case ev := <-got:
		if ev.Data != "after reuse" {
			t.Fatalf("got %+v; want the event published to alpha", ev)
		}
	case err := <-readErr:
		t.Fatalf("reading the stream: %v", err)
	case <-timer.C:
		t.Fatalf("the stream of alpha received nothing within %v of a publish to alpha", bound)
	}

	cancel() // the client goes away
	resp.Body.Close()
	if err := Wait(t, ended, "the stream to end"); err != nil && !errors.Is(err, core.ErrClientGone) && !errors.Is(err, core.ErrWrite) {
		t.Fatalf("the stream ended with %v; want the client gone", err)
	}
	Within(t, bound, "Publish and Subscribe after the stream ended", func() {
		ctx := context.Background()
		if _, err := b.Publish(ctx, "alpha", core.Message{Data: "x"}); err != nil {
			t.Errorf("Publish: %v", err)
		}
		s, err := b.Subscribe(ctx, []string{"alpha"}, "")
		if err != nil {
			t.Errorf("Subscribe: %v", err)
			return
		}
		s.Stop(nil)
	})
}
