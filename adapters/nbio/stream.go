package nbiosse

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"

	"github.com/ssekit/ssekit/adapter"
	"github.com/ssekit/ssekit/core"
)

// Stream states; only the worker running the stream reads and writes them.
const (
	stOpen    uint8 = iota // streaming
	stClosing              // ended; the last bytes are still leaving
	stDone                 // the connection is closed
)

// stream is one event stream on a hijacked connection. It owns no goroutine:
// the target's Notify, the connection's close and written-size callbacks, the
// timing wheel and the Group watch wake it (wake), and a pooled worker runs
// one step (run) at a time.
type stream struct {
	nbc     *nbio.Conn
	conn    net.Conn // the hijacked connection, as nbhttp hands it out
	t       core.EventTarget
	h       *handler
	o       *core.Options       // the handler's, or this request's when observed
	so      core.StreamObserver // nil when nobody observes the stream
	down    <-chan struct{}     // the Group's shutdown; nil without one
	head    []byte              // the response head, sent with the first batch
	chunked bool                // HTTP/1.1: chunked framing; HTTP/1.0: the body ends with the connection
	// keepAlive: after a clean end the connection goes back to nbhttp's
	// parser (hc.Parser, parser) for the next request, as net/http keeps it.
	keepAlive bool
	hc        *nbhttp.Conn
	parser    *nbhttp.Parser

	sched  atomic.Int64  // wake-ups not yet run; see wake
	events atomic.Uint32 // ev* reasons not yet seen
	wrote  atomic.Int64  // mono time of the last write; 0 before the first
	// heard: the client sent bytes while it streamed, which Parse
	// discarded; the connection is then not reused (see finish).
	heard atomic.Bool

	// Bytes handed to the connection, and bytes it has sent (counted by the
	// engine's written-size callback, which Attach installs). While at
	// least lowWater are pending the stream waits before it drains again:
	// wantBelow, when not 0, asks the callback for a wake-up once fewer
	// than that many are pending.
	submitted atomic.Int64
	written   atomic.Int64
	wantBelow atomic.Int64

	// Worker-owned state.
	state   uint8
	sticky  uint32 // evGone and evDown, once seen
	last    int64  // mono time of the last write
	stallAt int64  // when pending bytes make the client stalled; 0: none pending
	// stallMark is the submitted count when the stall clock (stallAt)
	// started: once the bytes up to it have left, the clock starts again
	// for the bytes pending then.
	stallMark int64
	armedAt   int64 // due time of the wheel entry set; 0: none
	keepalive int64 // the engine's KeepaliveTime; see guard
	// ended and failed: a direct step (direct.go) met the target's end or
	// a failed write, and left it to the next worker step.
	ended  bool
	failed error

	// Wheel entry; guarded by the wheel's lock.
	wnext, wprev *stream
	wslot        int32
	wrounds      int32

	ready chan struct{} // closed at the end; only for a target without Notify
}

// Chunk framing and fixed frames.
var (
	heartbeatChunk = []byte("2\r\n:\n\r\n")
	heartbeatRaw   = []byte(":\n")
	lastChunk      = []byte("0\r\n\r\n")
	crlf           = []byte("\r\n")
)

// defaultLinger bounds how long a stream that ended waits for its last
// bytes to leave when WriteTimeout is disabled.
const defaultLinger = 10 * time.Second

// lowWater is the pending bytes below which a stream drains and writes
// again: enough that a burst is not paced by round trips through the
// engine's written-size callback, few enough that a client that stops
// reading holds little in the server (lowWater and one batch, at most the
// target's queue).
const lowWater = 64 << 10

// prefix is the room kept before a batch for its chunk-size line.
const prefix = 18 // 16 hex digits and CRLF

// bufs pools the buffers a batch is drained into.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// run does the stream's work for the wake-ups recorded so far: drain and
// write, heartbeat, stall and end checks. A panic ends the stream.
func (s *stream) run() {
	if s.state == stDone {
		s.events.Store(0)
		return
	}
	defer func() {
		if r := recover(); r != nil {
			s.finish(&core.PanicError{Value: r, Stack: debug.Stack()})
		}
	}()
	ev := s.events.Swap(0)
	s.sticky |= ev & (evGone | evDown)
	if ev&evTimer != 0 {
		s.armedAt = 0 // the wheel dropped the entry that fired
	}
	now := mono()
	s.track(now)
	if s.state == stClosing {
		if s.sticky&evGone != 0 || s.pending() <= 0 || s.stalled(now) || !s.await(1) {
			s.close()
			return
		}
		s.arm(now)
		return
	}
	s.guard()
	switch {
	case s.sticky&evGone != 0:
		s.finish(core.ErrClientGone)
		return
	case s.failed != nil:
		s.finish(s.failed)
		return
	case s.ended:
		s.finish(endReason(s.t))
		return
	}
	if ev&evStart != 0 {
		s.last = now
	}
	if s.stalled(now) {
		s.finish(errStalled)
		return
	}
	if s.pending() >= lowWater && s.await(lowWater) {
		// Too much has not left yet: the target keeps queuing (and its
		// producers wait at its limit) until enough has, or the stall ends
		// the stream.
		s.arm(now)
		return
	}
	n, end, err := s.drain(ev&evStart != 0)
	if err != nil {
		s.finish(err)
		return
	}
	if n > 0 {
		s.last = now
	}
	switch {
	case end:
		s.finish(endReason(s.t))
		return
	case s.sticky&evDown != 0:
		s.finish(core.ErrShutdown)
		return
	}
	if hb := s.h.heartbeat; hb > 0 && now-s.last >= hb && s.pending() <= 0 {
		frame := heartbeatRaw
		if s.chunked {
			frame = heartbeatChunk
		}
		if err := s.write(frame, now); err != nil {
			s.finish(err)
			return
		}
		if s.so != nil {
			s.so.Heartbeat()
		}
		s.last = now
	}
	s.arm(now)
}

