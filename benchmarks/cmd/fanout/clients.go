package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssekit/ssekit/benchmarks/internal/childproc"
	"github.com/ssekit/ssekit/benchmarks/internal/sseresp"
)

// stream is one client connection, read by its own goroutine.
type stream struct {
	nc net.Conn

	mu      sync.Mutex
	phase   int
	count   int     // events of phase received
	lastSeq int     // the greatest sequence number of phase received, -1 for none
	lastNs  int64   // when the latest event of phase arrived (Unix ns)
	keep    int     // latencies to keep for phase
	lats    []int64 // receipt minus stamp, ns
	closed  bool    // closed by the parent's request
	ended   bool    // the read loop returned
	err     error   // why it ended, unless closed on purpose
}

// clients is the client process's state.
type clients struct {
	streams []*stream
	log     func(format string, args ...any)
}

// clientsRole is the client process: it answers the parent's requests on in
// and out.
func clientsRole(in io.Reader, out io.Writer, logf func(string, ...any)) error {
	childproc.RaiseNoFile()
	c := &clients{log: logf}
	defer c.closeFrom(0)
	return childproc.Serve(in, out, 0, func(q request) reply {
		switch q.Op {
		case "connect":
			n, err := c.connect(q)
			if err != nil {
				return reply{Error: err.Error(), Dialed: n}
			}
			return reply{Dialed: n}
		case "phase":
			for _, s := range c.streams {
				s.mu.Lock()
				s.phase, s.count, s.lastSeq, s.lastNs, s.keep = q.Phase, 0, -1, 0, q.Count
				s.lats = s.lats[:0]
				s.mu.Unlock()
			}
			return reply{}
		case "wait":
			return reply{Wait: c.wait(q)}
		case "close":
			c.closeFrom(q.Keep)
			return reply{}
		case "quit":
			return reply{}
		}
		return reply{Error: "unknown op " + q.Op}
	})
}

// connect opens q.N streams to q.Addr at q.Rate per second at most, each
// sending its request and then reading on its own goroutine. It returns
// once every connection is established and its request sent.
func (c *clients) connect(q request) (int, error) {
	deadline := time.Now().Add(time.Duration(q.TimeoutMs) * time.Millisecond)
	req := []byte("GET " + q.Path + " HTTP/1.1\r\nHost: " + q.Addr + "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n")
	streams := make([]*stream, q.N)
	var dialed atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // dials in flight
	start := time.Now()
	lastLog := start
	for i := range q.N {
		if q.Rate > 0 {
			if d := time.Until(start.Add(time.Duration(float64(i) / q.Rate * float64(time.Second)))); d > 0 {
				tm := time.NewTimer(d)
				<-tm.C
			}
		}
		if time.Since(lastLog) > 2*time.Second {
			lastLog = time.Now()
			c.log("clients: %d/%d connections", dialed.Load(), q.N)
		}
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed || time.Now().After(deadline) {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := dial(q, i, req, deadline)
			<-sem
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("connection %d: %w", i, err)
				}
				mu.Unlock()
				return
			}
			streams[i] = s
			dialed.Add(1)
		}()
	}
	wg.Wait()
	for _, s := range streams {
		if s != nil {
			c.streams = append(c.streams, s)
		}
	}
	n := int(dialed.Load())
	if firstErr == nil && n < q.N {
		firstErr = fmt.Errorf("%d of %d connections before the deadline", n, q.N)
	}
	return n, firstErr
}

// dial connects stream i (from a loopback source address of its own when
// q.Srcs > 1), sends the request and starts the read loop.
func dial(q request, i int, req []byte, deadline time.Time) (*stream, error) {
	d := net.Dialer{Deadline: deadline}
	if q.Srcs > 1 {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%q.Srcs))}
	}
	nc, err := d.Dial("tcp", q.Addr)
	if err != nil {
		return nil, err
	}
	if err := nc.SetWriteDeadline(deadline); err != nil {
		nc.Close()
		return nil, err
	}
	if _, err := nc.Write(req); err != nil {
		nc.Close()
		return nil, err
	}
	s := &stream{nc: nc, lastSeq: -1, phase: -1}
	go s.run()
	return s, nil
}

// run reads the response until the connection ends.
func (s *stream) run() {
	err := sseresp.Read(bufio.NewReaderSize(s.nc, sseresp.BufferSize), nil, s.onLine)
	s.mu.Lock()
	s.ended = true
	if !s.closed {
		s.err = err
	}
	s.mu.Unlock()
}

var dataPrefix = []byte("data: ")

// onLine records a "data: phase seq stamp" line.
func (s *stream) onLine(line []byte) {
	if !bytes.HasPrefix(line, dataPrefix) {
		return
	}
	now := time.Now().UnixNano()
	f := bytes.Fields(line[len(dataPrefix):])
	if len(f) != 3 {
		return
	}
	phase, err1 := strconv.Atoi(string(f[0]))
	seq, err2 := strconv.Atoi(string(f[1]))
	stamp, err3 := strconv.ParseInt(string(f[2]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return
	}
	s.mu.Lock()
	if phase == s.phase {
		s.count++
		s.lastSeq = max(s.lastSeq, seq)
		s.lastNs = now
		if len(s.lats) < s.keep {
			s.lats = append(s.lats, now-stamp)
		}
	}
	s.mu.Unlock()
}

// wait waits until every open stream has received event q.Last of phase
// q.Phase (or ended), or q.TimeoutMs passed, and sums up what they received.
func (c *clients) wait(q request) *waitResult {
	deadline := time.Now().Add(time.Duration(q.TimeoutMs) * time.Millisecond)
	lastLog := time.Now()
	for i := 0; ; i++ {
		waiting := 0
		for _, s := range c.streams {
			s.mu.Lock()
			if !s.ended && (s.phase != q.Phase || s.lastSeq < q.Last) {
				waiting++
			}
			s.mu.Unlock()
		}
		if waiting == 0 || time.Now().After(deadline) || i > 1e6 {
			break
		}
		if time.Since(lastLog) > 2*time.Second {
			lastLog = time.Now()
			c.log("clients: phase %d: %d of %d streams still waiting for event %d", q.Phase, waiting, len(c.streams), q.Last)
		}
		tm := time.NewTimer(20 * time.Millisecond)
		<-tm.C
	}
	r := &waitResult{Conns: len(c.streams), CPUNs: childproc.CPUTime()}
	var lats []int64
	for _, s := range c.streams {
		s.mu.Lock()
		if s.phase == q.Phase {
			if s.lastSeq >= q.Last {
				r.Complete++
			}
			r.Received += int64(s.count)
			r.LastNs = max(r.LastNs, s.lastNs)
			lats = append(lats, s.lats...)
		}
		if s.ended {
			r.Dead++
			if r.Err == "" && s.err != nil {
				r.Err = s.err.Error()
			}
		}
		s.mu.Unlock()
	}
	slices.Sort(lats)
	r.Lats = len(lats)
	if n := len(lats); n > 0 {
		r.P50Ns = lats[(n-1)*50/100]
		r.P99Ns = lats[(n-1)*99/100]
		r.MaxNs = lats[n-1]
	}
	return r
}

// closeFrom closes the streams from index keep on.
func (c *clients) closeFrom(keep int) {
	if keep >= len(c.streams) {
		return
	}
	for _, s := range c.streams[keep:] {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.nc.Close()
	}
	clear(c.streams[keep:])
	c.streams = c.streams[:keep]
}
