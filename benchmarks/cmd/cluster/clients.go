package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssekit/ssekit/benchmarks/internal/childproc"
	"github.com/ssekit/ssekit/benchmarks/internal/sseresp"
)

// maxAttempts bounds the connections one stream makes in a run.
const maxAttempts = 100000

// defaultRetry is the reconnection delay of a stream whose server sent no
// "retry:"; each reconnect waits a random 0.5 to 1.5 times the retry, so
// that the clients of a killed instance come back spread over a second
// instead of all at once.
const defaultRetry = time.Second

// stream is one subscriber: a raw loopback HTTP/1.1 connection read by its
// own goroutine, reconnecting with Last-Event-ID when it ends.
type stream struct {
	idx   int // global index
	topic int
	req   string // request line and fixed headers

	mu       sync.Mutex
	cur      int // the instance it connects to
	got      seqSet
	maxSeq   int
	lastID   string
	retry    time.Duration
	resets   int
	open     bool // a 200 response is being read
	dead     bool // gave up
	nc       net.Conn
	attempts int
	lastErr  error
}

// clients is a client process's state.
type clients struct {
	addrs []string
	srcs  int
	log   func(string, ...any)

	streams    []*stream
	stop       chan struct{}
	stopOnce   sync.Once
	wg         sync.WaitGroup
	hist       [maxPhases]hist
	received   [maxPhases]atomic.Int64
	dups       [maxPhases]atomic.Int64
	misrouted  atomic.Int64
	reconnects atomic.Int64
}

// clientsRole is a client process: it answers the parent's requests.
func clientsRole(in io.Reader, out io.Writer, logf func(string, ...any)) error {
	childproc.RaiseNoFile()
	c := &clients{stop: make(chan struct{}), log: logf}
	defer c.close()
	return childproc.Serve(in, out, maxRequest, func(q request) reply {
		switch q.Op {
		case "connect":
			if err := c.connect(q); err != nil {
				return reply{Error: err.Error(), Stats: c.stats()}
			}
			return reply{Stats: c.stats()}
		case "stats":
			return reply{Stats: c.stats()}
		case "wait":
			return reply{Stats: c.wait(q)}
		case "verify":
			return reply{Verify: c.verify(q.Published)}
		case "quit":
			return reply{}
		}
		return reply{Error: "unknown op " + q.Op}
	})
}

// connect starts q.N streams (global indexes q.First on), at q.Rate per
// second at most, and waits until every one has its 200 response or
// q.TimeoutMs passed. Stream g reads topic g mod q.Topics on instance
// (g / q.Topics) mod instances, so that each topic's subscribers spread
// over every instance.
func (c *clients) connect(q request) error {
	if len(q.Addrs) == 0 || q.Topics < 1 || q.N < 1 {
		return errors.New("connect: need addrs, topics and n")
	}
	c.addrs, c.srcs = q.Addrs, max(q.Srcs, 1)
	deadline := time.Now().Add(time.Duration(q.TimeoutMs) * time.Millisecond)
	start := time.Now()
	lastLog := start
	for i := range q.N {
		g := q.First + i
		topic := g % q.Topics
		s := &stream{idx: g, topic: topic, cur: instanceOf(g, q.Topics, len(q.Addrs)), maxSeq: -1,
			req: "GET /events?topic=" + topicName(topic) + " HTTP/1.1\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n"}
		c.streams = append(c.streams, s)
		c.wg.Add(1)
		go c.run(s)
		if q.Rate > 0 {
			if d := time.Until(start.Add(time.Duration(float64(i+1) / q.Rate * float64(time.Second)))); d > 0 {
				sleep(d)
			}
		}
		if time.Since(lastLog) > 3*time.Second {
			lastLog = time.Now()
			c.log("clients %d: %d/%d streams started", q.First, i+1, q.N)
		}
	}
	for i := 0; ; i++ {
		st := c.stats()
		if st.Open == len(c.streams) {
			return nil
		}
		if time.Now().After(deadline) || i > 100000 {
			return fmt.Errorf("%d of %d streams open after %v (last error: %s)", st.Open, len(c.streams), time.Since(start).Round(time.Millisecond), st.LastErr)
		}
		sleep(50 * time.Millisecond)
	}
}

// instanceOf returns the instance stream g first connects to: the streams
// of each topic, and the topics, spread over every instance.
func instanceOf(g, topics, instances int) int { return (g + g/topics) % instances }

