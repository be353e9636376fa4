package adapter

import (
	"context"
	"time"

	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/hook"
)

// Writer is what an adapter hands [Run]: the response body, with a way to
// push buffered bytes to the client.
//
// Its methods are called by one goroutine at a time, never after Run returns,
// but not always by Run's: while the stream of a *core.Target is idle, Run
// lends the writer to the next producer, whose Dispatch writes and flushes
// its message itself (only when the Writer is a [DeadlineWriter] and a write
// timeout is set, so that such a write is bounded). The writer must therefore
// not depend on the goroutine it is called from; net/http's, Gin's, Echo's
// and fasthttp's response writers do not.
type Writer interface {
	Write(p []byte) (int, error)
	Flush() error
}

// LoopOnlyWriter is a [Writer] that only Run's own goroutine may write to
// while LoopOnly reports true: Run then never lends it to producers, and it
// clears the write deadline whenever the stream waits. The net/http adapter's
// writer is one over HTTP/2, where a write that a stalled connection holds is
// not ended by its deadline (net/http queues the stream's reset behind the
// stalled bytes): a producer writing there could be held until the client
// leaves; and a deadline that passes while nothing is written resets the
// stream. (Run's own write is held the same way; the server's
// http.HTTP2Config.WriteByteTimeout bounds it.)
type LoopOnlyWriter interface {
	Writer
	LoopOnly() bool
}

// DeadlineWriter is a [Writer] that can bound each write. Adapters implement
// it whenever their framework exposes the connection's write deadline: Run
// sets one before a write whenever less than half of
// core.Options.WriteTimeout is left of the current one, so every write gets
// at least half of it. While the stream waits the deadline stays armed, and
// may pass with nothing written: that must be harmless, as it is on a
// net.Conn (the next write gets a fresh one first). Where it is not, as on
// HTTP/2, where it resets the stream, the writer is a [LoopOnlyWriter]
// reporting true, and Run clears the deadline before it waits.
type DeadlineWriter interface {
	Writer
	SetWriteDeadline(t time.Time) error
}

// Run is the stream loop every adapter shares. The adapter has set the
// headers ([SetHeader]) and the status, 200, but written no body yet. Run
// flushes at once so the headers leave before the first event, then
// repeatedly writes everything the target has queued and flushes once, so a
// burst costs one flush and a lone event leaves at once. After an idle
// interval (core.Options.Heartbeat) it sends a ":" heartbeat comment. For a
// *core.Target it takes the queued frames without copying them; any other
// target is read with Drain.
//
// It returns, having ended t (Stop, then Options.OnEnd, once), when the target
// ends (nil, or what its Err reports), when ctx is done
// ([core.ErrClientGone]: pass the request's context), when a write or flush
// fails or misses its deadline (an error matching [core.ErrWrite]), or when the
// options' Group shuts down ([core.ErrShutdown], after writing what was
// queued). A panic in the target, in its Stop or in OnEnd ends only this
// stream, as a [*core.PanicError].
func Run(ctx context.Context, w Writer, t core.EventTarget, o core.Options) error {
	return hook.Run(ctx, w, t, o, nil)
}

// RunUntil is [Run] for servers that signal their shutdown on a channel but
// do not cancel each request's context (fasthttp: RequestCtx.Done): when
// shutdown closes, the stream writes what is queued and ends with
// [core.ErrShutdown], as on a Group shutdown.
func RunUntil(ctx context.Context, w Writer, t core.EventTarget, o core.Options, shutdown <-chan struct{}) error {
	return hook.Run(ctx, w, t, o, shutdown)
}
