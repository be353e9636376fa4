package adapter_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssekit/ssekit/adapter"
	"github.com/ssekit/ssekit/core"
)

// opWriter is an adapter.DeadlineWriter that logs every call in order
// ("deadline", "clear", "write:<bytes>", "flush"), and can be made to block
// in Write until released, to fail, to panic, or to stall until its deadline.
// Its log is guarded by a mutex; ops, the unguarded counter, is not: the race
// detector then reports two writers at once.
type opWriter struct {
	mu       sync.Mutex
	log      []string
	deadline time.Time
	ops      int           // unguarded on purpose
	hold     chan struct{} // when not nil, Write waits for it to close
	fail     error         // Write returns it
	panicIn  string        // "write", "flush" or "deadline" panics, once
	stall    bool          // Write waits for the deadline, then fails
	pause    time.Duration // every Write takes this long
}

func (w *opWriter) add(op string) {
	w.mu.Lock()
	w.log = append(w.log, op)
	w.mu.Unlock()
}

func (w *opWriter) Write(p []byte) (int, error) {
	w.ops++
	if w.hold != nil {
		<-w.hold
	}
	if w.pause > 0 {
		time.Sleep(w.pause) // a slow socket: producers overlap with the write
	}
	if w.panicIn == "write" {
		w.panicIn = ""
		panic("write")
	}
	if w.stall {
		w.mu.Lock()
		d := w.deadline
		w.mu.Unlock()
		if d.IsZero() {
			panic("a stalled write without a deadline blocks forever")
		}
		time.Sleep(time.Until(d))
		return 0, os.ErrDeadlineExceeded
	}
	if w.fail != nil {
		return 0, w.fail
	}
	w.add("write:" + string(p))
	return len(p), nil
}

func (w *opWriter) Flush() error {
	w.ops++
	if w.panicIn == "flush" {
		w.panicIn = ""
		panic("flush")
	}
	w.add("flush")
	return nil
}

func (w *opWriter) SetWriteDeadline(t time.Time) error {
	w.ops++
	if w.panicIn == "deadline" && !t.IsZero() {
		w.panicIn = ""
		panic("deadline")
	}
	w.mu.Lock()
	w.deadline = t
	w.mu.Unlock()
	if t.IsZero() {
		w.add("clear")
	} else {
		w.add("deadline")
	}
	return nil
}

// since returns the log from op n on.
func (w *opWriter) since(n int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.log[n:]...)
}

func (w *opWriter) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.log)
}

// written returns every byte written, in order.
func (w *opWriter) written() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for _, op := range w.log {
		if s, ok := strings.CutPrefix(op, "write:"); ok {
			b.WriteString(s)
		}
	}
	return b.String()
}

// idleStream starts a stream on w and lets it go idle long enough for
// Dispatch to write directly. Call inside a synctest bubble.
func idleStream(tg *core.Target, w adapter.Writer, o core.Options) chan error {
	done := run(tg, w, o)
	synctest.Wait()
	time.Sleep(time.Millisecond)
	return done
}

// dispatchAsync dispatches m on a new goroutine.
func dispatchAsync(tg *core.Target, m core.Message) chan error {
	c := make(chan error, 1)
	go func() { c <- tg.Dispatch(m) }()
	return c
}

func returned(c chan error) bool {
	select {
	case err := <-c:
		c <- err
		return true
	default:
		return false
	}
}

// TestDirectWrite: on an idle stream, Dispatch writes and flushes the message
// itself, under the write deadline the loop left armed (at least half the
// write timeout away; not moved, not cleared), and returns once it is
// flushed.
func TestDirectWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := core.NewTarget()
		w := &opWriter{hold: make(chan struct{})}
		done := idleStream(tg, w, core.Options{Heartbeat: -1})
		n := w.len()
		sent := dispatchAsync(tg, core.Message{Data: "a"})
		synctest.Wait()
		if returned(sent) {
			t.Fatal("Dispatch returned before its write on an idle stream; want it to write itself")
		}
		close(w.hold)
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		want := []string{"write:data: a\n\n", "flush"}
		if got := w.since(n); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("got %q when Dispatch returned; want %q", got, want)
		}
		w.mu.Lock()
		left := time.Until(w.deadline)
		w.mu.Unlock()
		if left < core.DefaultWriteTimeout/2 {
			t.Fatalf("the direct write was made with %v left of its deadline; want at least half the write timeout", left)
		}
		tg.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestDirectOrderAndCoalescing: what is dispatched while a direct write is
