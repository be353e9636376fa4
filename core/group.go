package core

import (
	"context"
	"sync"

	"github.com/ssekit/ssekit/internal/hook"
)

func init() {
	hook.Join = func(o any) (<-chan struct{}, bool) {
		if g := o.(Options).Group; g != nil {
			return g.join()
		}
		return nil, true
	}
	hook.Leave = func(o any) {
		if g := o.(Options).Group; g != nil {
			g.leave()
		}
	}
}

// Group tracks running streams so that they can all be ended at once:
// http.Server.Shutdown waits for streaming handlers but never cancels them.
// Pass it to adapters with [WithGroup] and call Shutdown (or Close, from
// http.Server.RegisterOnShutdown). The zero value is ready to use.
//
// On shutdown each stream writes what is already queued and ends; its target's
// producers see Done close, and clients reconnect with Last-Event-ID.
type Group struct {
	mu     sync.Mutex
	closed bool
	n      int
	down   chan struct{} // closed by Close
	idle   chan struct{} // closed when closed and n reaches 0
}

func (g *Group) init() {
	if g.down == nil {
		g.down = make(chan struct{})
		g.idle = make(chan struct{})
	}
}

// join registers a stream; it reports false once the group is shut down.
func (g *Group) join() (<-chan struct{}, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	if g.closed {
		return nil, false
	}
	g.n++
	return g.down, true
}

// Closed reports whether the group has been shut down (Close or Shutdown
// was called): a stream started now is refused.
func (g *Group) Closed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// leave unregisters a stream.
func (g *Group) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.closed && g.n == 0 {
		close(g.idle)
	}
}

// Close tells every stream of the group to end and refuses new ones. It does
// not wait; its signature fits http.Server.RegisterOnShutdown.
func (g *Group) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	if g.closed {
		return
	}
	g.closed = true
	close(g.down)
	if g.n == 0 {
		close(g.idle)
	}
}

// Shutdown closes the group and waits until every stream has ended, or ctx is
// done (then it returns ctx.Err()).
func (g *Group) Shutdown(ctx context.Context) error {
	g.Close()
	select {
	case <-g.idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Len returns the number of streams running in the group.
func (g *Group) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}
