package broker

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ssekit/ssekit/core"
)

// A Last-Event-ID beyond every id the backend gave (a forged one, or one
// kept by a client across a restart of the process with its clock behind)
// gets the reset signal, then live events: it must not hold them back.
func TestBrokerFutureLastEventID(t *testing.T) {
	t.Run("forged", func(t *testing.T) {
		b := memBroker(t, newClock(), Options{}, MemoryOptions{})
		publish(t, b, "t", core.Message{Data: "before"})
		s := subscribe(t, b, []string{"t"}, "99999999999999-0")
		id := publish(t, b, "t", core.Message{Data: "live"})
		ev, _ := drain(s)
		equal(t, "after a future Last-Event-ID", idsOf(ev), []string{"reset", id})
	})
	t.Run("restart with the clock 30s behind", func(t *testing.T) {
		c := newClock()
		old := memBroker(t, c, Options{}, MemoryOptions{})
		var last string
		for i := range 4 {
			last = publish(t, old, "t", core.Message{Data: strconv.Itoa(i)})
		}
		// The process restarts; its clock is now 30 s behind.
		c.Advance(-30 * time.Second)
		b := memBroker(t, c, Options{}, MemoryOptions{})
		s := subscribe(t, b, []string{"t"}, last)
		var want []string
		for i := range 4 {
			c.Advance(time.Millisecond)
			want = append(want, publish(t, b, "t", core.Message{Data: strconv.Itoa(i)}))
		}
		ev, _ := drain(s)
		equal(t, "resuming on the restarted process", idsOf(ev), append([]string{"reset"}, want...))
	})
}

// Ids never wrap around: at the top of the range the sequence carries into
// the millisecond, and past the greatest id Publish fails clearly.
func TestBrokerIDsAtTheTop(t *testing.T) {
	b := memBroker(t, newClock(), Options{}, MemoryOptions{})
	max := strconv.FormatUint(math.MaxUint64, 10)
	// A millisecond ahead of the clock, whose sequence is at its maximum.
	publish(t, b, "t", core.Message{ID: "1800000000000-" + max, Data: "x"})
	if id := publish(t, b, "t", core.Message{Data: "carried"}); id != "1800000000001-0" {
		t.Fatalf("after 1800000000000-%s: id %s; want 1800000000001-0", max, id)
	}
	publish(t, b, "t", core.Message{ID: max + "-" + max, Data: "top"})
	id, err := b.Publish(context.Background(), "t", core.Message{Data: "past the top"})
	if !errors.Is(err, ErrIDSpace) {
		t.Fatalf("Publish past the greatest id: %q, %v; want ErrIDSpace", id, err)
	}
	ev, _ := drain(subscribe(t, b, []string{"t"}, "1800000000001-0"))
	equal(t, "the log", idsOf(ev), []string{max + "-" + max})
}

// manualTimers stands in for time.AfterFunc: the test fires the timers.
type manualTimers struct {
	mu  sync.Mutex
	fns []func()
	ds  []time.Duration
}

type manualTimer struct{}

func (manualTimer) Stop() bool { return true }

func (m *manualTimers) after(d time.Duration, f func()) stopper {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fns, m.ds = append(m.fns, f), append(m.ds, d)
	return manualTimer{}
}

// fire runs the timers armed so far and returns their durations.
func (m *manualTimers) fire() []time.Duration {
	m.mu.Lock()
	fns, ds := m.fns, m.ds
	m.fns, m.ds = nil, nil
	m.mu.Unlock()
	for _, f := range fns {
		f()
	}
	return ds
}

func (m *Memory) held() (topics, entries int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.logs {
		topics++
		entries += len(l.entries)
	}
	return topics, entries
}

// MaxAge holds with time, not only while events arrive: once publishing
// stops, a timer releases what aged out.
func TestMemoryMaxAgeByTime(t *testing.T) {
	t.Run("injected clock", func(t *testing.T) {
		c := newClock()
		m := NewMemory(MemoryOptions{MaxAge: 2 * time.Second, Now: c.Now})
		var timers manualTimers
		m.afterFunc = timers.after
		b := newBroker(t, Options{Backend: m})
		publish(t, b, "a", core.Message{Data: "1"})
		c.Advance(time.Second)
		publish(t, b, "b", core.Message{Data: "2"})
		c.Advance(1500 * time.Millisecond) // "a" is 2.5 s old, "b" 1.5 s
		if ds := timers.fire(); len(ds) != 1 || ds[0] != 2*time.Second {
			t.Fatalf("timers armed: %v; want one of 2s", ds)
		}
		if n, e := m.held(); n != 1 || e != 1 {
			t.Fatalf("after the first expiry: %d topics, %d entries held; want 1, 1", n, e)
		}
		c.Advance(time.Second)
		if ds := timers.fire(); len(ds) != 1 || ds[0] != 500*time.Millisecond {
			t.Fatalf("timer re-armed for %v; want 500ms (b's expiry)", ds)
		}
		if n, e := m.held(); n != 0 || e != 0 {
			t.Fatalf("after every expiry: %d topics, %d entries held; want none", n, e)
		}
		if ds := timers.fire(); len(ds) != 0 {
			t.Fatalf("a timer armed with nothing held: %v", ds)
		}
		// A resuming client is told what it lost.
		ev, _ := drain(subscribe(t, b, []string{"a", "b"}, "1-0"))
		equal(t, "after both expired", idsOf(ev), []string{"reset"})
	})
	t.Run("real clock", func(t *testing.T) {
		m := NewMemory(MemoryOptions{MaxAge: 200 * time.Millisecond})
		b := newBroker(t, Options{Backend: m})
		big := string(make([]byte, 1<<20))
		for range 10 {
			publish(t, b, "t", core.Message{Data: big})
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, e := m.held(); e == 0 {
				break
			}
			if time.Now().After(deadline) {
				_, e := m.held()
				t.Fatalf("%d entries of 1 MiB still held 5s after publishing stopped, with MaxAge 200ms", e)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// A backend that fails answers Subscribe with an error the adapters turn
// into 200 and a short retry (as during a shutdown), so that browsers
// reconnect instead of giving up on a 503.
func TestBrokerUnavailableIsRetried(t *testing.T) {
	b := newBroker(t, Options{Backend: &failingBackend{Memory: NewMemory(MemoryOptions{}), err: errors.New("redis: connection refused")}})
	s, err := b.Subscribe(context.Background(), []string{"t"}, "")
	if s != nil || !errors.Is(err, ErrUnavailable) || !errors.Is(err, core.ErrShutdown) || core.StatusOf(err) != http.StatusServiceUnavailable {
		t.Fatalf("Subscribe on a failing backend: %v, %v; want ErrUnavailable matching core.ErrShutdown, 503", s, err)
	}
}

type failingBackend struct {
	*Memory
	err error
}

func (f *failingBackend) Watch(context.Context, string) error { return f.err }
