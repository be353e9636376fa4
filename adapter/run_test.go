package adapter_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssekit/ssekit/adapter"
	"github.com/ssekit/ssekit/core"
)

// recorder is a adapter.DeadlineWriter that records writes, flushes and
// deadlines, and can be made to fail or to block.
type recorder struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	flushed   []string // the bytes each flush pushed out
	pending   int      // bytes written since the last flush
	deadlines int
	fail      bool // every write fails
	block     chan struct{}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.block != nil {
		<-r.block
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return 0, io.ErrClosedPipe
	}
	r.pending += len(p)
	return r.buf.Write(p)
}

func (r *recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.buf.Bytes()
	r.flushed = append(r.flushed, string(b[len(b)-r.pending:]))
	r.pending = 0
	return nil
}

func (r *recorder) SetWriteDeadline(time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deadlines++
	return nil
}

func (r *recorder) snapshot() (string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String(), append([]string(nil), r.flushed...)
}

func run(t *core.Target, w adapter.Writer, o core.Options) chan error {
	done := make(chan error, 1)
	go func() { done <- adapter.Run(context.Background(), w, t, o) }()
	return done
}

func TestRunBurstBeforeStartIsOneFlush(t *testing.T) {
	t.Parallel()
	tg := core.NewTarget()
	for i := range 100 {
		if err := tg.Dispatch(core.Message{Data: "x", ID: string(rune('a' + i%26))}); err != nil {
			t.Fatal(err)
		}
	}
	tg.Close()
	if err := tg.Dispatch(core.Message{Data: "late"}); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Dispatch after Close: got %v; want ErrClosed", err)
	}
	w := &recorder{}
	if err := <-run(tg, w, core.Options{}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	all, flushes := w.snapshot()
	if len(flushes) != 1 {
		t.Fatalf("got %d flushes; want 1 for a queued burst", len(flushes))
	}
	if n := bytes.Count([]byte(all), []byte("\n\n")); n != 100 {
		t.Fatalf("got %d events; want 100", n)
	}
	if w.deadlines == 0 {
		t.Fatal("no write deadline was set")
	}
	select {
	case <-tg.Done():
	default:
		t.Fatal("Done not closed after the stream ended")
	}
}

func TestRunCloseEvent(t *testing.T) {
	t.Parallel()
	tg := core.NewTarget()
	w := &recorder{}
	done := run(tg, w, core.Options{})
	if err := tg.Dispatch(core.Message{Event: "close", Data: "bye"}); err != nil {
		t.Fatal(err)
	}
	if err := tg.Dispatch(core.Message{Data: "after"}); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Dispatch after close event: got %v; want ErrClosed", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if all, _ := w.snapshot(); all != "event: close\ndata: bye\n\n" {
		t.Fatalf("got %q", all)
	}
	if tg.Err() != nil {
		t.Fatalf("Err: got %v; want nil after a close event", tg.Err())
	}
}

func TestRunKeepOpenOnClose(t *testing.T) {
	t.Parallel()
	tg := core.NewTarget(core.KeepOpenOnClose())
	for _, m := range []core.Message{{Event: "close", Data: "1"}, {Data: "2"}} {
		if err := tg.Dispatch(m); err != nil {
			t.Fatal(err)
		}
	}
	tg.Close()
	w := &recorder{}
	if err := <-run(tg, w, core.Options{}); err != nil {
		t.Fatal(err)
	}
	if all, _ := w.snapshot(); all != "event: close\ndata: 1\n\ndata: 2\n\n" {
		t.Fatalf("got %q", all)
	}
}

func TestRunFlushesHeadersFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := core.NewTarget()
		w := &recorder{}
		done := run(tg, w, core.Options{})
		synctest.Wait()
		if _, f := w.snapshot(); len(f) != 1 || f[0] != "" {
			t.Fatalf("got flushes %q; want one empty flush for the headers", f)
		}
		tg.Dispatch(core.Message{Data: "one"})
		synctest.Wait()
		if _, f := w.snapshot(); len(f) != 2 || f[1] != "data: one\n\n" {
			t.Fatalf("got flushes %q; want the lone event flushed at once", f)
		}
		tg.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestRunHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := core.NewTarget()
		w := &recorder{}
		done := run(tg, w, core.Options{Heartbeat: time.Second})
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		if all, _ := w.snapshot(); all != "" {
			t.Fatalf("got %q before the idle interval; want nothing", all)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if all, _ := w.snapshot(); all != ":\n" {
			t.Fatalf("got %q; want one heartbeat", all)
		}
		// An event restarts the idle interval.
		time.Sleep(500 * time.Millisecond)
		tg.Dispatch(core.Message{Data: "x"})
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		if all, _ := w.snapshot(); all != ":\ndata: x\n\n" {
			t.Fatalf("got %q; want no heartbeat within a second of an event", all)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if all, _ := w.snapshot(); all != ":\ndata: x\n\n:\n" {
			t.Fatalf("got %q; want a second heartbeat", all)
		}
		tg.Close()
		<-done
	})
}

func TestRunHeartbeatDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := core.NewTarget()
		w := &recorder{}
		done := run(tg, w, core.Options{Heartbeat: -1})
		time.Sleep(time.Hour)
		synctest.Wait()
		if all, _ := w.snapshot(); all != "" {
			t.Fatalf("got %q; want no heartbeat", all)
		}
		tg.Close()
		<-done
	})
}

func TestRunClientGone(t *testing.T) {
	t.Parallel()
	tg := core.NewTarget()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var ended error
	go func() {
		done <- adapter.Run(ctx, &recorder{}, tg, core.Options{OnEnd: func(err error) { ended = err }})
	}()
	cancel()
	if err := <-done; !errors.Is(err, core.ErrClientGone) {
		t.Fatalf("Run: got %v; want ErrClientGone", err)
	}
	<-tg.Done()
	if !errors.Is(tg.Err(), core.ErrClientGone) || !errors.Is(ended, core.ErrClientGone) {
		t.Fatalf("Err: got %v, OnEnd got %v; want ErrClientGone", tg.Err(), ended)
	}
	if err := tg.Dispatch(core.Message{Data: "x"}); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Dispatch after the client left: got %v; want ErrClosed", err)
	}
}

func TestRunWriteError(t *testing.T) {
	t.Parallel()
	tg := core.NewTarget()
	w := &recorder{fail: true}
	done := run(tg, w, core.Options{})
	tg.Dispatch(core.Message{Data: "x"})
	err := <-done
	if !errors.Is(err, core.ErrWrite) || !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Run: got %v; want ErrWrite wrapping the write error", err)
	}
	<-tg.Done()
}

func TestRunGroupShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g core.Group
		tg := core.NewTarget()
		w := &recorder{}
		done := run(tg, w, core.Options{Group: &g})
		synctest.Wait()
		if g.Len() != 1 {
			t.Fatalf("Len: got %d; want 1", g.Len())
		}
		tg.Dispatch(core.Message{Data: "last"})
		if err := g.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, core.ErrShutdown) {
			t.Fatalf("Run: got %v; want ErrShutdown", err)
		}
		if all, _ := w.snapshot(); all != "data: last\n\n" {
			t.Fatalf("got %q; want the queued event written before the end", all)
		}
		// A stream that starts after shutdown ends at once.
		tg2 := core.NewTarget()
		if err := <-run(tg2, w, core.Options{Group: &g}); !errors.Is(err, core.ErrShutdown) {
			t.Fatalf("Run after shutdown: got %v; want ErrShutdown", err)
		}
	})
}

func TestGroupShutdownWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g core.Group
		w := &recorder{block: make(chan struct{})}
		tg := core.NewTarget()
		tg.Dispatch(core.Message{Data: "x"})
		done := run(tg, w, core.Options{Group: &g})
		synctest.Wait() // the stream is stuck in Write
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: got %v; want DeadlineExceeded while a stream is stuck", err)
		}
		close(w.block)
		<-done
		if err := g.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown after the stream ended: %v", err)
		}
	})
}

func TestDispatchBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := core.NewTarget(core.WithQueueBytes(10))
		w := &recorder{block: make(chan struct{})}
		done := run(tg, w, core.Options{WriteTimeout: -1})
		synctest.Wait() // started; the header flush does not write
		// The first message is always accepted; the queue is then over the limit.
		if err := tg.Dispatch(core.Message{Data: "0123456789"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the loop drained it and is stuck writing
		tg.Dispatch(core.Message{Data: "0123456789"})
		returned := make(chan error, 1)
		go func() { returned <- tg.Dispatch(core.Message{Data: "third"}) }()
		synctest.Wait()
		select {
		case err := <-returned:
			t.Fatalf("Dispatch returned %v while the queue was full; want it to wait", err)
		default:
		}
		ctx, cancel := context.WithCancel(context.Background())
		ctxDone := make(chan error, 1)
		go func() { ctxDone <- tg.DispatchContext(ctx, core.Message{Data: "ctx"}) }()
		cancel()
		if err := <-ctxDone; !errors.Is(err, context.Canceled) {
			t.Fatalf("DispatchContext: got %v; want context.Canceled", err)
		}
		tg.Stop(errors.New("gone"))
		if err := <-returned; !errors.Is(err, core.ErrClosed) {
			t.Fatalf("waiting Dispatch after Stop: got %v; want ErrClosed", err)
		}
		close(w.block)
		<-done
	})
}

// dispatchAll dispatches n messages of data on a goroutine and fails the test
// unless every one is accepted within 10 s (a Dispatch that waits for queue
// space fails the test instead of hanging it).
func dispatchAll(t *testing.T, tg *core.Target, n int, data string) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		for range n {
			if err := tg.Dispatch(core.Message{Data: data}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		tg.Stop(nil) // wakes the waiting producer
		t.Fatalf("Dispatch waited for queue space; want %d messages accepted at once", n)
	}
}

// Before the stream starts the queue is not limited: a handler may
// dispatch a backlog before it returns, and the stream writes all of it.
func TestDispatchBeforeStartIsUnlimited(t *testing.T) {
	t.Parallel()
	tg := core.NewTarget(core.WithQueueBytes(1))
	dispatchAll(t, tg, 1000, "x")
	tg.Close()
	w := &recorder{}
	if err := <-run(tg, w, core.Options{}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if all, _ := w.snapshot(); all != strings.Repeat("data: x\n\n", 1000) {
		t.Fatalf("got %d bytes; want the 1000 events", len(all))
	}
}

// WithQueueBytes: negative means no limit once the stream runs; a positive
// limit makes the next Dispatch wait.
func TestQueueBytesNegativeIsUnlimited(t *testing.T) {
	t.Parallel()
	tg := core.NewTarget(core.WithQueueBytes(-1))
	tg.Drain(nil) // the stream has started
	dispatchAll(t, tg, 1000, strings.Repeat("x", 1024))
	tg.Stop(nil)

	limited := core.NewTarget(core.WithQueueBytes(16))
	limited.Drain(nil)
	if err := limited.Dispatch(core.Message{Data: strings.Repeat("x", 32)}); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- limited.Dispatch(core.Message{Data: "y"}) }()
	select {
	case err := <-waited:
		t.Fatalf("Dispatch over a 16-byte limit returned %v at once; want it to wait", err)
	case <-time.After(100 * time.Millisecond):
	}
	limited.Stop(nil)
	if err := <-waited; !errors.Is(err, core.ErrClosed) {
		t.Fatalf("the waiting Dispatch got %v; want ErrClosed", err)
	}
}

func TestDispatchInvalidKeepsStream(t *testing.T) {
	t.Parallel()
	tg := core.NewTarget()
	if err := tg.Dispatch(core.Message{ID: "a\nb", Data: "x"}); !errors.Is(err, core.ErrInvalidField) {
		t.Fatalf("got %v; want ErrInvalidField", err)
	}
	tg.Dispatch(core.Message{Data: "ok"})
	tg.Close()
	w := &recorder{}
	<-run(tg, w, core.Options{})
	if all, _ := w.snapshot(); all != "data: ok\n\n" {
		t.Fatalf("got %q", all)
	}
}