// errStalled is the reason a stream ends when its client stopped reading.
var errStalled = fmt.Errorf("%w: %w", core.ErrWrite, os.ErrDeadlineExceeded)

// pending returns the bytes handed to the connection that it has not sent.
func (s *stream) pending() int64 { return s.submitted.Load() - s.written.Load() }

// stalled reports whether bytes have been pending past the write timeout.
func (s *stream) stalled(now int64) bool { return s.stallAt != 0 && now >= s.stallAt }

// track runs the stall clock: none while nothing is pending; while bytes
// are, a clock for the bytes pending when it started (stallMark), started
// again once those have left. So each byte leaves within one to two write
// timeouts or the client is stalled, and a client that keeps reading is
// never stalled. Without a write timeout, the clock finish starts for a
// closing stream's last bytes is left alone.
func (s *stream) track(now int64) {
	switch {
	case s.pending() <= 0:
		s.stallAt = 0
	case s.h.writeTimeout <= 0:
	case s.stallAt == 0 || s.written.Load() >= s.stallMark:
		s.stallAt = now + s.h.writeTimeout
		s.stallMark = s.submitted.Load()
	}
}

// await asks the written-size callback to wake the stream once fewer than
// below bytes are pending. It reports false, asking nothing, when fewer are
// pending already (the callback may have run before the request was seen).
func (s *stream) await(below int64) bool {
	s.wantBelow.Store(below)
	if s.pending() < below && s.wantBelow.CompareAndSwap(below, 0) {
		return false
	}
	return true
}

// guard clears the connection's read deadline. nbhttp arms a new
// connection's (KeepaliveTime) just after registering it with the poller, so
// a request served and hijacked in between (the handler clears it) has its
// stream closed, as a client gone, KeepaliveTime later. Every step of an open
// stream clears it, and an open stream steps at least every KeepaliveTime/2
// (see arm; the heartbeat usually does), so such a deadline never fires.
func (s *stream) guard() {
	if s.state == stOpen {
		_ = s.nbc.SetReadDeadline(time.Time{}) // no timer set: a lock, nothing else
	}
}

// arm sets the stream's wheel entry for its next heartbeat, stall check or
// guard step, unless an entry at least as early is set.
func (s *stream) arm(now int64) {
	next := int64(-1)
	if hb := s.h.heartbeat; hb > 0 && s.state == stOpen {
		next = s.last + hb
	}
	if ka := s.keepalive; ka > 0 && s.state == stOpen && (next < 0 || now+ka/2 < next) {
		next = now + ka/2
	}
	if s.stallAt != 0 && (next < 0 || s.stallAt < next) {
		next = s.stallAt
	}
	if next < 0 || (s.armedAt != 0 && s.armedAt <= next) {
		return
	}
	s.armedAt = next
	timers.set(s, next)
}

// drain writes everything the target has queued as one chunk (with the
// response head first, on the first call). It reports the bytes of events
// written and whether the target has ended.
func (s *stream) drain(first bool) (int, bool, error) {
	bp := bufs.Get().(*[]byte)
	// b is [head][room for the chunk-size line][the batch].
	b := append((*bp)[:0], s.head...)
	start := len(b)
	room := 0
	if s.chunked {
		room = prefix
		b = append(b, make([]byte, prefix)...)
	}
	b, end := s.t.Drain(b)
	defer func() {
		if cap(b) <= 1<<20 { // a huge batch's buffer is left to the GC
			*bp = b[:0]
			bufs.Put(bp)
		}
	}()
	n := len(b) - start - room
	out := b[:start] // the head alone, or nothing
	switch {
	case n > 0 && s.chunked:
		// The chunk-size line goes right before the batch, and the head
		// moves up to meet it.
		var hex [16]byte
		h := strconv.AppendInt(hex[:0], int64(n), 16)
		off := room - len(h) - 2
		copy(b[start+off:], h)
		copy(b[start+off+len(h):], crlf)
		copy(b[off:], b[:start])
		out = append(b[off:], crlf...)
	case n > 0:
		out = b
	}
	s.head = nil
	if len(out) == 0 && !first {
		return 0, end, nil
	}
	if err := s.write(out, mono()); err != nil {
		return 0, end, err
	}
	if s.so != nil {
		s.so.Wrote(countEvents(b[len(b)-n:]), n) // b ends with the batch
	}
	return n, end, nil
}

