package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ssekit/ssekit/internal/hook"
)

// heartbeat is the comment sent on an idle stream.
var heartbeat = []byte(":\n")

func init() {
	hook.Run = func(ctx context.Context, w hook.Writer, t, o any, shutdown <-chan struct{}) error {
		return run(ctx, w, t.(EventTarget), o.(Options), shutdown)
	}
}

// deadlineWriter is a writer that can bound each write (adapter.DeadlineWriter).
type deadlineWriter interface {
	hook.Writer
	SetWriteDeadline(t time.Time) error
}

// run is the stream loop every adapter shares, exported to adapter authors
// as adapter.Run (see its documentation for the contract).
func run(ctx context.Context, w hook.Writer, t EventTarget, o Options, shutdown <-chan struct{}) (err error) {
	s := &loop{w: w, wt: orDefault(o.WriteTimeout, DefaultWriteTimeout), role: newRole()}
	s.dw, _ = w.(deadlineWriter)
	if lo, ok := w.(interface{ LoopOnly() bool }); ok && lo.LoopOnly() {
		s.loopOnly = true // adapter.LoopOnlyWriter
	}
	// The loop holds the writer role except while it waits idle, when it may
	// lend it to a *Target's producers (direct.go).
	q, _ := t.(*Target)
	s.role.Lock()
	joined, started := false, false
	defer func() {
		if r := recover(); r != nil {
			err = newPanicError(r)
		}
		if s.lent {
			_ = q.reclaim(s) // no producer may write once the loop returns
		}
		s.finish()
		err = endStream(t, &o, err, started, s.so)
		if joined {
			o.Group.leave() // last: Shutdown returns once targets are stopped
		}
	}()
	var down <-chan struct{}
	if o.Group != nil {
		var ok bool
		if down, ok = o.Group.join(); !ok {
			// The adapter missed the shutdown (it checks Closing before the
			// headers): send the client elsewhere, soon.
			if err := s.send(refusal()); err != nil {
				return err
			}
			return ErrShutdown
		}
		joined = true
	}
	started = true
	if o.Observer != nil {
		s.so = callStart(o.Observer, o.streamInfo())
		if q, ok := t.(*Target); ok && s.so != nil {
			q.observe(s.so)
		}
	}
	// One timer per stream, armed for Heartbeat after the last write it knew
	// of and not moved per write: when it fires, the loop sends a heartbeat
	// if the stream has been idle that long, and otherwise waits out the rest.
	hb := orDefault(o.Heartbeat, DefaultHeartbeat)
	var wake <-chan time.Time // nil without heartbeats
	var timer *time.Timer
	if hb > 0 {
		s.last = time.Now()
		timer = time.NewTimer(hb)
		defer timer.Stop()
		wake = timer.C
	}
	first := true
	for {
		_, end, err := s.drain(t, first)
		if err != nil {
			return err
		}
		first = false
		if end {
			return endReason(t)
		}
		// More is queued already: write it under the same deadline.
		select {
		case <-t.Ready():
			continue
		default:
		}
		// About to wait: no deadline may stay armed meanwhile (on HTTP/2
		// it resets the stream when it fires, write pending or not).
		s.idle()
		lent := q != nil && q.lend(s)
		var woke int
		select {
		case <-t.Ready():
			woke = wokeReady
		case <-wake:
			woke = wokeTimer
		case <-ctx.Done():
			woke = wokeGone
		case <-down:
			woke = wokeShutdown
		case <-shutdown:
			woke = wokeShutdown
		}
		if lent {
			if err := q.reclaim(s); err != nil {
				return err // a direct write failed
			}
		}
		switch woke {
		case wokeReady:
			continue
		case wokeGone:
			return ErrClientGone
		case wokeShutdown:
			return s.shutdown(t)
		}
		if idle := time.Since(s.last); idle < hb {
			timer.Reset(hb - idle) // the stream wrote since the timer was set
			continue
		}
		if err := s.send(heartbeat); err != nil {
			return err
		}
		if s.so != nil {
			s.so.Heartbeat()
		}
		timer.Reset(hb)
	}
}

// What woke the waiting loop.
const (
	wokeReady = iota
	wokeTimer
	wokeGone
	wokeShutdown
)

