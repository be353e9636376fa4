package nbiosse

import (
	"sync"
	"time"
)

// The timing wheel: one per process, for every stream's heartbeat and write
// deadline. A stream has at most one entry (its next due time), linked into
// a slot's list without allocating; a goroutine ticks while entries exist.
const (
	tick      = 10 * time.Millisecond
	tickNanos = int64(tick)
	slots     = 1024 // one revolution: about 10 s
)

// epoch is the origin of mono.
var epoch = time.Now()

// mono returns the monotonic time in nanoseconds since epoch.
func mono() int64 { return int64(time.Since(epoch)) }

type wheel struct {
	mu      sync.Mutex
	slot    [slots]*stream // each slot's list of entries
	pos     int            // the slot that fires next
	at      int64          // when slot pos fires (mono)
	n       int            // entries
	running bool           // the ticking goroutine runs
}

// timers is the process's timing wheel.
var timers wheel

// set makes s due at due (mono), replacing its entry if it has one. When due
// is reached, s is woken with evTimer (within one tick).
func (w *wheel) set(s *stream, due int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.wslot >= 0 {
		w.unlink(s)
	}
	if !w.running {
		w.running = true
		w.at = mono() + tickNanos
		go w.loop()
	}
	ticks := int64(0)
	if d := due - w.at; d > 0 {
		ticks = (d + tickNanos - 1) / tickNanos
	}
	i := (w.pos + int(ticks%slots)) % slots
	s.wrounds = int32(ticks / slots)
	s.wslot = int32(i)
	s.wprev = nil
	s.wnext = w.slot[i]
	if s.wnext != nil {
		s.wnext.wprev = s
	}
	w.slot[i] = s
	w.n++
}

// remove takes s's entry out, if it has one.
func (w *wheel) remove(s *stream) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.wslot >= 0 {
		w.unlink(s)
	}
}

// unlink takes s out of its slot's list; w.mu is held.
func (w *wheel) unlink(s *stream) {
	if s.wprev != nil {
		s.wprev.wnext = s.wnext
	} else {
		w.slot[s.wslot] = s.wnext
	}
	if s.wnext != nil {
		s.wnext.wprev = s.wprev
	}
	s.wnext, s.wprev, s.wslot = nil, nil, -1
	w.n--
}

// loop fires the slots whose time has come, once per tick, and returns once
// the wheel is empty. The streams due are woken after the lock is released.
func (w *wheel) loop() {
	tk := time.NewTicker(tick)
	defer tk.Stop()
	var due []*stream
	for range tk.C {
		w.mu.Lock()
		now := mono()
		for w.at <= now && w.n > 0 { // bounded: one pass per tick elapsed
			for s := w.slot[w.pos]; s != nil; {
				next := s.wnext
				if s.wrounds > 0 {
					s.wrounds--
				} else {
					w.unlink(s)
					due = append(due, s)
				}
				s = next
			}
			w.pos = (w.pos + 1) % slots
			w.at += tickNanos
		}
		empty := w.n == 0
		if empty {
			w.running = false
		}
		w.mu.Unlock()
		for i, s := range due {
			s.wake(evTimer)
			due[i] = nil
		}
		due = due[:0]
		if empty {
			return
		}
	}
}
