package broker

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/brokertest"
)

// bound is how long a call that must not block may take, with a wide margin
// for a loaded machine.
const bound = 10 * time.Second

var (
	aliased  = brokertest.Aliased
	scribble = brokertest.Scribble
	within   = brokertest.Within
)

// stillServes fails the test unless b publishes, subscribes and stops
// within bound: nothing left a lock held.
func stillServes(t *testing.T, b *Broker, topic string) {
	t.Helper()
	within(t, bound, "Subscribe, Publish, Drain and Stop after the failure", func() {
		s, err := b.Subscribe(context.Background(), []string{topic}, "")
		if err != nil {
			t.Errorf("Subscribe: %v", err)
			return
		}
		defer s.Stop(nil)
		if _, err := b.Publish(context.Background(), topic, core.Message{Data: "still here"}); err != nil {
			t.Errorf("Publish: %v", err)
			return
		}
		if ev, _ := drain(s); len(ev) != 1 || ev[0].Data != "still here" {
			t.Errorf("got %+v; want the event published", ev)
		}
	})
}

// shutdown shuts b down within bound.
func shutdown(t *testing.T, b *Broker) {
	t.Helper()
	within(t, bound, "Shutdown", func() {
		ctx, cancel := context.WithTimeout(context.Background(), bound/2)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
}

// The broker copies the strings it keeps: a topic that aliases a buffer the
// caller reuses (Fiber's c.Params) still receives its events after the
// buffer is overwritten, and leaving it does not panic with the lock held.
func TestBrokerCopiesCallerStrings(t *testing.T) {
	t.Parallel()
	b := New(Options{Backend: NewMemory(MemoryOptions{Now: newClock().Now})})
	sub, sbuf := aliased("alpha")
	s, err := b.Subscribe(context.Background(), []string{sub, "beta"}, "")
	if err != nil {
		t.Fatal(err)
	}
	scribble(sbuf) // the next request reuses the buffer

	pub, pbuf := aliased("alpha")
	publish(t, b, pub, core.Message{Data: "1"})
	scribble(pbuf)
	publish(t, b, "alpha", core.Message{Data: "2"})

	ev, _ := drain(s)
	equal(t, "events", datas(ev), []string{"1", "2"})
	if got := s.Topics(); got[0] != "alpha" {
		t.Fatalf("Topics: %q; want alpha first", got)
	}
	// The log kept the topic's own name: both events replay.
	r := subscribe(t, b, []string{"alpha"}, "0")
	ev, _ = drain(r)
	equal(t, "replayed from before the log", idsOf(ev)[:1], []string{"reset"})
	equal(t, "replayed", datas(ev)[1:], []string{"1", "2"})
	if p := within(t, bound, "Stop", func() { s.Stop(nil) }); p != nil {
		t.Fatalf("Stop panicked: %v", p)
	}
	stillServes(t, b, "alpha")
	r.Stop(nil)
	shutdown(t, b)
}

// panicky is a backend whose methods panic on demand; it counts Watch and
// Unwatch calls, which must balance.
type panicky struct {
	*Memory
	mu                                    sync.Mutex
	watch, read, unwatch, appendT, closeB bool
	watched, unwatched                    int
}

func (p *panicky) set(f func(p *panicky)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *panicky) Watch(ctx context.Context, topic string) error {
	p.mu.Lock()
	boom := p.watch && topic == "boom"
	if !boom {
		p.watched++
	}
	p.mu.Unlock()
	if boom {
		panic("Watch: boom")
	}
	return p.Memory.Watch(ctx, topic)
}

func (p *panicky) Unwatch(topic string) {
	p.mu.Lock()
	p.unwatched++
	boom := p.unwatch
	p.mu.Unlock()
	if boom {
		panic("Unwatch: boom")
	}
	p.Memory.Unwatch(topic)
}

func (p *panicky) Read(ctx context.Context, topics []string, after ID) ([]Entry, bool, error) {
	p.mu.Lock()
	boom := p.read
	p.mu.Unlock()
	if boom {
		panic("Read: boom")
	}
	return p.Memory.Read(ctx, topics, after)
}

func (p *panicky) Append(ctx context.Context, topic string, r Record) (ID, error) {
	p.mu.Lock()
	boom := p.appendT
	p.mu.Unlock()
	if boom {
		panic("Append: boom")
	}
	return p.Memory.Append(ctx, topic, r)
}

func (p *panicky) Close() error {
	p.mu.Lock()
	boom := p.closeB
	p.mu.Unlock()
	if boom {
		panic("Close: boom")
	}
	return p.Memory.Close()
}

// balanced fails the test unless every Watch but those of open topics was
// undone.
func (p *panicky) balanced(t *testing.T, open int) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.watched-p.unwatched != open {
		t.Fatalf("Watch called %d times, Unwatch %d; want %d topics still watched", p.watched, p.unwatched, open)
	}
}

// A panic in a user callback (Authorize) or in a Backend method ends that
// one call or subscription; the broker keeps serving, and a later Shutdown
// still returns.
func TestBrokerCallbackPanics(t *testing.T) {
	t.Parallel()
	p := &panicky{Memory: NewMemory(MemoryOptions{})}
	b := New(Options{Backend: p, Authorize: func(_ context.Context, topic string) error {
		if topic == "forbidden-boom" {
			panic("Authorize: boom")
		}
		return nil
	}})
	other := subscribe(t, b, []string{"other"}, "") // a bystander that must keep working

	steps := []struct {
		name   string
		set    func(p *panicky)
		topics []string
		last   string
	}{
		{"Authorize", func(*panicky) {}, []string{"a", "forbidden-boom"}, ""},
		{"Watch", func(p *panicky) { p.watch = true }, []string{"a", "boom"}, ""},
		{"Read", func(p *panicky) { p.read = true }, []string{"a", "b"}, "1"},
	}
	for _, st := range steps {
		p.set(st.set)
		var err error
		pv := within(t, bound, st.name+" panicking in Subscribe", func() {
			var s *Subscription
			s, err = b.Subscribe(context.Background(), st.topics, st.last)
			s.Stop(nil)
		})
		p.set(func(p *panicky) { p.watch, p.read = false, false })
		if pv == nil && err == nil {
			t.Fatalf("%s: Subscribe neither panicked nor failed", st.name)
		}
		if n := b.Len(); n != 1 {
			t.Fatalf("%s: Len %d after the failed Subscribe; want 1 (only the bystander)", st.name, n)
		}
		stillServes(t, b, "a")
	}
	p.balanced(t, 1) // the bystander

	// Unwatch panics while a subscription leaves: it still leaves every
	// topic, and the broker keeps serving.
	s := subscribe(t, b, []string{"x", "y", "z"}, "")
	p.set(func(p *panicky) { p.unwatch = true })
	within(t, bound, "Stop with Unwatch panicking", func() { s.Stop(nil) })
	p.set(func(p *panicky) { p.unwatch = false })
	p.balanced(t, 1) // the bystander
	if n := b.Len(); n != 1 {
		t.Fatalf("Len %d after Stop; want 1", n)
	}
	stillServes(t, b, "x")

	// The same through a stream loop: the stream ends, the broker serves on.
	s = subscribe(t, b, []string{"x"}, "")
	done := run(s, newRecorder())
	publish(t, b, "x", core.Message{Data: "1"})
	p.set(func(p *panicky) { p.unwatch = true })
	publish(t, b, "x", core.Message{Event: CloseEvent})
	var pe *core.PanicError
	if err := wait(t, done, "the stream to end"); !errors.As(err, &pe) {
		t.Fatalf("stream ended with %v; want the Unwatch panic", err)
	}
	p.set(func(p *panicky) { p.unwatch = false })
	stillServes(t, b, "x")

	// Append panics: that Publish panics, the next one works.
	p.set(func(p *panicky) { p.appendT = true })
	pv := within(t, bound, "Publish with Append panicking", func() {
		_, _ = b.Publish(context.Background(), "other", core.Message{Data: "lost"})
	})
	p.set(func(p *panicky) { p.appendT = false })
	if pv == nil {
		t.Fatal("Publish: Append's panic vanished")
	}
	stillServes(t, b, "other")
	if ev, _ := drain(other); len(ev) != 1 || ev[0].Data != "still here" {
		t.Fatalf("bystander got %+v; want the one event published to it", ev)
	}

	// Close panics: Shutdown reports it, and a second Shutdown returns.
	other.Stop(nil)
	p.set(func(p *panicky) { p.closeB = true })
	var err error
	within(t, bound, "Shutdown with Close panicking", func() { err = b.Shutdown(context.Background()) })
	if err == nil || !strings.Contains(err.Error(), "Close: boom") {
		t.Fatalf("Shutdown: %v; want an error carrying Close's panic", err)
	}
	within(t, bound, "second Shutdown", func() { _ = b.Shutdown(context.Background()) })
}

// Subscribe after Shutdown fails with an error matching core.ErrShutdown,
// which adapters answer with a retry and an immediate end.
func TestBrokerSubscribeAfterShutdown(t *testing.T) {
	t.Parallel()
	b := New(Options{})
	shutdown(t, b)
	s, err := b.Subscribe(context.Background(), []string{"t"}, "")
	if s != nil || !errors.Is(err, core.ErrShutdown) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Subscribe after Shutdown: %v, %v; want nil and an error matching core.ErrShutdown", s, err)
	}
	if _, err := b.Subscribe(context.Background(), []string{"t"}, "1-0"); !errors.Is(err, core.ErrShutdown) {
		t.Fatalf("resuming Subscribe after Shutdown: %v; want core.ErrShutdown", err)
	}
}

