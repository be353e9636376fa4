package faults

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// Figures of the slowloris attack.
const (
	slowHeaderConns = 40          // connections that trickle their headers forever
	stalledBodies   = 10          // POSTs that announce a body and never send it
	slowBodies      = 10          // POSTs that send their body a few bytes at a time
	neverRead       = 40          // streams whose client never reads
	floodQueue      = 64 * kiB    // queue limit of the never-read streams
	slowTimeout     = time.Second // ReadHeaderTimeout / ReadTimeout, as a user sets it
	// slowWrite is the streams' write timeout. Each write gets between half
	// of it and all of it: on a busy 2-core machine a goroutine can wait
	// a few hundred milliseconds to run, and with two suites at once 1s
	// failed the healthy client's writes there (a goroutine descheduled
	// between arming the deadline and writing).
	slowWrite = 2 * time.Second
)

// TestSlowloris attacks a server set up as a user should (net/http with
// ReadHeaderTimeout; Fiber with ReadTimeout; nbhttp with KeepaliveTime;
// every stream with WithWriteTimeout(2s)) with clients that never finish
// their headers,
// POSTs whose body never comes or trickles, and streams that are never read,
// while one healthy client keeps streaming. It asserts that:
//
//   - the server closes the header tricklers within its timeout;
//   - a POST whose body does not come is answered or closed in bounded time;
//   - every never-read stream ends with a write error (the write timeout),
//     its producer unblocked;
//   - the healthy client keeps receiving events throughout;
//   - heap and goroutines stay bounded and return to baseline.
func TestSlowloris(t *testing.T) {
	for _, name := range []string{"nethttp", "fiber", "fiberv3", "nbio"} {
		t.Run(name, func(t *testing.T) { slowloris(t, adapterNamed(name), false) })
	}
}

// TestSlowBody is the slowloris attack with POSTs whose body never comes or
// trickles in (100 bytes every 100ms), on every adapter; the POSTs that never
// finish their body ask for a producer that dispatches 1 KiB events as fast as
// it can. Each must be answered or closed in bounded time, and the heap stay
// bounded.
func TestSlowBody(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			slowloris(t, a, true)
		})
	}
}

