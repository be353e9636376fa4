package adapter_test

import (
	"context"
	"testing"
	"time"

	"github.com/ssekit/ssekit/adapter"
	"github.com/ssekit/ssekit/core"
)

// TestJoinLeave checks the Group registration of streams run without Run:
// Shutdown waits for Leave, down closes, and a closed group refuses.
func TestJoinLeave(t *testing.T) {
	t.Parallel()
	if down, ok := adapter.Join(core.Options{}); down != nil || !ok {
		t.Fatalf("Join without a Group: got %v, %v; want nil, true", down, ok)
	}
	adapter.Leave(core.Options{}) // does nothing
	var g core.Group
	o := core.NewOptions(core.WithGroup(&g))
	down, ok := adapter.Join(o)
	if !ok || down == nil || g.Len() != 1 {
		t.Fatalf("Join: got %v, %v, Len %d; want a channel, true, 1", down, ok, g.Len())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := g.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown returned before the joined stream left")
	}
	select {
	case <-down:
	default:
		t.Fatal("down is not closed after Shutdown")
	}
	if _, ok := adapter.Join(o); ok {
		t.Fatal("Join after Shutdown: got ok; want a refusal")
	}
	adapter.Leave(o)
	if err := g.Shutdown(context.Background()); err != nil || g.Len() != 0 {
		t.Fatalf("Shutdown after Leave: %v, Len %d", err, g.Len())
	}
}