// under way is queued and written after it, in order, as one batch; a
// producer that dispatches again at once (a burst) goes through the loop,
// not through direct writes.
func TestDirectOrderAndCoalescing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := core.NewTarget()
		w := &opWriter{hold: make(chan struct{})}
		done := idleStream(tg, w, core.Options{Heartbeat: -1})
		n := w.len()
		first := dispatchAsync(tg, core.Message{Data: "1"})
		synctest.Wait() // writing 1 on its producer's goroutine
		for _, d := range []string{"2", "3", "4"} {
			if err := tg.Dispatch(core.Message{Data: d}); err != nil {
				t.Fatal(err)
			}
		}
		close(w.hold)
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		// A burst with no time between events: the first is written
		// directly, the rest by the loop, in one write.
		time.Sleep(time.Millisecond)
		for _, d := range []string{"5", "6", "7"} {
			if err := tg.Dispatch(core.Message{Data: d}); err != nil {
				t.Fatal(err)
			}
		}
		tg.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		var writes []string
		for _, op := range w.since(n) {
			if s, ok := strings.CutPrefix(op, "write:"); ok {
				writes = append(writes, strings.ReplaceAll(strings.ReplaceAll(s, "data: ", ""), "\n", ""))
			}
		}
		// 6 and 7 go through the loop; it may run between the two
		// Dispatch calls (goroutines run in parallel inside the bubble), so
		// they are one write or two. "234" is the coalescing that is certain:
		// the writer was held while they were dispatched.
		one, two := []string{"1", "234", "5", "67"}, []string{"1", "234", "5", "6", "7"}
		if got := fmt.Sprint(writes); got != fmt.Sprint(one) && got != fmt.Sprint(two) {
			t.Fatalf("got writes %q; want %q (or 6 and 7 apart)", writes, one)
		}
	})
}

// TestDirectConcurrentDispatch: many producers on one stream, some paced so
// that the stream goes idle between their events: every message arrives, each
// producer's in its order, and the writer is never used by two goroutines at
// once (the race detector watches opWriter.ops).
func TestDirectConcurrentDispatch(t *testing.T) {
	t.Parallel()
	const producers, each = 8, 200
	tg := core.NewTarget()
	w := &opWriter{pause: 50 * time.Microsecond}
	done := run(tg, w, core.Options{Heartbeat: time.Millisecond})
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				if err := tg.Dispatch(core.Message{Data: fmt.Sprintf("%d.%d", p, i)}); err != nil {
					t.Error(err)
					return
				}
				if i%4 == 0 {
					time.Sleep(200 * time.Microsecond) // let the stream go idle
				}
			}
		})
	}
	wg.Wait()
	tg.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	next := make([]int, producers)
	for _, line := range strings.Split(w.written(), "\n") {
		d, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var p, i int
		if _, err := fmt.Sscanf(d, "%d.%d", &p, &i); err != nil {
			t.Fatalf("bad data %q", d)
		}
		if i != next[p] {
			t.Fatalf("producer %d: got message %d; want %d", p, i, next[p])
		}
		next[p]++
	}
	for p, n := range next {
		if n != each {
			t.Fatalf("producer %d: got %d messages; want %d", p, n, each)
		}
	}
}

// TestDirectCloseEvent: a close event written directly ends the stream, and
// nothing dispatched after it is accepted.
func TestDirectCloseEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := core.NewTarget()
		w := &opWriter{hold: make(chan struct{})}
		done := idleStream(tg, w, core.Options{Heartbeat: -1})
		sent := dispatchAsync(tg, core.Message{Event: "close", Data: "bye"})
		synctest.Wait() // written by its producer
		if err := tg.Dispatch(core.Message{Data: "after"}); !errors.Is(err, core.ErrClosed) {
			t.Fatalf("Dispatch after a close event: got %v; want ErrClosed", err)
		}
		close(w.hold)
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if got := w.written(); got != "event: close\ndata: bye\n\n" {
			t.Fatalf("got %q", got)
		}
	})
}

// TestDirectHeartbeat: a direct write counts as a write for the heartbeat,
// which the loop still sends once the stream has been idle long enough.
func TestDirectHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := core.NewTarget()
		w := &opWriter{hold: make(chan struct{})}
		done := idleStream(tg, w, core.Options{Heartbeat: time.Second})
		time.Sleep(499 * time.Millisecond) // 500 ms idle
		sent := dispatchAsync(tg, core.Message{Data: "x"})
		synctest.Wait()
		if returned(sent) {
			t.Fatal("Dispatch did not write directly")
		}
		close(w.hold)
		<-sent
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		if got := w.written(); got != "data: x\n\n" {
			t.Fatalf("got %q; want no heartbeat within a second of the direct write", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := w.written(); got != "data: x\n\n:\n" {
			t.Fatalf("got %q; want a heartbeat a second after the direct write", got)
		}
		tg.Close()
		<-done
	})
}

