package conformance

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/conformance/internal/expect"
	"github.com/ssekit/ssekit/core"
)

// heartbeatHandler dispatches one event once seen is closed (or at once when
// seen is nil), then closes; until then the stream is idle.
func heartbeatHandler(seen <-chan struct{}, stop <-chan struct{}) Handler {
	return func(Request) (core.EventTarget, error) {
		t := core.NewTarget()
		go func() {
			select {
			case <-seen:
				dispatchAll(t, []core.Message{{Data: "after heartbeat"}})
				t.Close()
			case <-t.Done():
			case <-stop:
			}
		}()
		return t, nil
	}
}

func heartbeat() Scenario {
	s := Scenario{
		Name: "heartbeat",
		Doc: `With core.WithHeartbeat(50ms), an idle stream carries a comment (a heartbeat) that the client sees
well within a second; the producer then sends one event and closes.`,
		Options: []core.Option{core.WithHeartbeat(50 * time.Millisecond)},
		Want:    []client.Event{message("after heartbeat", "")},
		WantEnd: true,
	}
	s.Run = func(t testing.TB, env *Env) {
		seen := make(chan struct{})
		var once sync.Once
		base := env.Serve(t, heartbeatHandler(seen, env.Context().Done()), s.Options...)
		st := env.Get(t, base+s.Path())
		st.OnComment = func(string) { once.Do(func() { close(seen) }) }
		ev, err := st.Next(EventTimeout)
		switch {
		case len(st.Comments) == 0 && err != nil:
			t.Fatalf("no heartbeat comment within %v on an idle stream with WithHeartbeat(50ms) (the producer waits for one): %v", EventTimeout, err)
		case len(st.Comments) == 0:
			t.Fatalf("got event %s before any heartbeat comment", expect.Describe(ev))
		case err != nil:
			t.Fatalf("event 0 (dispatched once a heartbeat was seen): got %s; want %s", expect.DescribeErr(err), expect.Describe(s.Want[0]))
		}
		if d := expect.DiffEvent(ev, s.Want[0]); d != "" {
			t.Fatalf("event 0: %s", d)
		}
		st.ExpectWithin(t, nil, true, EventTimeout)
	}
	return s
}

func dispatchBeforeReturn() Scenario {
	const n = 100
	var want []client.Event
	for i := range n {
		want = append(want, message("early "+strconv.Itoa(i), strconv.Itoa(i)))
	}
	return Scenario{
		Name: "dispatch-before-return",
		Doc: `Messages dispatched synchronously by the handler before it returns, and Close, are all delivered:
the target buffers from creation (Danet loses them).`,
		Handler: func(Request) (core.EventTarget, error) {
			t := core.NewTarget()
			for i := range n {
				if err := t.Dispatch(core.Message{ID: strconv.Itoa(i), Data: "early " + strconv.Itoa(i)}); err != nil {
					return nil, err
				}
			}
			t.Close()
			return t, nil
		},
		Want:    want,
		WantEnd: true,
	}
}

// flushHandler dispatches n events, each only after the client has
// acknowledged the previous one on ack.
func flushHandler(n int, ack <-chan struct{}, stop <-chan struct{}) Handler {
	return func(Request) (core.EventTarget, error) {
		t := core.NewTarget()
		go func() {
			defer t.Close()
			for i := range n {
				if t.Dispatch(core.Message{ID: strconv.Itoa(i), Data: "event " + strconv.Itoa(i)}) != nil {
					return
				}
				if ack == nil || i == n-1 {
					continue
				}
				select {
				case <-ack:
				case <-t.Done():
					return
				case <-stop:
					return
				}
			}
		}()
		return t, nil
	}
}

func flushPerEvent() Scenario {
	const n = 20
	var want []client.Event
	for i := range n {
		want = append(want, message("event "+strconv.Itoa(i), strconv.Itoa(i)))
	}
	s := Scenario{
		Name: "flush-per-event",
		Doc: `Each event is flushed to the client as it is dispatched: the producer dispatches the next event only
after the client has read the previous one, so an adapter that buffers stalls here.`,
		Handler: flushHandler(n, nil, nil),
		Want:    want,
		WantEnd: true,
	}
	s.Run = func(t testing.TB, env *Env) {
		ack := make(chan struct{})
		base := env.Serve(t, flushHandler(n, ack, env.Context().Done()), s.Options...)
		st := env.Get(t, base+s.Path())
		for i, w := range s.Want {
			ev, err := st.Next(EventTimeout)
			if err != nil {
				t.Fatalf("event %d was not readable within %v of its dispatch (the producer waits for the client to read it): %v", i, EventTimeout, err)
			}
			if d := expect.DiffEvent(ev, w); d != "" {
				t.Fatalf("event %d: %s", i, d)
			}
			if i < n-1 {
				timer := time.NewTimer(2 * time.Second)
				select {
				case ack <- struct{}{}:
				case <-timer.C:
					t.Fatalf("event %d: the producer stopped waiting for the client", i)
				}
				timer.Stop()
			}
		}
		st.ExpectWithin(t, nil, true, EventTimeout)
	}
	return s
}

func burst() Scenario {
	const n = 10_000
	want := make([]client.Event, n)
	for i := range n {
		want[i] = message("burst "+strconv.Itoa(i), strconv.Itoa(i))
	}
	return Scenario{
		Name:    "burst",
		Doc:     `10,000 events dispatched as fast as the target takes them all arrive, in order.`,
		Handler: burstHandler(n),
		Want:    want,
		WantEnd: true,
	}
}

