package broker

import (
	"errors"
	"strconv"
	"testing"

	"github.com/ssekit/ssekit/core"
)

// Negative limits mean no limit: QueueEvents -1 leaves the queue bounded by
// bytes only, MaxLen -1 keeps more than DefaultMaxLen entries.
func TestNegativeMeansNoLimit(t *testing.T) {
	t.Parallel()
	t.Run("QueueEvents", func(t *testing.T) {
		n := DefaultQueueEvents + 10
		b := memBroker(t, newClock(), Options{QueueEvents: -1, QueueBytes: 1 << 30}, MemoryOptions{MaxLen: -1})
		s := subscribe(t, b, []string{"t"}, "")
		for i := range n {
			publish(t, b, "t", core.Message{Data: strconv.Itoa(i)})
		}
		ev, end := drain(s)
		if end || len(ev) != n || s.Err() != nil {
			t.Fatalf("got %d events end=%v err=%v; want %d queued, the stream going on", len(ev), end, s.Err(), n)
		}
	})
	t.Run("QueueEventsBytesStillBound", func(t *testing.T) {
		b := memBroker(t, newClock(), Options{QueueEvents: -1, QueueBytes: 100}, MemoryOptions{})
		s := subscribe(t, b, []string{"t"}, "")
		for i := range 20 {
			publish(t, b, "t", core.Message{Data: "0123456789" + strconv.Itoa(i)})
		}
		if _, end := drain(s); !end || !errors.Is(s.Err(), ErrSlowSubscriber) {
			t.Fatalf("end=%v err=%v; want ErrSlowSubscriber from the byte bound", end, s.Err())
		}
	})
	t.Run("MaxLen", func(t *testing.T) {
		m := NewMemory(MemoryOptions{MaxLen: -1, Now: newClock().Now})
		b := newBroker(t, Options{Backend: m})
		n := DefaultMaxLen + 5
		for i := range n {
			publish(t, b, "t", core.Message{Data: strconv.Itoa(i)})
		}
		m.mu.Lock()
		got := len(m.logs["t"].entries)
		m.mu.Unlock()
		if got != n {
			t.Fatalf("log holds %d entries; want %d (no length limit)", got, n)
		}
	})
}