// run is a stream's goroutine: connect, read until the response ends,
// wait, reconnect; until the process stops.
func (c *clients) run(s *stream) {
	defer c.wg.Done()
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if c.stopping() {
			return
		}
		if attempt > 0 {
			c.reconnects.Add(1)
		}
		clean, err := c.once(s)
		if c.stopping() {
			return
		}
		s.mu.Lock()
		s.open = false
		s.lastErr = err
		delay := s.retry
		if delay <= 0 {
			delay = defaultRetry
		}
		delay = time.Duration(float64(delay) * (0.5 + rand.Float64()))
		if !clean {
			// The instance failed (refused, reset, gone): the load
			// balancer sends the next attempt to another one, chosen
			// by the stream's index so that the clients of one
			// instance spread over all the others.
			if len(c.addrs) > 1 {
				s.cur = (s.cur + 1 + s.idx%(len(c.addrs)-1)) % len(c.addrs)
			}
			if s.attempts > 0 && isDialError(err) {
				delay = time.Duration(50+rand.IntN(200)) * time.Millisecond
			}
		}
		s.mu.Unlock()
		tm := time.NewTimer(delay)
		select {
		case <-tm.C:
		case <-c.stop:
			tm.Stop()
			return
		}
	}
	s.mu.Lock()
	s.dead = true
	s.mu.Unlock()
}

// isDialError reports whether err is a failed connection attempt.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (c *clients) stopping() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// once makes one connection of s and reads it until it ends; clean
// reports a response that ended normally (such as a refusal while Redis is
// down), as opposed to a failed connection.
func (c *clients) once(s *stream) (clean bool, err error) {
	s.mu.Lock()
	addr := c.addrs[s.cur]
	req := s.req + "Host: " + addr + "\r\n"
	if s.lastID != "" {
		req += "Last-Event-ID: " + s.lastID + "\r\n"
	}
	s.attempts++
	s.mu.Unlock()
	d := net.Dialer{Timeout: 5 * time.Second}
	if c.srcs > 1 {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+s.idx%c.srcs))}
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return false, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // no TIME_WAIT left by thousands of reconnects
	}
	s.mu.Lock()
	s.nc = nc
	s.mu.Unlock()
	if c.stopping() {
		nc.Close()
		return true, nil
	}
	defer nc.Close()
	_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		return false, err
	}
	p := parser{s: s, c: c}
	err = sseresp.Read(bufio.NewReaderSize(nc, sseresp.BufferSize), func() {
		s.mu.Lock()
		s.open = true
		s.mu.Unlock()
	}, p.line)
	return errors.Is(err, sseresp.ErrEnd) && p.complete, err
}

// parser turns a stream's lines into events (the fields this benchmark's
// server sends: id, event, data, retry; comments are heartbeats).
type parser struct {
	s        *stream
	c        *clients
	id       []byte
	hasID    bool
	event    []byte
	data     []byte
	hasData  bool
	complete bool // the last line ended an event (or nothing was pending)
}

func (p *parser) line(line []byte) {
	if len(line) == 0 {
		p.dispatch()
		return
	}
	p.complete = false
	if line[0] == ':' {
		p.complete = !p.hasID && !p.hasData && len(p.event) == 0
		return
	}
	k, v, _ := bytes.Cut(line, []byte(":"))
	v = bytes.TrimPrefix(v, []byte(" "))
	switch string(k) {
	case "id":
		p.id, p.hasID = append(p.id[:0], v...), true
	case "event":
		p.event = append(p.event[:0], v...)
	case "data":
		p.data, p.hasData = append(p.data[:0], v...), true
	case "retry":
		if ms, err := strconv.Atoi(string(v)); err == nil {
			p.s.mu.Lock()
			p.s.retry = time.Duration(ms) * time.Millisecond
			p.s.mu.Unlock()
		}
	}
}

// resetEvent is broker.ResetEvent.
const resetEvent = "ssekit-reset"

// dispatch handles the event the blank line ended.
func (p *parser) dispatch() {
	defer func() {
		p.hasID, p.hasData, p.complete = false, false, true
		p.event = p.event[:0]
	}()
	s := p.s
	if p.hasID {
		s.mu.Lock()
		s.lastID = string(p.id)
		s.mu.Unlock()
	}
	if string(p.event) == resetEvent {
		s.mu.Lock()
		s.resets++
		s.mu.Unlock()
		return
	}
	if !p.hasData {
		return
	}
	now := time.Now().UnixNano()
	ph, topic, seq, stamp, ok := parseData(p.data)
	if !ok || ph < 0 || ph >= maxPhases {
		return
	}
	if topic != s.topic {
		p.c.misrouted.Add(1)
		return
	}
	p.c.received[ph].Add(1)
	s.mu.Lock()
	fresh := s.got.add(seq)
	s.maxSeq = max(s.maxSeq, seq)
	s.mu.Unlock()
	if !fresh {
		if p.c.dups[ph].Add(1) <= 5 && p.c.log != nil { // enough to tell one event twice from a replay gone wrong
			s.mu.Lock()
			p.c.log("duplicate: stream %d (topic %d, connection %d, %d resets) got seq %d again, as id %q",
				s.idx, topic, s.attempts, s.resets, seq, p.id)
			s.mu.Unlock()
		}
		return
	}
	p.c.hist[ph].add(now - stamp)
}