// write hands b to the connection, which sends what the socket takes now
// and keeps the rest for when it is writable (never blocking the caller),
// and starts the stall clock when some is left.
func (s *stream) write(b []byte, now int64) error {
	if len(b) == 0 {
		return nil
	}
	s.submitted.Add(int64(len(b)))
	s.wrote.Store(now)
	if _, err := s.nbc.Write(b); err != nil {
		return fmt.Errorf("%w: %w", core.ErrWrite, err)
	}
	s.track(now)
	return nil
}

// finish ends an open stream with err: the last chunk (when the connection
// is still usable), the target stopped and OnEnd told (adapter.End), the
// Group left. Then the connection goes back to nbhttp for the next request
// when everything written has left already; otherwise it is closed once it
// has (or once the client stalls).
func (s *stream) finish(err error) {
	if s.state != stOpen {
		return
	}
	s.state = stClosing
	usable := s.sticky&evGone == 0 && !errors.Is(err, core.ErrWrite)
	reuse := false
	if usable && s.head != nil {
		// Ended before its first batch (a panic in the target's Drain):
		// the client still gets the 200 and an empty stream.
		if s.write(s.head, mono()) != nil {
			usable = false
		}
		s.head = nil
	}
	if usable && s.chunked {
		if s.keepAlive && s.pending() <= 0 && !s.heard.Load() {
			// Before the last chunk: the client may send its next request
			// as soon as it has read it. A request sent earlier (as soon
			// as a close event arrived) was discarded: then the
			// connection is closed after the last chunk instead, and the
			// client sends it again on a new one rather than wait for an
			// answer forever.
			s.handBack()
			reuse = !s.heard.Load()
		}
		if s.write(lastChunk, mono()) != nil {
			usable, reuse = false, false
		}
	}
	err = adapter.EndStarted(s.t, *s.o, err, s.so)
	logPanic(err)
	if s.down != nil {
		unwatchGroup(s, s.down)
		adapter.Leave(*s.o)
	}
	if s.ready != nil {
		close(s.ready)
	}
	now := mono()
	switch {
	case reuse:
		s.state = stDone
		timers.remove(s)
		s.armedAt = 0
	case !usable || s.pending() <= 0 || !s.await(1):
		s.close()
	default:
		if s.stallAt == 0 {
			s.stallAt = now + max(s.h.writeTimeout, int64(defaultLinger))
			s.stallMark = s.submitted.Load()
		}
		s.arm(now)
	}
}

// handBack returns the connection to nbhttp's parser, as it is after a
// response, with its keep-alive read deadline.
func (s *stream) handBack() {
	s.hc.Parser = s.parser
	s.nbc.SetSession(s.parser)
	_ = s.nbc.SetReadDeadline(time.Now().Add(s.parser.Engine.KeepaliveTime))
}

// close closes the connection and drops the wheel entry.
func (s *stream) close() {
	s.state = stDone
	timers.remove(s)
	s.armedAt = 0
	_ = s.nbc.Close()
}

// countEvents counts the events in encoded frames, as core's loop does for
// the Observer: each ends with the only blank line it holds.
func countEvents(b []byte) int { return bytes.Count(b, blankLine) }

var blankLine = []byte("\n\n")

// endReason is the reason a target that ended by itself reports through an
// Err() error method ([core.Target], broker subscriptions); nil otherwise.
func endReason(t core.EventTarget) error {
	if e, ok := t.(interface{ Err() error }); ok {
		return e.Err()
	}
	return nil
}

// UnderlayerConn, Parse and CloseAndClean make the stream the connection's
// session in place of nbhttp's parser (nbhttp.ParserCloser), so that the
// engine hands it what the client sends and tells it when the connection
// closes.

// UnderlayerConn returns the hijacked connection.
func (s *stream) UnderlayerConn() net.Conn { return s.conn }

// Parse discards what the client sends while it streams: an EventSource
// sends nothing, and a request pipelined behind a stream is not served (the
// connection is closed after the stream instead of reused).
func (s *stream) Parse(b []byte) error {
	if len(b) > 0 {
		s.heard.Store(true)
	}
	return nil
}

// CloseAndClean is called once the connection has closed, for any reason.
func (s *stream) CloseAndClean(error) { s.wake(evGone) }

// writtenSize counts the bytes the engine sent on a stream's connection and
// wakes a stream waiting for its pending bytes to leave. Attach installs it
// as the engine's written-size callback; it runs under the connection's lock.
func writtenSize(c *nbio.Conn, _ []byte, n int) {
	s, ok := c.Session().(*stream)
	if !ok {
		return
	}
	w := s.written.Add(int64(n))
	if below := s.wantBelow.Load(); below > 0 && s.submitted.Load()-w < below && s.wantBelow.CompareAndSwap(below, 0) {
		s.wake(evWritable)
	}
}

// watchReady wakes s whenever its target's Ready channel signals, for a
// target that does not implement core.Notifier: the one case with a
// goroutine per stream.
func (s *stream) watchReady() {
	for {
		select {
		case <-s.t.Ready():
			s.wake(evReady)
		case <-s.ready:
			return
		}
	}
}
