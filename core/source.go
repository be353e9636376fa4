package core

import (
	"errors"
	"iter"
)

// FromChannel returns a target fed from ch: every message received is
// dispatched, and the stream ends (after writing them) when ch is closed. If a
// message cannot be encoded, the stream ends with that error. The goroutine
// that reads ch exits when ch is closed or the stream ends.
func FromChannel(ch <-chan Message, opts ...TargetOption) *Target {
	t := NewTarget(opts...)
	go t.feed(func(yield func(Message) bool) {
		for {
			select {
			case m, ok := <-ch:
				if !ok || !yield(m) {
					return
				}
			case <-t.done:
				return
			}
		}
	})
	return t
}

// FromSeq returns a target fed from seq, which runs on its own goroutine: each
// message it yields is dispatched, and the stream ends (after writing them)
// when seq returns. Once the stream has ended, the next yield returns false; an
// iterator that waits between messages should also watch a context (such as
// the request's) so that it returns promptly. A panic in seq, or a message that
// cannot be encoded, ends the stream with an error.
func FromSeq(seq iter.Seq[Message], opts ...TargetOption) *Target {
	t := NewTarget(opts...)
	go t.feed(seq)
	return t
}

// feed dispatches everything seq yields, then closes t; any failure stops t.
func (t *Target) feed(seq iter.Seq[Message]) {
	defer func() {
		if r := recover(); r != nil {
			t.Stop(newPanicError(r))
		}
	}()
	var failed error
	seq(func(m Message) bool {
		if err := t.Dispatch(m); err != nil {
			if !errors.Is(err, ErrClosed) {
				failed = err
			}
			return false
		}
		return true
	})
	if failed != nil {
		t.Stop(failed)
		return
	}
	t.Close()
}
