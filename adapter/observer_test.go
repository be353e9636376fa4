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

// obsRecorder is a core.Observer that records what it hears, as lines.
type obsRecorder struct {
	mu     sync.Mutex
	log    []string
	events int
	bytes  int
	waited time.Duration
	panics string // the method that panics, if any
}

func (r *obsRecorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, s)
}

func (r *obsRecorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

func (r *obsRecorder) StreamStart(info core.StreamInfo) core.StreamObserver {
	r.add(fmt.Sprintf("start %s %s %s", info.Adapter, info.Route, info.RequestID))
	if r.panics == "start" {
		panic("observer start")
	}
	return r
}

func (r *obsRecorder) StreamRejected(info core.StreamInfo, reason core.EndReason, err error) {
	r.add(fmt.Sprintf("rejected %s %s", info.Route, reason))
	if r.panics == "rejected" {
		panic("observer rejected")
	}
}

func (r *obsRecorder) Wrote(events, bytes int) {
	r.mu.Lock()
	r.events += events
	r.bytes += bytes
	r.mu.Unlock()
	if r.panics == "wrote" && events > 0 {
		panic("observer wrote")
	}
}

func (r *obsRecorder) Heartbeat() { r.add("heartbeat") }

func (r *obsRecorder) DispatchWaited(d time.Duration) {
	r.mu.Lock()
	r.waited += d
	r.mu.Unlock()
	if r.panics == "waited" {
		panic("observer waited")
	}
}

func (r *obsRecorder) End(reason core.EndReason, err error) {
	r.add(fmt.Sprintf("end %s", reason))
	if r.panics == "end" {
		panic("observer end")
	}
}

func observed(r *obsRecorder, route string) core.Options {
	o := core.NewOptions(core.WithObserver(r))
	adapter.Describe(&o, core.StreamInfo{Adapter: "test", Route: route, RequestID: "req-1"})
	return o
}

func TestObserverStreamLifecycle(t *testing.T) {
	t.Parallel()
	obs := &obsRecorder{}
	tg := core.NewTarget()
	for i := range 3 {
		if err := tg.Dispatch(core.Message{Data: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	tg.Close()
	w := &recorder{}
	if err := <-run(tg, w, observed(obs, "/r")); err != nil {
		t.Fatal(err)
	}
	all, _ := w.snapshot()
	if got, want := strings.Join(obs.lines(), "|"), "start test /r req-1|end closed"; got != want {
		t.Fatalf("got %q; want %q", got, want)
	}
	if obs.events != 3 || obs.bytes != len(all) {
		t.Fatalf("got %d events, %d bytes; want 3, %d", obs.events, obs.bytes, len(all))
	}
}

func TestObserverRouteOption(t *testing.T) {
	t.Parallel()
	obs := &obsRecorder{}
	o := core.NewOptions(core.WithObserver(obs), core.WithRoute("/mine"))
	adapter.Describe(&o, core.StreamInfo{Adapter: "test", Route: "/framework"})
	tg := core.NewTarget()
	tg.Close()
	if err := <-run(tg, &recorder{}, o); err != nil {
		t.Fatal(err)
	}
	if got := obs.lines()[0]; got != "start test /mine " {
		t.Fatalf("got %q; want the route set with WithRoute", got)
	}
}

// seqTarget is an EventTarget other than *core.Target: the loop counts its
// events in the bytes it drains.
type seqTarget struct {
	frames string
	ready  chan struct{}
}

func (s *seqTarget) Ready() <-chan struct{} { return s.ready }
func (s *seqTarget) Drain(dst []byte) ([]byte, bool) {
	return append(dst, s.frames...), true
}
func (s *seqTarget) Stop(error) {}

func TestObserverCountsEventsOfOtherTargets(t *testing.T) {
	t.Parallel()
	obs := &obsRecorder{}
	st := &seqTarget{frames: "id: 1\ndata: a\ndata: \n\n: c\n\nevent: e\ndata: b\n\n", ready: make(chan struct{})}
	w := &recorder{}
	if err := adapter.Run(context.Background(), w, st, observed(obs, "")); err != nil {
		t.Fatal(err)
	}
	if obs.events != 3 || obs.bytes != len(st.frames) {
		t.Fatalf("got %d events, %d bytes; want 3, %d", obs.events, obs.bytes, len(st.frames))
	}
}

func TestObserverHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obs := &obsRecorder{}
		tg := core.NewTarget()
		o := observed(obs, "")
		o.Heartbeat = time.Second
		done := run(tg, &recorder{}, o)
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		tg.Close()
		<-done
		if got, want := strings.Join(obs.lines(), "|"), "start test  req-1|heartbeat|heartbeat|end closed"; got != want {
			t.Fatalf("got %q; want %q", got, want)
		}
		if obs.bytes != 0 || obs.events != 0 {
			t.Fatalf("got %d events, %d bytes; want heartbeats reported apart from events", obs.events, obs.bytes)
		}
	})
}

func TestObserverDispatchWaited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obs := &obsRecorder{}
		tg := core.NewTarget(core.WithQueueBytes(1))
		w := &recorder{block: make(chan struct{})}
		done := run(tg, w, observed(obs, ""))
		synctest.Wait()                      // the headers are flushed
		tg.Dispatch(core.Message{Data: "1"}) // taken by the loop, which blocks writing it
		synctest.Wait()
		tg.Dispatch(core.Message{Data: "2"}) // queued: the queue is full
		waited := make(chan error, 1)
		go func() { waited <- tg.Dispatch(core.Message{Data: "3"}) }()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		close(w.block)
		if err := <-waited; err != nil {
			t.Fatal(err)
		}
		tg.Close()
		<-done
		if obs.waited != 3*time.Second {
			t.Fatalf("got %v waited; want 3s", obs.waited)
		}
	})
}

