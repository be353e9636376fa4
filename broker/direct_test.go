package broker

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ssekit/ssekit/core"
)

// heldWriter is an adapter.DeadlineWriter whose writes wait until release is
// closed, whatever the deadline: a client that stopped reading, seen from a
// producer that would write itself.
type heldWriter struct {
	flushed chan struct{} // closed at the first flush (the headers)
	writing chan struct{} // closed at the first write
	release chan struct{}
	once    [2]sync.Once
}

func (w *heldWriter) Write(p []byte) (int, error) {
	w.once[1].Do(func() { close(w.writing) })
	<-w.release
	return len(p), nil
}

func (w *heldWriter) Flush() error {
	w.once[0].Do(func() { close(w.flushed) })
	return nil
}

func (w *heldWriter) SetWriteDeadline(time.Time) error { return nil }

// TestPublishNeverWrites: Publish hands each event to the subscribers'
// stream loops and never writes on its own goroutine, even to an idle stream
// whose writer could bound a write (where a Target's Dispatch would write
// itself), so one stalled subscriber costs Publish nothing.
func TestPublishNeverWrites(t *testing.T) {
	t.Parallel()
	b := memBroker(t, nil, Options{}, MemoryOptions{})
	s := subscribe(t, b, []string{"t"}, "")
	w := &heldWriter{flushed: make(chan struct{}), writing: make(chan struct{}), release: make(chan struct{})}
	done := run(s, w, core.WithWriteTimeout(time.Hour))
	wait(t, w.flushed, "the headers' flush")
	time.Sleep(5 * time.Millisecond) // idle: a Target would lend its writer now
	published := make(chan error, 1)
	go func() {
		_, err := b.Publish(context.Background(), "t", core.Message{Data: "x"})
		published <- err
	}()
	if err := wait(t, published, "Publish, while the subscriber's write is held"); err != nil {
		t.Fatal(err)
	}
	wait(t, w.writing, "the stream loop's write")
	close(w.release)
	s.Stop(nil)
	wait(t, done, "the stream to end")
}
