package nbiosse_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// blocker is a target whose Drains after the first wait for release: woken
// through its Notify function, it holds a pool worker.
type blocker struct {
	mu      sync.Mutex
	notify  func()
	drains  int
	release chan struct{}
	first   chan struct{} // the first Drain ran
	held    chan struct{} // a Drain is waiting
	ready   chan struct{}
}

func (b *blocker) Ready() <-chan struct{} { return b.ready }
func (b *blocker) Stop(error)             {}
func (b *blocker) Notify(f func())        { b.mu.Lock(); b.notify = f; b.mu.Unlock() }
func (b *blocker) Drain(dst []byte) ([]byte, bool) {
	b.mu.Lock()
	b.drains++
	first := b.drains == 1
	b.mu.Unlock()
	if first {
		close(b.first)
	} else {
		b.held <- struct{}{}
		<-b.release
	}
	return dst, !first
}

func (b *blocker) wake() {
	b.mu.Lock()
	f := b.notify
	b.mu.Unlock()
	f()
}

// holdPool serves route through nbiosse.Handle, except on /block, where each
// stream's target holds a pool worker in its second Drain; it opens as many
// of those as the pool has workers and returns once every worker is held,
// with the base URL and a function that releases them (also run when the
// test ends).
func holdPool(t *testing.T, route nbiosse.HandlerFunc, opts ...core.Option) (string, func()) {
	release := make(chan struct{})
	held := make(chan struct{}, nbiosse.Workers)
	blockers := make(chan *blocker, nbiosse.Workers)
	base := serve(t, nbiosse.Handle(func(r *http.Request) (core.EventTarget, error) {
		if r.URL.Path == "/block" {
			b := &blocker{release: release, held: held, first: make(chan struct{}), ready: make(chan struct{})}
			blockers <- b
			return b, nil
		}
		return route(r)
	}, opts...))
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before serve's cleanup stops the engine
	for range nbiosse.Workers {
		dial(t, base, "/block")
		b := <-blockers
		select {
		case <-b.first:
		case <-time.After(ssetest.Timeout):
			t.Fatal("a blocking stream did not start")
		}
		b.wake()
		select {
		case <-held:
		case <-time.After(ssetest.Timeout):
			t.Fatal("a blocking stream did not take a worker")
		}
	}
	return base, free
}

// dial sends a GET for path on a new connection, closed when the test ends.
func dial(t *testing.T, base, path string) net.Conn {
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestQueueLimitWhilePoolBusy guards the target's queue limit from the
// moment the handler returns: with every pool worker held by other streams,
// a new stream's producer still waits at the limit (its first drain runs on
// the handler's goroutine, not on the pool), instead of growing its queue
// without bound until a worker is free.
func TestQueueLimitWhilePoolBusy(t *testing.T) {
	const limit = 4 << 10
	floods := make(chan *core.Target, 1)
	base, release := holdPool(t, func(r *http.Request) (core.EventTarget, error) {
		tg := core.NewTarget(core.WithQueueBytes(limit))
		floods <- tg
		return tg, nil
	}, core.WithHeartbeat(-1))
	defer release()
	// Every worker is held. The flood's client reads nothing either.
	dial(t, base, "/flood")
	tg := <-floods
	defer tg.Close()
	accepted := 0
	for accepted < 64*limit { // bounded: fails past 64 queues
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := tg.DispatchContext(ctx, core.Message{Data: strings.Repeat("f", 100)})
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return // waited at the limit
		}
		if err != nil {
			t.Fatal(err)
		}
		accepted += 100
	}
	t.Fatalf("Dispatch accepted %d bytes without waiting; want it to wait at the queue limit (%d)", accepted, limit)
}