// failWriter fails every write with err.
type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }
func (f failWriter) Flush() error              { return nil }

func TestObserverEndReasons(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		want core.EndReason
		run  func(o core.Options) error
	}{
		{core.EndClientGone, func(o core.Options) error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return adapter.Run(ctx, &recorder{}, core.NewTarget(), o)
		}},
		{core.EndStalled, func(o core.Options) error {
			tg := core.NewTarget()
			tg.Dispatch(core.Message{Data: "x"})
			return adapter.Run(context.Background(), failWriter{os.ErrDeadlineExceeded}, tg, o)
		}},
		{core.EndWriteError, func(o core.Options) error {
			tg := core.NewTarget()
			tg.Dispatch(core.Message{Data: "x"})
			return adapter.Run(context.Background(), failWriter{errors.New("broken pipe")}, tg, o)
		}},
		{core.EndShutdown, func(o core.Options) error {
			g := &core.Group{}
			o.Group = g
			tg := core.NewTarget()
			done := make(chan error, 1)
			go func() { done <- adapter.Run(context.Background(), &recorder{}, tg, o) }()
			for g.Len() == 0 { // bounded by the test's timeout
				time.Sleep(time.Millisecond)
			}
			g.Close()
			return <-done
		}},
		{core.EndPanic, func(o core.Options) error {
			o.OnEnd = func(error) { panic("on end") }
			tg := core.NewTarget()
			tg.Close()
			return adapter.Run(context.Background(), &recorder{}, tg, o)
		}},
		{core.EndError, func(o core.Options) error {
			tg := core.NewTarget()
			tg.Stop(errors.New("mine"))
			return adapter.Run(context.Background(), &recorder{}, tg, o)
		}},
	} {
		t.Run(string(tc.want), func(t *testing.T) {
			t.Parallel()
			obs := &obsRecorder{}
			err := tc.run(observed(obs, ""))
			if core.Reason(err) != tc.want {
				t.Fatalf("Run: got %v (%s); want %s", err, core.Reason(err), tc.want)
			}
			lines := obs.lines()
			if len(lines) != 2 || lines[1] != "end "+string(tc.want) {
				t.Fatalf("got %q; want start, then end %s", lines, tc.want)
			}
		})
	}
}

func TestObserverRejected(t *testing.T) {
	t.Parallel()
	obs := &obsRecorder{}
	o := observed(obs, "/r")
	if _, err := adapter.CallHandler(o, 1, func(int) (core.EventTarget, error) { return nil, core.Error(401, "no") }); err == nil {
		t.Fatal("no error")
	}
	if _, err := adapter.CallHandler(o, 1, func(int) (core.EventTarget, error) { panic("x") }); err == nil {
		t.Fatal("no error")
	}
	_ = adapter.End(core.NewTarget(), o, nil)              // a HEAD request
	_ = adapter.End(core.NewTarget(), o, core.ErrShutdown) // refused during shutdown
	g := &core.Group{}
	g.Close()
	o.Group = g
	_ = adapter.Run(context.Background(), &recorder{}, core.NewTarget(), o) // refused by the loop
	want := "rejected /r handler_error|rejected /r panic|rejected /r closed|rejected /r shutdown|rejected /r shutdown"
	if got := strings.Join(obs.lines(), "|"); got != want {
		t.Fatalf("got %q; want %q", got, want)
	}
}

