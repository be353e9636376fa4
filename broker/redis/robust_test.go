package redisbroker

import (
	"context"
	"testing"
	"time"

	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/internal/brokertest"
)

// chanSink is a broker.Sink that hands entries to a channel.
type chanSink struct{ c chan broker.Entry }

func (s chanSink) Deliver(e broker.Entry) {
	select {
	case s.c <- e:
	default:
	}
}

func (chanSink) Fail(error) {}

// The backend copies the topic it keeps in its watch set: a topic that
// aliases a buffer the caller reuses (Fiber's c.Params) is still read after
// the buffer is overwritten, and Unwatch finds it.
func TestRedisBackendCopiesTopics(t *testing.T) {
	c := newClient(t, "")
	be := New(c, Options{Prefix: testPrefix(t), Block: time.Second})
	sink := chanSink{make(chan broker.Entry, 16)}
	be.Start(sink)
	defer func() {
		brokertest.Within(t, 10*time.Second, "Close", func() { _ = be.Close() })
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	topic, buf := brokertest.Aliased("alpha")
	if err := be.Watch(ctx, topic); err != nil {
		t.Fatal(err)
	}
	brokertest.Scribble(buf)
	if err := be.Watch(ctx, "beta"); err != nil { // the reader rebuilds its stream list
		t.Fatal(err)
	}
	if _, err := be.Append(ctx, "alpha", broker.Record{Body: []byte("data: 1\n\n")}); err != nil {
		t.Fatal(err)
	}
	e := brokertest.Wait(t, sink.c, "the entry appended to alpha")
	if e.Topic != "alpha" || string(e.Frame[len(e.Frame)-len("data: 1\n\n"):]) != "data: 1\n\n" {
		t.Fatalf("got %q %q; want alpha's entry", e.Topic, e.Frame)
	}
	be.Unwatch("alpha")
	be.Unwatch("beta")
	be.mu.Lock()
	n := len(be.watch)
	be.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d topics watched after Unwatch; want 0", n)
	}
}