// heldBytes sums the frames s holds back while its replay is read.
func heldBytes(s *Subscription) (n, count int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.held {
		n += len(e.Frame)
	}
	return n, len(s.held)
}

// The live events held back while a replay is read are bounded by
// QueueBytes, as the queue is, with the same overflow policy.
func TestBrokerHoldBackBytes(t *testing.T) {
	t.Parallel()
	const queueBytes = 1000
	big := strings.Repeat("x", 200) // each frame is over 200 bytes
	for _, policy := range []Overflow{Disconnect, DropOldest} {
		t.Run(strconv.Itoa(int(policy)), func(t *testing.T) {
			t.Parallel()
			h := &hookBackend{Memory: NewMemory(MemoryOptions{Now: newClock().Now})}
			b := newBroker(t, Options{Backend: h, QueueEvents: 1000, QueueBytes: queueBytes, Overflow: policy})
			first := publish(t, b, "t", core.Message{Data: "0"})
			var during []int
			h.beforeRead = func() {
				b.mu.RLock()
				s := b.topics["t"].subs[0]
				b.mu.RUnlock()
				for i := 1; i <= 20; i++ {
					publish(t, b, "t", core.Message{Data: big + strconv.Itoa(i)})
					n, _ := heldBytes(s)
					during = append(during, n)
				}
			}
			s := subscribe(t, b, []string{"t"}, first)
			h.beforeRead = nil
			for i, n := range during {
				if n > queueBytes {
					t.Fatalf("after %d held events: %d bytes held; want at most QueueBytes=%d", i+1, n, queueBytes)
				}
			}
			ev, end := drain(s)
			switch policy {
			case Disconnect:
				if !end || !errors.Is(s.Err(), ErrSlowSubscriber) {
					t.Fatalf("end=%v err=%v; want ErrSlowSubscriber", end, s.Err())
				}
			case DropOldest: // the replay read after them holds all 20
				if got := datas(ev); end || len(got) != 20 || got[19] != big+"20" {
					t.Fatalf("end=%v, %d events; want all 20 from the replay", end, len(got))
				}
			}
		})
	}
}

// An idle subscription keeps no large buffer of its own after a burst: its
// queue is released, and the frames with it.
func TestBrokerIdleHoldsLittle(t *testing.T) {
	t.Parallel()
	b := memBroker(t, newClock(), Options{}, MemoryOptions{})
	s := subscribe(t, b, []string{"t"}, "")
	for i := range 2 * maxIdleQueue {
		publish(t, b, "t", core.Message{Data: strconv.Itoa(i)})
	}
	if ev, _ := drain(s); len(ev) != 2*maxIdleQueue {
		t.Fatalf("drained %d events; want %d", len(ev), 2*maxIdleQueue)
	}
	s.mu.Lock()
	c, held := cap(s.q), s.held
	s.mu.Unlock()
	if c > maxIdleQueue || held != nil {
		t.Fatalf("idle subscription keeps a queue of capacity %d and hold-back %v; want at most %d and none", c, held, maxIdleQueue)
	}
}
