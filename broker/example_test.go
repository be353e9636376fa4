package broker_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/core"
)

// Subscribe, publish, and take the encoded frames as the stream loop would
// (in a server, a handler returns the subscription and core.Run drains it).
func Example() {
	ctx := context.Background()
	clock := func() time.Time { return time.UnixMilli(1700000000000) } // fixed, for stable ids
	b := broker.New(broker.Options{Backend: broker.NewMemory(broker.MemoryOptions{Now: clock})})
	defer b.Shutdown(ctx)

	sub, err := b.Subscribe(ctx, []string{"news"}, "")
	if err != nil {
		panic(err)
	}
	defer sub.Stop(nil)

	b.Publish(ctx, "news", core.Message{Event: "headline", Data: "Go 2 released"})
	b.Publish(ctx, "news", core.Message{Data: "line one\nline two"})
	b.Publish(ctx, "news", core.Message{Event: "close", Data: "bye"}) // ends the subscribers' streams

	<-sub.Ready()
	frames, end := sub.Drain(nil)
	fmt.Print(string(frames))
	fmt.Println("end:", end)
	// Output:
	// id: 1700000000000-0
	// event: headline
	// data: Go 2 released
	//
	// id: 1700000000000-1
	// data: line one
	// data: line two
	//
	// id: 1700000000000-2
	// event: close
	// data: bye
	//
	// end: true
}

// A client that reconnects with the id of the last event it saw receives
// what it missed, then live events.
func ExampleBroker_Subscribe_resume() {
	ctx := context.Background()
	clock := func() time.Time { return time.UnixMilli(1700000000000) }
	b := broker.New(broker.Options{Backend: broker.NewMemory(broker.MemoryOptions{Now: clock})})
	defer b.Shutdown(ctx)

	for i := range 3 {
		b.Publish(ctx, "ticks", core.Message{Data: fmt.Sprint("tick ", i)})
	}
	sub, _ := b.Subscribe(ctx, []string{"ticks"}, "1700000000000-0") // saw tick 0
	defer sub.Stop(nil)
	b.Publish(ctx, "ticks", core.Message{Data: "tick 3"})

	frames, _ := sub.Drain(nil)
	fmt.Print(string(frames))
	// Output:
	// id: 1700000000000-1
	// data: tick 1
	//
	// id: 1700000000000-2
	// data: tick 2
	//
	// id: 1700000000000-3
	// data: tick 3
}