// parseData parses "phase topic seq stamp".
func parseData(b []byte) (phase, topic, seq int, stamp int64, ok bool) {
	var f [4]int64
	for i := range f {
		b = bytes.TrimLeft(b, " ")
		j := bytes.IndexByte(b, ' ')
		if j < 0 {
			j = len(b)
		}
		if j == 0 || (i < 3) == (j == len(b)) {
			return 0, 0, 0, 0, false
		}
		n, err := strconv.ParseInt(string(b[:j]), 10, 64)
		if err != nil || n < 0 {
			return 0, 0, 0, 0, false
		}
		f[i], b = n, b[j:]
	}
	if f[0] > 1<<20 || f[1] > 1<<30 || f[2] > 1<<30 {
		return 0, 0, 0, 0, false
	}
	return int(f[0]), int(f[1]), int(f[2]), f[3], true
}

// stats sums the streams up.
func (c *clients) stats() *stats {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	st := &stats{CPUNs: childproc.CPUTime(), Goroutines: runtime.NumGoroutine(), HeapInuse: int64(m.HeapInuse),
		StackInuse: int64(m.StackInuse), Streams: len(c.streams), Reconnects: c.reconnects.Load()}
	for _, s := range c.streams {
		s.mu.Lock()
		if s.open {
			st.Open++
		}
		if s.resets > 0 {
			st.Resets++
		}
		if s.dead {
			st.Dead++
		}
		if s.lastErr != nil && !errors.Is(s.lastErr, sseresp.ErrEnd) {
			st.LastErr = s.lastErr.Error()
		}
		s.mu.Unlock()
	}
	for i := range c.received {
		st.Received = append(st.Received, c.received[i].Load())
	}
	return st
}

// wait waits until every stream that has not given up has received its
// topic's event q.Last[topic] (or a later one), or q.TimeoutMs passed.
func (c *clients) wait(q request) *stats {
	deadline := time.Now().Add(time.Duration(q.TimeoutMs) * time.Millisecond)
	lastLog := time.Now()
	waiting := 0
	for i := 0; ; i++ {
		waiting = 0
		for _, s := range c.streams {
			if s.topic >= len(q.Last) || q.Last[s.topic] < 0 {
				continue
			}
			s.mu.Lock()
			if !s.dead && !s.got.has(q.Last[s.topic]) && s.maxSeq < q.Last[s.topic] {
				waiting++
			}
			s.mu.Unlock()
		}
		if waiting == 0 || time.Now().After(deadline) || i > 100000 {
			break
		}
		if time.Since(lastLog) > 3*time.Second {
			lastLog = time.Now()
			c.log("clients: %d of %d streams still short of the last events", waiting, len(c.streams))
		}
		sleep(50 * time.Millisecond)
	}
	st := c.stats()
	st.Waiting = waiting
	return st
}

// verify compares what every stream received with what was published (per
// topic) and returns the counts and latency histograms per phase.
func (c *clients) verify(pub []published) *verifyResult {
	r := &verifyResult{Misrouted: c.misrouted.Load(), Reconnects: c.reconnects.Load()}
	for _, s := range c.streams {
		s.mu.Lock()
		var p published
		if s.topic < len(pub) {
			p = pub[s.topic]
		}
		verifyStream(&s.got, p, s.resets > 0, &r.Tally)
		if s.resets > 0 {
			r.Resets++
		}
		if s.dead {
			r.Dead++
		}
		s.mu.Unlock()
	}
	for i := range maxPhases {
		r.Tally[i].Duplicates = c.dups[i].Load()
		r.Hist[i] = c.hist[i].snapshot()
	}
	return r
}

// close stops every stream and waits for their goroutines.
func (c *clients) close() {
	c.stopOnce.Do(func() { close(c.stop) })
	for _, s := range c.streams {
		s.mu.Lock()
		if s.nc != nil {
			s.nc.Close()
		}
		s.mu.Unlock()
	}
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	tm := time.NewTimer(10 * time.Second)
	defer tm.Stop()
	select {
	case <-done:
	case <-tm.C:
	}
}