// TestDirectStalledClient: a producer writing to a client that stopped
// reading is held no longer than the write timeout, the stream then ends with
// ErrWrite, other producers are not held, and later dispatches fail.
func TestDirectStalledClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const wt = 2 * time.Second
		tg := core.NewTarget(core.WithQueueBytes(16))
		w := &opWriter{stall: true}
		var ended error
		done := idleStream(tg, w, core.Options{Heartbeat: -1, WriteTimeout: wt, OnEnd: func(err error) { ended = err }})
		start := time.Now()
		sent := dispatchAsync(tg, core.Message{Data: "stalled"})
		synctest.Wait()
		// Meanwhile another producer queues without waiting, and a third
		// waits for queue space no longer than the stream lasts.
		if err := tg.Dispatch(core.Message{Data: "queued, over the limit"}); err != nil {
			t.Fatal(err)
		}
		third := dispatchAsync(tg, core.Message{Data: "waits"})
		if err := <-sent; err != nil {
			t.Fatalf("direct Dispatch: got %v; want nil (the stream reports the failure)", err)
		}
		if held := time.Since(start); held > wt {
			t.Fatalf("the producer was held %v; want at most the write timeout, %v", held, wt)
		}
		err := <-done
		if !errors.Is(err, core.ErrWrite) || !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(ended, core.ErrWrite) {
			t.Fatalf("Run: got %v (OnEnd %v); want ErrWrite wrapping the deadline", err, ended)
		}
		if err := <-third; !errors.Is(err, core.ErrClosed) {
			t.Fatalf("waiting Dispatch: got %v; want ErrClosed", err)
		}
		if held := time.Since(start); held > wt {
			t.Fatalf("the waiting producer was held %v; want at most the write timeout, %v", held, wt)
		}
		if err := tg.Dispatch(core.Message{Data: "later"}); !errors.Is(err, core.ErrClosed) {
			t.Fatalf("Dispatch after the failed write: got %v; want ErrClosed", err)
		}
	})
}

// TestDirectWriterPanics: a panic in the writer during a direct write ends the
// stream with a *PanicError, which OnEnd hears of; the producer's Dispatch
// returns normally.
func TestDirectWriterPanics(t *testing.T) {
	for _, in := range []string{"write", "flush", "deadline"} {
		t.Run(in, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tg := core.NewTarget()
				w := &opWriter{}
				var ended error
				done := idleStream(tg, w, core.Options{Heartbeat: -1, OnEnd: func(err error) { ended = err }})
				w.mu.Lock()
				w.panicIn = in
				w.mu.Unlock()
				if in == "deadline" {
					// The deadline the loop left armed has less than half of
					// the write timeout left: the direct write moves it on.
					time.Sleep(core.DefaultWriteTimeout/2 + time.Millisecond)
				}
				if err := tg.Dispatch(core.Message{Data: "x"}); err != nil {
					t.Fatalf("Dispatch: %v", err)
				}
				var pe *core.PanicError
				if err := <-done; !errors.As(err, &pe) || pe.Value != in || !errors.As(ended, &pe) {
					t.Fatalf("Run: got %v (OnEnd %v); want a *PanicError of %q", err, ended, in)
				}
				<-tg.Done()
				if err := tg.Dispatch(core.Message{Data: "y"}); !errors.Is(err, core.ErrClosed) {
					t.Fatalf("Dispatch after the panic: got %v; want ErrClosed", err)
				}
			})
		})
	}
}

// TestDirectWriteError: a failed direct write ends the stream with ErrWrite.
func TestDirectWriteError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := core.NewTarget()
		w := &opWriter{}
		done := idleStream(tg, w, core.Options{Heartbeat: -1})
		w.fail = errors.New("reset") // the loop is parked: no race
		if err := tg.Dispatch(core.Message{Data: "x"}); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, core.ErrWrite) || !strings.Contains(err.Error(), "reset") {
			t.Fatalf("Run: got %v; want ErrWrite wrapping the write error", err)
		}
	})
}

// TestDirectRunWaitsForWrite: a stream that ends (here, the client left)
// while a producer writes returns only after that write, so no producer ever
// writes to a response its handler has finished.
func TestDirectRunWaitsForWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := core.NewTarget()
		w := &opWriter{hold: make(chan struct{})}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- adapter.Run(ctx, w, tg, core.Options{Heartbeat: -1}) }()
		synctest.Wait()
		time.Sleep(time.Millisecond)
		sent := dispatchAsync(tg, core.Message{Data: "x"})
		synctest.Wait()
		cancel()
		synctest.Wait()
		if returned(done) {
			t.Fatal("Run returned while a producer was writing")
		}
		close(w.hold)
		<-sent
		if err := <-done; !errors.Is(err, core.ErrClientGone) {
			t.Fatalf("Run: got %v; want ErrClientGone", err)
		}
		log := w.since(0)
		if i := slicesIndex(log, "write:data: x\n\n"); i < 0 || log[len(log)-1] != "deadline" {
			t.Fatalf("log %q: want the direct write, then the final deadline last", log)
		}
	})
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// plainWriter is an adapter.Writer without SetWriteDeadline that can block.
type plainWriter struct{ hold chan struct{} }

