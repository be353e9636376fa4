package faults

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ssekit/ssekit/core"
)

// TestDisconnectStorm opens thousands of streams on every adapter and ends
// each with a TCP RST (SO_LINGER 0, then close): most after the first event
// arrived, some right after sending the request, some halfway through the
// request's headers. Every stream must end (the group empties, OnEnd hears
// of each one that started), and goroutines and heap must return to their
// baseline: nothing leaks per disconnect.
func TestDisconnectStorm(t *testing.T) {
	n, batch := 2000, 50
	if testing.Short() {
		n = 300
	}
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			var g core.Group
			e := newEnds()
			base := a.serve(t, serverConfig{ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 0},
				func(request) (core.EventTarget, error) {
					tg := core.NewTarget()
					_ = tg.Dispatch(core.Message{Data: "hi"})
					return tg, nil
				}, core.WithGroup(&g), e.option(), core.WithWriteTimeout(time.Second)) // at least 500ms a write: enough on a busy machine
			goroutines, heap := settle()
			start := time.Now()
			var (
				mu     sync.Mutex
				errs   []error
				events int // connections reset after the first event
			)
			for i := 0; i < n; i += batch {
				var wg sync.WaitGroup
				for j := i; j < min(i+batch, n); j++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						afterEvent, err := abruptStream(base, j%8)
						mu.Lock()
						defer mu.Unlock()
						if err != nil && len(errs) < 10 {
							errs = append(errs, err)
						}
						if afterEvent {
							events++
						}
					}()
				}
				wg.Wait()
				if len(errs) > 0 {
					break
				}
			}
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("clients: %v", err)
			}
			elapsed := time.Since(start)
			// Every stream that started must end, and the group empty.
			e.waitFor(t, events, wait)
			deadline := time.Now().Add(wait)
			for g.Len() > 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if l := g.Len(); l != 0 {
				t.Fatalf("%d streams still in the group %v after the last client left", l, wait)
			}
			t.Logf("%d connections reset (%d after the first event) in %v; %d streams ended: %s",
				n, events, elapsed.Round(time.Millisecond), e.count(), e)
			waitGoroutines(t, "after the storm", goroutines, 5, wait)
			// Nothing is kept per connection: a few MiB of slack for pools.
			checkHeap(t, "after the storm", heap, 16*miB)
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.reasons["PANIC"] > 0 {
				t.Errorf("%d streams ended in a panic", e.reasons["PANIC"])
			}
		})
	}
}

// abruptStream opens a stream on base and resets the connection: kind 0
// right after the request, kind 1 halfway through its headers, otherwise
// after the first event arrived (then it reports afterEvent).
func abruptStream(base string, kind int) (afterEvent bool, err error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", hostPort(base))
	if err != nil {
		return false, err
	}
	c := nc.(*net.TCPConn)
	defer reset(c)
	_ = c.SetDeadline(time.Now().Add(wait))
	req := "GET /sse HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n"
	if kind == 1 {
		req = req[:len(req)/2]
	}
	if _, err := io.WriteString(c, req); err != nil {
		return false, err
	}
	if kind <= 1 {
		return false, nil
	}
	br := bufio.NewReader(c)
	resp, err := readResponseHead(c, br, wait)
	if err != nil {
		return false, err
	}
	if resp.status != 200 {
		return false, fmt.Errorf("status %d", resp.status)
	}
	var got []byte
	buf := make([]byte, 512)
	for !bytes.Contains(got, []byte("data: hi\n\n")) {
		k, err := br.Read(buf)
		got = append(got, buf[:k]...)
		if err != nil {
			return false, fmt.Errorf("reading the first event: %w (got %q)", err, got)
		}
	}
	return true, nil
}
