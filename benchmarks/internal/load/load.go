// Package load measures what open streams cost a server: the memory of idle
// streams, and whether connect/disconnect churn leaves anything behind. The
// server side ([Serve]) runs in its own process so that its numbers hold no
// client memory; [Child] starts and talks to it over stdin/stdout.
package load

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssekit/ssekit/benchmarks/internal/subjects"
	"github.com/ssekit/ssekit/benchmarks/internal/wire"
	"github.com/ssekit/ssekit/core"
)

// Stats is the server's state, read after a full garbage collection.
type Stats struct {
	HeapAlloc  uint64 `json:"heap_alloc"`  // live heap bytes
	StackInuse uint64 `json:"stack_inuse"` // goroutine stack bytes
	Goroutines int    `json:"goroutines"`
	Open       int    `json:"open"` // streams open on the server
}

// ReadStats collects garbage (twice, so that sync.Pools are emptied) and
// reads the memory statistics.
func ReadStats(srv *subjects.Server) Stats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return Stats{HeapAlloc: m.HeapAlloc, StackInuse: m.StackInuse, Goroutines: runtime.NumGoroutine(), Open: srv.Open()}
}

// hello is the first line Serve writes.
type hello struct {
	Addr  string `json:"addr"`
	Error string `json:"error,omitempty"`
}

// Serve is the server process: it starts the subject, writes its address as a
// JSON line on out, then answers each "stats" line read from in with a JSON
// Stats line, until "quit" or the end of in.
func Serve(subjectID string, heartbeat time.Duration, in io.Reader, out io.Writer) error {
	s, ok := subjects.Lookup(subjectID)
	if !ok {
		_ = json.NewEncoder(out).Encode(hello{Error: "unknown subject " + subjectID})
		return fmt.Errorf("unknown subject %q", subjectID)
	}
	var opts []core.Option
	if heartbeat != 0 {
		opts = append(opts, core.WithHeartbeat(heartbeat))
	}
	srv, err := s.Start(opts...)
	if err != nil {
		_ = json.NewEncoder(out).Encode(hello{Error: err.Error()})
		return err
	}
	defer srv.Close()
	enc := json.NewEncoder(out)
	if err := enc.Encode(hello{Addr: srv.Addr}); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		switch sc.Text() {
		case "stats":
			if err := enc.Encode(ReadStats(srv)); err != nil {
				return err
			}
		case "quit":
			return nil
		}
	}
	return sc.Err()
}

// Remote talks to a server started by Serve.
type Remote struct {
	Addr string
	in   io.WriteCloser
	out  *bufio.Reader
}

// Connect reads the server's hello from out and returns the remote. in
// carries the commands to the server.
func Connect(in io.WriteCloser, out io.Reader, timeout time.Duration) (*Remote, error) {
	r := &Remote{in: in, out: bufio.NewReader(out)}
	var h hello
	if err := r.read(&h, timeout); err != nil {
		return nil, err
	}
	if h.Error != "" {
		return nil, errors.New(h.Error)
	}
	r.Addr = h.Addr
	return r, nil
}

func (r *Remote) read(v any, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() {
		line, err := r.out.ReadBytes('\n')
		if err != nil {
			done <- fmt.Errorf("server: %w", err)
			return
		}
		done <- json.Unmarshal(line, v)
	}()
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	select {
	case err := <-done:
		return err
	case <-tm.C:
		return errors.New("server did not answer in time")
	}
}

// Stats asks the server for its Stats.
func (r *Remote) Stats() (Stats, error) {
	var s Stats
	if _, err := io.WriteString(r.in, "stats\n"); err != nil {
		return s, err
	}
	err := r.read(&s, 30*time.Second)
	return s, err
}

// Quit tells the server to stop.
func (r *Remote) Quit() error {
	_, err := io.WriteString(r.in, "quit\n")
	if cerr := r.in.Close(); err == nil {
		err = cerr
	}
	return err
}

// WaitFor polls the server's stats until ok accepts them or timeout passes;
// it returns the last stats read.
func (r *Remote) WaitFor(timeout time.Duration, ok func(Stats) bool) (Stats, bool, error) {
	end := time.Now().Add(timeout)
	for i := 0; ; i++ {
		s, err := r.Stats()
		if err != nil {
			return s, false, err
		}
		if ok(s) {
			return s, true, nil
		}
		if time.Now().After(end) || i > 10000 {
			return s, false, nil
		}
		tm := time.NewTimer(200 * time.Millisecond)
		<-tm.C
	}
}

// Progress, when set, is called about once a second by long operations.
type Progress func(done, total int)

// OpenIdle opens n idle streams (GET /idle) to addr with conc dialers, each
// having read the response headers, before deadline.
func OpenIdle(addr string, n, conc int, deadline time.Time, progress Progress) ([]*wire.Conn, error) {
	return OpenIdlePath(addr, "/idle", n, conc, deadline, progress)
}

// OpenIdlePath is OpenIdle on another route, such as /idle-sub (a broker
// subscription).
func OpenIdlePath(addr, path string, n, conc int, deadline time.Time, progress Progress) ([]*wire.Conn, error) {
	conns := make([]*wire.Conn, n)
	var next, opened atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go tickProgress(stop, progress, func() int { return int(opened.Load()) }, n)
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := wire.DialSize(addr, path, deadline, 512)
				if err == nil && c.Status != 200 {
					err = fmt.Errorf("status %d", c.Status)
					c.Close()
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("stream %d: %w", i, err)
					}
					mu.Unlock()
					next.Store(int64(n)) // stop the others
					return
				}
				conns[i] = c
				opened.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	if firstErr != nil {
		CloseAll(conns)
		return nil, firstErr
	}
	return conns, nil
}

// CloseAll closes every non-nil connection.
func CloseAll(conns []*wire.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// Churn runs cycles connect/headers/disconnect cycles on GET /idle with conc
// clients at once, before deadline.
func Churn(addr string, cycles, conc int, deadline time.Time, progress Progress) error {
	var next, finished atomic.Int64
	errs := make(chan error, conc)
	stop := make(chan struct{})
	go tickProgress(stop, progress, func() int { return int(finished.Load()) }, cycles)
	defer close(stop)
	var wg sync.WaitGroup
	for range min(conc, cycles) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= cycles {
					return
				}
				c, err := wire.DialSize(addr, "/idle", deadline, 512)
				if err != nil {
					errs <- fmt.Errorf("cycle %d: %w", i, err)
					next.Store(int64(cycles))
					return
				}
				c.Close()
				finished.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// tickProgress calls progress about once a second until stop closes.
func tickProgress(stop <-chan struct{}, progress Progress, done func() int, total int) {
	if progress == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			progress(done(), total)
		}
	}
}