func slowloris(t *testing.T, a adapter, posts bool) {
	var (
		mu     sync.Mutex
		floods []*core.Target
	)
	route := func(r request) (core.EventTarget, error) {
		switch r.Query.Get("mode") {
		case "flood1k": // as much as Dispatch takes: 1 KiB events, default queue
			tg := core.NewTarget()
			go ssetest.Produce(tg, strings.Repeat("y", kiB), 0)
			return tg, nil
		case "flood": // as much as Dispatch takes: 4 KiB events
			tg := core.NewTarget(core.WithQueueBytes(floodQueue))
			mu.Lock()
			floods = append(floods, tg)
			mu.Unlock()
			go ssetest.Produce(tg, strings.Repeat("x", 4*kiB), 0)
			return tg, nil
		default: // an event every 20ms
			tg := core.NewTarget()
			go ssetest.Produce(tg, "tick", 20*time.Millisecond)
			return tg, nil
		}
	}
	var g core.Group
	e := newEnds()
	base := a.serve(t, serverConfig{ReadHeaderTimeout: slowTimeout, ReadTimeout: slowTimeout, SmallBuf: true},
		route, core.WithWriteTimeout(slowWrite), core.WithHeartbeat(200*time.Millisecond), core.WithGroup(&g), e.option())
	goroutines, heap := settle()

	// The healthy client streams throughout and records the longest gap.
	ctx, cancel := context.WithCancel(context.Background())
	healthy := make(chan error, 1)
	var healthyEvents int
	var longestGap time.Duration
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/sse?mode=tick", nil)
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			healthy <- err
			return
		}
		defer resp.Body.Close()
		p := client.NewParser(resp.Body)
		last := time.Now()
		for {
			if _, err := p.Next(); err != nil {
				if ctx.Err() != nil {
					err = nil
				}
				healthy <- err
				return
			}
			healthyEvents++
			longestGap = max(longestGap, time.Since(last))
			last = time.Now()
		}
	}()

	start := time.Now()
	var wg sync.WaitGroup
	var amu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		amu.Lock()
		defer amu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	var conns []net.Conn
	var cmu sync.Mutex
	open := func() (*net.TCPConn, error) {
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", hostPort(base))
		if err != nil {
			return nil, err
		}
		cmu.Lock()
		conns = append(conns, c)
		cmu.Unlock()
		return c.(*net.TCPConn), nil
	}
	// closedWithin reports how the server ended a connection we no longer
	// write to: a response (its status) or a close, within d.
	closedWithin := func(c net.Conn, d time.Duration) (string, error) {
		br := bufio.NewReader(c)
		resp, err := readResponseHead(c, br, d)
		if err == nil {
			return fmt.Sprintf("status %d", resp.status), nil
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "", fmt.Errorf("neither answered nor closed within %v", d)
		}
		return "closed", nil
	}

	// 1. Headers that never end: a byte every 200ms.
	for i := range slowHeaderConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := open()
			if err != nil {
				fail("header trickler %d: %v", i, err)
				return
			}
			if _, err := io.WriteString(c, "GET /sse?mode=tick HTTP/1.1\r\nHost: test\r\nX-Slow: "); err != nil {
				fail("header trickler %d: %v", i, err)
				return
			}
			deadline := time.Now().Add(slowTimeout + 10*time.Second)
			for time.Now().Before(deadline) {
				time.Sleep(200 * time.Millisecond)
				if _, err := c.Write([]byte("a")); err != nil {
					return // the server closed it
				}
				_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
				var b [256]byte
				if _, err := c.Read(b[:]); err != nil {
					var ne net.Error
					if !errors.As(err, &ne) || !ne.Timeout() {
						return // closed
					}
				} else {
					return // answered (408 or 400) and about to close
				}
			}
			fail("header trickler %d: still open %v after its first byte", i, time.Since(start).Round(time.Millisecond))
		}()
	}
	// 2. POSTs that announce a body and send ten bytes of it.
	for i := range stalledBodies {
		if !posts {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := open()
			if err != nil {
				fail("stalled body %d: %v", i, err)
				return
			}
			_, _ = io.WriteString(c, "POST /sse?mode=flood1k HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n0123456789")
			if _, err := closedWithin(c, slowTimeout+8*time.Second); err != nil {
				fail("POST whose body never comes: %v", err)
			}
		}()
	}
	// 3. POSTs that send a 64,000-byte body 100 bytes every 100ms.
	for i := range slowBodies {
		if !posts {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := open()
			if err != nil {
				fail("slow body %d: %v", i, err)
				return
			}
			_, _ = io.WriteString(c, "POST /sse?mode=tick HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\nContent-Length: 64000\r\n\r\n")
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range 640 {
					if _, err := c.Write([]byte(strings.Repeat("b", 100))); err != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
			if _, err := closedWithin(c, slowTimeout+8*time.Second); err != nil {
				fail("POST whose body trickles: %v", err)
			}
			_ = c.Close()
			<-done
		}()
	}
	// 4. Streams never read after their response head, behind a 4 KiB
	// receive buffer. A client starved for longer than the header timeout
	// between its dial and its request (two suites at once under -race)
	// is itself a slowloris, closed without an answer: it tries again, a
	// bounded number of times.
	var retried atomic.Int32
	for i := range neverRead {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 1; ; attempt++ {
				c, err := open()
				if err != nil {
					fail("never-read %d: %v", i, err)
					return
				}
				_ = c.SetReadBuffer(4 * kiB)
				if _, err := io.WriteString(c, "GET /sse?mode=flood HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
					fail("never-read %d: %v", i, err)
					return
				}
				resp, err := readResponseHead(c, bufio.NewReaderSize(c, 16), 2*wait)
				var ne net.Error
				switch {
				case err == nil && resp.status == http.StatusOK:
					return // and never read again
				case err == nil:
					fail("never-read %d: status %d", i, resp.status)
					return
				case errors.As(err, &ne) && ne.Timeout():
					fail("never-read %d: no response head within %v", i, 2*wait)
					return
				case attempt == 3:
					fail("never-read %d: closed without a response %d times: %v", i, attempt, err)
					return
				}
				retried.Add(1)
				_ = c.Close()
			}
		}()
	}
	wg.Wait()

	// Every never-read stream ends with a failed write, its producer
	// released (Produce returns once Dispatch fails).
	// Twice the usual wait: with two suites running at once under -race,
	// 15s was not always enough for all of them to reach the handler.
	deadline := time.Now().Add(2 * wait)
	for {
		mu.Lock()
		nf := len(floods)
		mu.Unlock()
		if nf >= neverRead || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	fl := append([]*core.Target(nil), floods...)
	mu.Unlock()
	// A client that tried again may have left a stream behind (the server
	// started it, but its head did not reach the client in time): that one
	// ends when the client closes, as a client gone or a failed write.
	extra := int(retried.Load())
	if len(fl) < neverRead || len(fl) > neverRead+extra {
		t.Errorf("%d never-read streams started; want %d (and up to %d more from clients that tried again)", len(fl), neverRead, extra)
	}
	var slowest time.Duration
	failed := 0
	for _, tg := range fl {
		d := ssetest.WaitDone(t, tg, wait)
		slowest = max(slowest, d)
		if errors.Is(tg.Err(), core.ErrWrite) {
			failed++
		} else if !errors.Is(tg.Err(), core.ErrClientGone) {
			t.Errorf("a never-read stream ended with %v; want core.ErrWrite", tg.Err())
		}
	}
	if failed < len(fl)-extra {
		t.Errorf("%d of %d never-read streams ended with a failed write; want all but the %d left by clients that tried again", failed, len(fl), extra)
	}
	// While every attacker is still connected: the never-read streams' queues,
	// the stalled POSTs' (default) queues, a generous slack.
	bound := uint64(neverRead*(floodQueue+64*kiB)) + 24*miB
	if posts {
		bound += stalledBodies * core.DefaultQueueBytes
	}
	checkHeap(t, "under attack", heap, bound)

	// The healthy client outlived every timeout of the attack (and Fiber's
	// ReadTimeout twice over) and kept streaming.
	time.Sleep(2 * slowTimeout)
	cancel()
	if err := <-healthy; err != nil {
		t.Errorf("the healthy client's stream failed during the attack: %v", err)
	}
	t.Logf("attack over %v; never-read streams ended by %v after the attack; healthy client: %d events, longest gap %v",
		time.Since(start).Round(time.Millisecond), slowest.Round(time.Millisecond), healthyEvents, longestGap.Round(time.Millisecond))
	if healthyEvents < 20 {
		t.Errorf("the healthy client got %d events; want a steady stream", healthyEvents)
	}
	if longestGap > 5*time.Second {
		t.Errorf("the healthy client waited %v for an event", longestGap)
	}
	for _, f := range failures {
		t.Error(f)
	}

	cmu.Lock()
	for _, c := range conns {
		_ = c.Close()
	}
	cmu.Unlock()
	dl := time.Now().Add(wait)
	for g.Len() > 0 && time.Now().Before(dl) {
		time.Sleep(10 * time.Millisecond)
	}
	if l := g.Len(); l != 0 {
		t.Errorf("%d streams still running after every client left", l)
	}
	t.Logf("streams ended: %s; never-read clients that had to try again: %d", e, retried.Load())
	waitGoroutines(t, "after the attack", goroutines, 5, wait)
	checkHeap(t, "after the attack", heap, 16*miB)
}