func TestObserverPanics(t *testing.T) {
	t.Parallel()
	for _, where := range []string{"start", "rejected", "wrote", "end"} {
		t.Run(where, func(t *testing.T) {
			t.Parallel()
			obs := &obsRecorder{panics: where}
			o := observed(obs, "")
			tg := core.NewTarget(core.WithQueueBytes(1))
			tg.Dispatch(core.Message{Data: "1"})
			tg.Close()
			err := adapter.Run(context.Background(), &recorder{}, tg, o)
			var pe *core.PanicError
			if (where == "wrote") != errors.As(err, &pe) {
				t.Fatalf("Run: got %v; only a panic in Wrote ends the stream (as a panic)", err)
			}
			_, _ = adapter.CallHandler(o, 1, func(int) (core.EventTarget, error) { return nil, errors.New("x") })
			lines := obs.lines()
			if last := lines[len(lines)-1]; last != "rejected  handler_error" {
				t.Fatalf("got %q; want the next request still observed", lines)
			}
		})
	}
}

func TestObserversCombine(t *testing.T) {
	t.Parallel()
	a, b := &obsRecorder{}, &obsRecorder{panics: "start"}
	o := core.NewOptions(core.WithObserver(a), core.WithObserver(nil), core.WithObserver(b))
	tg := core.NewTarget()
	tg.Dispatch(core.Message{Data: "x"})
	tg.Close()
	if err := adapter.Run(context.Background(), &recorder{}, tg, o); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(a.lines(), "|"); got != "start   |end closed" {
		t.Fatalf("a: got %q", got)
	}
	if got := strings.Join(b.lines(), "|"); got != "start   " {
		t.Fatalf("b (panicked in StreamStart): got %q; want the stream ignored", got)
	}
	if a.events != 1 || b.events != 0 {
		t.Fatalf("events: a %d, b %d; want 1, 0", a.events, b.events)
	}
	if core.Observers() != nil || core.Observers(nil, nil) != nil {
		t.Fatal("Observers of nothing is not nil")
	}
}

// TestObserverWithoutRun guards the observer kit of adapters that run their
// streams without Run (the event-loop adapter): Start reports the start and
// has Dispatch report its waits, EndStarted the end to the stream's own
// observer (never StreamRejected, even when StreamStart ignored the stream).
func TestObserverWithoutRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obs := &obsRecorder{}
		o := observed(obs, "/r")
		tg := core.NewTarget(core.WithQueueBytes(1))
		so := adapter.Start(tg, o)
		if so == nil {
			t.Fatal("Start: no StreamObserver")
		}
		so.Wrote(2, 10)
		so.Heartbeat()
		_, _ = tg.Drain(nil) // the stream started: Dispatch now waits at the limit
		tg.Dispatch(core.Message{Data: "1"})
		waited := make(chan error, 1)
		go func() { waited <- tg.Dispatch(core.Message{Data: "2"}) }()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		_, _ = tg.Drain(nil) // lets the waiting Dispatch in
		if err := <-waited; err != nil {
			t.Fatal(err)
		}
		if err := adapter.EndStarted(tg, o, core.ErrClientGone, so); !errors.Is(err, core.ErrClientGone) {
			t.Fatalf("EndStarted: got %v", err)
		}
		if got, want := strings.Join(obs.lines(), "|"), "start test /r req-1|heartbeat|end client_gone"; got != want {
			t.Fatalf("got %q; want %q", got, want)
		}
		if obs.events != 2 || obs.bytes != 10 || obs.waited != 3*time.Second {
			t.Fatalf("got %d events, %d bytes, %v waited; want 2, 10, 3s", obs.events, obs.bytes, obs.waited)
		}
	})
	ignore := &obsRecorder{}
	o := core.NewOptions(core.WithObserver(nilStream{ignore}))
	tg := core.NewTarget()
	if so := adapter.Start(tg, o); so != nil {
		t.Fatalf("Start: got %v; want nil for an ignored stream", so)
	}
	_ = adapter.EndStarted(tg, o, nil, nil)
	if got := strings.Join(ignore.lines(), "|"); got != "start   " {
		t.Fatalf("ignored stream: got %q; want its start only (not rejected)", got)
	}
	if so := adapter.Start(core.NewTarget(), core.NewOptions()); so != nil {
		t.Fatal("Start without an Observer: not nil")
	}
}

// nilStream is an Observer whose StreamStart ignores every stream.
type nilStream struct{ *obsRecorder }

func (n nilStream) StreamStart(info core.StreamInfo) core.StreamObserver {
	n.obsRecorder.StreamStart(info)
	return nil
}