func burstHandler(n int) Handler {
	return func(Request) (core.EventTarget, error) {
		t := core.NewTarget()
		go func() {
			defer t.Close()
			for i := range n {
				if t.Dispatch(core.Message{ID: strconv.Itoa(i), Data: "burst " + strconv.Itoa(i)}) != nil {
					return
				}
			}
		}()
		return t, nil
	}
}

func producersTakeTurns() Scenario {
	const n, producers = 40, 4
	want := make([]client.Event, n)
	for i := range n {
		want[i] = message("turn "+strconv.Itoa(i), strconv.Itoa(i))
	}
	return Scenario{
		Name: "producers-take-turns",
		Doc: `Four producer goroutines take turns dispatching 40 events, passing a token; after every third
event the stream is left idle for 2ms. The events arrive in order: those dispatched on an idle stream
(which Dispatch may write itself, on the producer's goroutine) and those dispatched at once after another
(which the stream loop writes) keep one order, whichever goroutine writes.`,
		Handler: func(Request) (core.EventTarget, error) {
			t := core.NewTarget()
			turn := make([]chan int, producers)
			for k := range turn {
				turn[k] = make(chan int, 1)
			}
			for k := range producers {
				go func() {
					for i := range turn[k] {
						if i >= n { // the last turn: end, and let every producer go
							t.Close()
							for _, c := range turn {
								close(c)
							}
							return
						}
						err := t.Dispatch(core.Message{ID: strconv.Itoa(i), Data: "turn " + strconv.Itoa(i)})
						if err != nil {
							i = n - 1 // the stream ended: pass the end on
						} else if i%3 == 2 {
							time.Sleep(2 * time.Millisecond) // the stream goes idle
						}
						turn[(i+1)%producers] <- i + 1
					}
				}()
			}
			turn[0] <- 0
			return t, nil
		},
		Want:    want,
		WantEnd: true,
	}
}

func shutdown() Scenario {
	const n = 50
	s := Scenario{
		Name: "shutdown",
		Doc: `Group.Shutdown (core.WithGroup) ends a running stream: every event dispatched before Shutdown
reaches the client, then the response ends, Shutdown returns, the target's Done closes with
core.ErrShutdown and later dispatches fail.`,
		Serial: true,
	}
	s.Run = func(t testing.TB, env *Env) {
		g := new(core.Group)
		targets := make(chan *core.Target, 1)
		base := env.Serve(t, func(Request) (core.EventTarget, error) {
			tg := core.NewTarget()
			select {
			case targets <- tg:
			default:
			}
			return tg, tg.Dispatch(core.Message{ID: "0", Data: "ready"})
		}, core.WithGroup(g))
		st := env.Get(t, base+s.Path())
		st.ExpectWithin(t, []client.Event{message("ready", "0")}, false, EventTimeout)
		tg := receive(t, targets, time.Second, "the target")
		var want []client.Event
		for i := 1; i <= n; i++ {
			id := strconv.Itoa(i)
			if err := tg.Dispatch(core.Message{ID: id, Data: "before shutdown"}); err != nil {
				t.Fatalf("Dispatch %d before Shutdown: %v", i, err)
			}
			want = append(want, message("before shutdown", id))
		}
		ctx, cancel := context.WithTimeout(env.Context(), 2*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Fatalf("Group.Shutdown: %v (the stream did not end within 2s)", err)
		}
		st.Expect(t, want, true)
		waitDone(t, tg, time.Second, "Shutdown returned")
		if err := tg.Err(); !errors.Is(err, core.ErrShutdown) {
			t.Errorf("target.Err() after Shutdown: got %v; want core.ErrShutdown", err)
		}
		if err := tg.Dispatch(core.Message{Data: "late"}); !errors.Is(err, core.ErrClosed) {
			t.Errorf("Dispatch after Shutdown: got %v; want core.ErrClosed", err)
		}
	}
	return s
}

// idleWriteTimeout and idleGap are the write timeout of the
// idle-past-write-timeout scenario and how long its stream idles (three
// times as long). The timeout is not shorter because every write, and the
// end of the response, must still be done within it on a loaded machine.
const (
	idleWriteTimeout = 500 * time.Millisecond
	idleGap          = 3 * idleWriteTimeout
)

func idlePastWriteTimeout() Scenario {
	return Scenario{
		Name: "idle-past-write-timeout",
		Doc: `An idle stream outlives the write timeout: with WithWriteTimeout(500ms) and no heartbeats, the producer
sends an event, lets the stream idle for 1.5s, then sends two more and closes; the client gets all three
and the normal end. A write deadline left armed while the stream idles ends it when it fires: on HTTP/2,
net/http resets the stream then, whether or not a write is pending, so the later events never arrive.`,
		Options: []core.Option{core.WithWriteTimeout(idleWriteTimeout), core.WithHeartbeat(-1)},
		Handler: func(Request) (core.EventTarget, error) {
			t := core.NewTarget()
			go func() {
				defer t.Close()
				dispatchAll(t, []core.Message{{ID: "1", Data: "before the idle time"}})
				timer := time.NewTimer(idleGap) // wall time past the write timeout is what is under test
				defer timer.Stop()
				select {
				case <-timer.C:
				case <-t.Done():
					return
				}
				dispatchAll(t, []core.Message{{ID: "2", Data: "after the idle time"}, {ID: "3", Data: "and one more"}})
			}()
			return t, nil
		},
		Want: []client.Event{
			message("before the idle time", "1"), message("after the idle time", "2"), message("and one more", "3"),
		},
		WantEnd: true,
	}
}