func (w *plainWriter) Write(p []byte) (int, error) { <-w.hold; return len(p), nil }
func (w *plainWriter) Flush() error                { return nil }

// TestNoDirectWrite: Dispatch leaves the write to the loop when writes cannot
// be bounded (no SetWriteDeadline, or no write timeout), and with QueueOnly.
func TestNoDirectWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []core.TargetOption
		w    func(hold chan struct{}) adapter.Writer
		o    core.Options
	}{
		{"no deadline", nil, func(h chan struct{}) adapter.Writer { return &plainWriter{h} }, core.Options{}},
		{"no write timeout", nil, func(h chan struct{}) adapter.Writer { return &opWriter{hold: h} },
			core.Options{WriteTimeout: -1}},
		{"QueueOnly", []core.TargetOption{core.QueueOnly()}, func(h chan struct{}) adapter.Writer { return &opWriter{hold: h} },
			core.Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				hold := make(chan struct{})
				tg := core.NewTarget(tc.opts...) // in the bubble
				tc.o.Heartbeat = -1
				done := idleStream(tg, tc.w(hold), tc.o)
				if err := tg.Dispatch(core.Message{Data: "x"}); err != nil {
					t.Fatal(err) // returned while the loop's write is held
				}
				close(hold)
				tg.Close()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// TestDirectWriteObserved: a direct write is reported to the stream's
// observer like a batch of the loop, and a panic in the observer there ends
// the stream, not the producer.
func TestDirectWriteObserved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obs := &obsRecorder{}
		tg := core.NewTarget()
		w := &opWriter{}
		o := observed(obs, "/r")
		o.Heartbeat = -1
		done := idleStream(tg, w, o)
		if err := tg.Dispatch(core.Message{Data: "x"}); err != nil {
			t.Fatal(err)
		}
		obs.mu.Lock()
		events, bytes := obs.events, obs.bytes
		obs.panics = "wrote"
		obs.mu.Unlock()
		if events != 1 || bytes != len("data: x\n\n") {
			t.Fatalf("observer got %d events, %d bytes when Dispatch returned; want 1, %d", events, bytes, len("data: x\n\n"))
		}
		time.Sleep(time.Millisecond)
		if err := tg.Dispatch(core.Message{Data: "y"}); err != nil {
			t.Fatalf("Dispatch with a panicking observer: %v", err)
		}
		var pe *core.PanicError
		if err := <-done; !errors.As(err, &pe) {
			t.Fatalf("Run: got %v; want a *PanicError from the observer", err)
		}
	})
}

// flakyDeadlineWriter fails SetWriteDeadline when asked to move an armed
// deadline on (a non-zero time with no clear in between); writes succeed,
// each taking pause.
type flakyDeadlineWriter struct {
	mu    sync.Mutex
	armed bool
	pause time.Duration
}

func (w *flakyDeadlineWriter) Write(p []byte) (int, error) { time.Sleep(w.pause); return len(p), nil }
func (w *flakyDeadlineWriter) Flush() error                { return nil }
func (w *flakyDeadlineWriter) SetWriteDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t.IsZero() {
		w.armed = false
		return nil
	}
	if w.armed {
		return errors.New("cannot move the deadline")
	}
	w.armed = true
	return nil
}

// TestDeadlineFailsMidBurst: a writer that cannot move an armed deadline on
// makes the loop go on without deadlines. The loop used to forget it had
// one armed, and its next wait called SetWriteDeadline on no writer: the
// stream ended with a panic (found by an attack on the direct path).
func TestDeadlineFailsMidBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := core.NewTarget()
		w := &flakyDeadlineWriter{pause: 3 * time.Millisecond}
		done := run(tg, w, core.Options{Heartbeat: -1, WriteTimeout: 10 * time.Millisecond})
		synctest.Wait()
		for range 10 { // a burst longer than WriteTimeout/2: the deadline is moved on
			_ = tg.Dispatch(core.Message{Data: "x"})
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // the loop goes idle: idle()
		_ = tg.Dispatch(core.Message{Data: "later"})
		tg.Close()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v; want the stream to go on without deadlines", err)
		}
	})
}