// loop holds the per-stream write state. Whoever holds role (the loop, or a
// producer it lent the role to) owns the other fields.
type loop struct {
	role   role
	lent   bool // the loop lent the role and has not taken it back
	failed error
	w      hook.Writer
	dw     deadlineWriter // nil when the writer cannot bound writes
	// loopOnly: the writer must not be lent to producers (HTTP/2; see
	// adapter.LoopOnlyWriter).
	loopOnly bool
	wt       time.Duration  // per-write timeout; 0 means none
	armed    bool           // a write deadline is set
	rearm    time.Time      // when the deadline set is to be moved on
	last     time.Time      // when the last write started
	so       StreamObserver // nil when nobody observes the stream
}

// drain writes everything queued in t and flushes once. With force it
// flushes even when nothing is queued (to send the headers).
func (s *loop) drain(t EventTarget, force bool) (int, bool, error) {
	var bp *[]byte
	var end bool
	events := -1 // unknown: counted only when observed
	if q, ok := t.(*Target); ok {
		if bp, events, end = q.take(); bp == nil { // the queue itself: no copy
			bp = getBuf()
		}
	} else {
		bp = getBuf()
		var b []byte
		b, end = t.Drain((*bp)[:0])
		*bp = b
	}
	defer putBuf(bp)
	b := *bp
	if len(b) == 0 && !force {
		return 0, end, nil
	}
	if err := s.send(b); err != nil {
		return len(b), end, err
	}
	if s.so != nil {
		if events < 0 {
			events = countEvents(b)
		}
		s.so.Wrote(events, len(b))
	}
	return len(b), end, nil
}

// countEvents counts the events in encoded frames: each ends with the only
// blank line it holds (no field line is empty).
func countEvents(b []byte) int { return bytes.Count(b, blankLine) }

var blankLine = []byte("\n\n")

// send writes b (which may be empty) and flushes, under the write deadline.
func (s *loop) send(b []byte) error {
	now := time.Now()
	s.last = now
	if s.dw != nil && s.wt > 0 {
		// Move the deadline on only once less than half of the timeout is
		// left: every write still gets between wt/2 and wt, and a busy
		// stream does not pay for a deadline per batch.
		if !s.armed || now.After(s.rearm) {
			if err := s.dw.SetWriteDeadline(now.Add(s.wt)); err != nil {
				s.dw, s.armed = nil, false // the writer cannot bound writes after all
			} else {
				s.armed = true
				s.rearm = now.Add(s.wt / 2)
			}
		}
	}
	if len(b) > 0 {
		if _, err := s.w.Write(b); err != nil {
			return writeError(err)
		}
	}
	if err := s.w.Flush(); err != nil {
		return writeError(err)
	}
	return nil
}

// endReason is the reason a target that ended by itself reports, when it has
// an Err() error method ([Target], broker subscriptions): nil for a normal end
// (Close, a close event), otherwise why.
func endReason(t EventTarget) error {
	if e, ok := t.(interface{ Err() error }); ok {
		return e.Err()
	}
	return nil
}

// shutdown writes what t has queued and reports ErrShutdown.
func (s *loop) shutdown(t EventTarget) error {
	if _, _, err := s.drain(t, false); err != nil {
		return err
	}
	return ErrShutdown
}

// idle clears the write deadline before the loop waits, on a loop-only writer
// (HTTP/2): a deadline left armed there ends the stream when it fires, since
// net/http resets the stream then, whether or not a write is pending.
// Elsewhere (a net.Conn underneath) a deadline that passes while nothing is
// written is harmless, because send arms a fresh one before the next write,
// so it stays: setting a deadline adds a runtime timer, and a timer earlier
// than the network poller's next wake-up wakes a parked thread, which on 2
// virtual cores cost lone events about 5% of their latency (p50) when every
// one armed and cleared it.
func (s *loop) idle() {
	if s.armed && s.loopOnly {
		s.armed = false
		_ = s.dw.SetWriteDeadline(time.Time{})
	}
}

// finish bounds the server's own end of the response (the final chunk, which
// a stalled client would otherwise block forever).
func (s *loop) finish() {
	if s.dw != nil && s.wt > 0 {
		_ = s.dw.SetWriteDeadline(time.Now().Add(s.wt))
	}
}

// ErrWrite is matched by the reason a stream ended when writing to the client
// failed or missed its deadline.
var ErrWrite = errors.New("ssekit: write failed")

func writeError(err error) error { return fmt.Errorf("%w: %w", ErrWrite, err) }
