package core

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Writer is what an adapter hands the stream loop: the response body, with a
// way to push buffered bytes to the client.
type Writer interface {
	Write(p []byte) (int, error)
	Flush() error
}

// DeadlineWriter is a [Writer] that can bound each write. Adapters implement
// it whenever their framework exposes the connection's write deadline.
type DeadlineWriter interface {
	Writer
	SetWriteDeadline(t time.Time) error
}

// heartbeat is the comment sent on an idle stream.
var heartbeat = []byte(":\n")

// Run is the stream loop every adapter shares. The adapter has set [Header]
// (and the status, 200) but written no body yet. Run flushes at once so the
// headers leave before the first event, then repeatedly writes everything the
// target has queued and flushes once, so a burst costs one flush and a lone
// event leaves at once. After an idle interval it sends a heartbeat comment.
//
// It returns, stopping t with the reason, when the target ends (nil, or the
// reason its Err method reports, such as a failed iterator), when ctx
// is done ([ErrClientGone]: adapters pass the request's context), when a write
// or flush fails or misses its deadline, or when the group shuts down or
// Options.Shutdown closes ([ErrShutdown], after writing what was queued).
// A panic in the target, in its Stop or in Options.OnEnd ends only this
// stream, as a [*PanicError].
func Run(ctx context.Context, w Writer, t EventTarget, o Options) (err error) {
	s := loop{w: w, wt: orDefault(o.WriteTimeout, DefaultWriteTimeout)}
	s.dw, _ = w.(DeadlineWriter)
	joined := false
	defer func() {
		if r := recover(); r != nil {
			err = newPanicError(r)
		}
		s.finish()
		err = End(t, o, err)
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
			if err := s.send(Refusal()); err != nil {
				return err
			}
			return ErrShutdown
		}
		joined = true
	}
	// The heartbeat wakes the loop through a clock: the one shared by the
	// streams of these Options (NewOptions makes it), or one of its own. The
	// wake-up is set for Heartbeat after the last write it knew of and never
	// comes early; the loop checks the idle time when woken.
	hb := orDefault(o.Heartbeat, DefaultHeartbeat)
	var clk *clock
	var last time.Time       // the last write; the wake-up is not moved per write
	var wake <-chan struct{} // a tick of clk; nil without heartbeats
	if hb > 0 {
		if clk = o.clock; clk == nil || clk.d != hb {
			clk = newClock(hb)
		}
		clk.join()
		defer clk.leave()
		last = time.Now()
		wake = clk.at(last.Add(hb))
	}
	first := true
	for {
		n, end, err := s.drain(t, first)
		if err != nil {
			return err
		}
		first = false
		if n > 0 && clk != nil {
			last = time.Now()
		}
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
		select {
		case <-t.Ready():
			continue
		case <-wake:
		case <-ctx.Done():
			return ErrClientGone
		case <-down:
			return s.shutdown(t)
		case <-o.Shutdown:
			return s.shutdown(t)
		}
		// The wake-up was set from an earlier write: if the stream wrote
		// since, wait out the rest of the interval instead.
		if time.Since(last) >= hb {
			if err := s.send(heartbeat); err != nil {
				return err
			}
			last = time.Now()
		}
		wake = clk.at(last.Add(hb))
	}
}

// loop holds the per-stream write state.
type loop struct {
	w     Writer
	dw    DeadlineWriter // nil when the writer cannot bound writes
	wt    time.Duration  // per-write timeout; 0 means none
	armed bool           // a write deadline is set
	rearm time.Time      // when the deadline set is to be moved on
}

// drain writes everything queued in t and flushes once. With force it
// flushes even when nothing is queued (to send the headers).
func (s *loop) drain(t EventTarget, force bool) (int, bool, error) {
	var bp *[]byte
	var end bool
	if q, ok := t.(*Target); ok {
		if bp, end = q.take(); bp == nil { // the queue itself: no copy
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
	return len(b), end, s.send(b)
}

// send writes b (which may be empty) and flushes, under the write deadline.
func (s *loop) send(b []byte) error {
	if s.dw != nil && s.wt > 0 {
		// Move the deadline on only once less than half of the timeout is
		// left: every write still gets between wt/2 and wt, and a busy
		// stream does not pay for a deadline per batch.
		if now := time.Now(); !s.armed || now.After(s.rearm) {
			if err := s.dw.SetWriteDeadline(now.Add(s.wt)); err != nil {
				s.dw = nil // the writer cannot bound writes after all
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

// idle clears the write deadline before the loop waits. A deadline left armed
// on an idle stream would end it when it fires: on HTTP/2, net/http resets
// the stream then, whether or not a write is pending.
func (s *loop) idle() {
	if s.armed {
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