func TestFromChannel(t *testing.T) {
	t.Parallel()
	ch := make(chan core.Message, 3)
	ch <- core.Message{Data: "a"}
	ch <- core.Message{Data: "b"}
	close(ch)
	w := &recorder{}
	if err := <-run(core.FromChannel(ch), w, core.Options{}); err != nil {
		t.Fatal(err)
	}
	if all, _ := w.snapshot(); all != "data: a\n\ndata: b\n\n" {
		t.Fatalf("got %q", all)
	}
}

// Once the target stops, FromChannel's reader stops taking messages: a send
// on its channel is no longer received (goleak in TestMain also sees the
// goroutine gone).
func TestFromChannelStopsReading(t *testing.T) {
	t.Parallel()
	ch := make(chan core.Message) // never closed
	tg := core.FromChannel(ch)
	ch <- core.Message{Data: "a"} // the reader runs
	tg.Stop(core.ErrClientGone)
	// The reader may take at most one more message, racing with Stop.
	for taken := 0; ; taken++ {
		select {
		case ch <- core.Message{Data: "late"}:
			if taken > 0 {
				t.Fatal("the reader took two messages after Stop")
			}
			continue
		case <-time.After(200 * time.Millisecond):
		}
		break
	}
}

func TestFromChannelBadMessage(t *testing.T) {
	t.Parallel()
	ch := make(chan core.Message, 2)
	ch <- core.Message{Data: "a"}
	ch <- core.Message{Event: "bad\n", Data: "b"}
	tg := core.FromChannel(ch)
	err := <-run(tg, &recorder{}, core.Options{})
	if !errors.Is(err, core.ErrInvalidField) && !errors.Is(tg.Err(), core.ErrInvalidField) {
		t.Fatalf("got %v / %v; want the stream to end with ErrInvalidField", err, tg.Err())
	}
}

func TestFromSeq(t *testing.T) {
	t.Parallel()
	seq := func(yield func(core.Message) bool) {
		for _, s := range []string{"1", "2", "3"} {
			if !yield(core.Message{ID: s, Data: s}) {
				return
			}
		}
	}
	w := &recorder{}
	if err := <-run(core.FromSeq(seq), w, core.Options{}); err != nil {
		t.Fatal(err)
	}
	if all, _ := w.snapshot(); all != "id: 1\ndata: 1\n\nid: 2\ndata: 2\n\nid: 3\ndata: 3\n\n" {
		t.Fatalf("got %q", all)
	}
}

func TestFromSeqPanic(t *testing.T) {
	t.Parallel()
	var seq iter.Seq[core.Message] = func(yield func(core.Message) bool) {
		yield(core.Message{Data: "a"})
		panic("boom")
	}
	tg := core.FromSeq(seq)
	<-tg.Done()
	var pe *core.PanicError
	if !errors.As(tg.Err(), &pe) || pe.Value != "boom" {
		t.Fatalf("Err: got %v; want PanicError(boom)", tg.Err())
	}
}

func TestFromSeqStopsAtNextYield(t *testing.T) {
	t.Parallel()
	stopped := make(chan bool, 1)
	release := make(chan struct{})
	seq := func(yield func(core.Message) bool) {
		<-release
		stopped <- !yield(core.Message{Data: "x"})
	}
	tg := core.FromSeq(seq)
	tg.Stop(core.ErrClientGone)
	close(release)
	if !<-stopped {
		t.Fatal("yield returned true after the stream ended")
	}
}

// panicTarget is an EventTarget whose Drain panics.
type panicTarget struct{ *core.Target }

func (panicTarget) Drain([]byte) ([]byte, bool) { panic("drain") }

func TestRunRecoversTargetPanic(t *testing.T) {
	t.Parallel()
	tg := core.NewTarget()
	err := adapter.Run(context.Background(), &recorder{}, panicTarget{tg}, core.Options{})
	var pe *core.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v; want PanicError", err)
	}
	<-tg.Done()
}
