// Package nbiosse serves ssekit event streams on lesismal/nbio's nbhttp, an
// event-loop HTTP/1.x server, without a goroutine per stream: an idle stream
// costs its connection's and target's memory (about 1-2 KiB besides the
// kernel's socket buffers), not two goroutine stacks and per-connection
// buffers (about 25 KiB on net/http).
//
//	mux := http.NewServeMux()
//	mux.Handle("GET /sse", nbiosse.Handle(func(r *http.Request) (core.EventTarget, error) {
//		t := core.NewTarget()
//		go produce(t, nbiosse.LastEventID(r)) // dispatch on t until t.Done(); never touch r here
//		return t, nil
//	}))
//	engine := nbhttp.NewEngine(nbhttp.Config{Network: "tcp", Addrs: []string{":8080"}, Handler: mux})
//	nbiosse.Attach(engine) // before Start
//	err := engine.Start()
//
// The contract, in the order a request meets it:
//
//   - The handler runs under [adapter.CallHandler] on nbhttp's handler pool: an
//     error it returns is answered with http.Error ([core.StatusOf],
//     [core.ErrorText]); a panic is answered 500 and logged with its stack
//     through nbio's logging package. The *http.Request is reused by nbhttp
//     once the handler returns, and its context does not end with the
//     connection: producers copy what they need and watch the target's Done.
//   - On success the adapter takes the connection over (Hijack), writes the
//     status line and headers ([adapter.Header], plus what middleware set),
//     chunked framing on HTTP/1.1, and becomes the connection's session in
//     nbhttp's place, so that the engine tells it when the client leaves.
//   - The stream then has no goroutine. The target wakes it through
//     [core.Notifier] ([core.Target] and broker subscriptions implement it; any
//     other target costs one goroutine watching its Ready channel), the
//     connection's close and written-size callbacks wake it, and one timing
//     wheel per process (10 ms ticks) holds every stream's heartbeat and write
//     deadline. A bounded pool of goroutines (twice GOMAXPROCS, at least 4,
//     none when nothing is ready) runs a woken stream: it drains the target,
//     writes the batch as one chunk and returns.
//   - Writes never block: nbio writes what the socket takes and keeps the rest
//     until the socket is writable. While 64 KiB or more has not left, the
//     stream does not drain again (the target queues, and its producers wait
//     at its limit, [core.WithQueueBytes]), so the connection buffers at most
//     64 KiB and one batch; if bytes written have not left after one to two
//     [core.Options.WriteTimeout], the client is stalled and the stream ends
//     with [core.ErrWrite].
//   - Heartbeats, the close rules, [core.Group] shutdown, OnEnd (once per
//     request) and the refusal during shutdown behave as on every adapter;
//     the conformance suite proves it. After a clean end the connection goes
//     back to nbhttp for the next request (keep-alive) when everything
//     written has left, and is closed otherwise.
//
// Trade-offs against net/http: HTTP/1.x only (nbhttp has no HTTP/2, so a
// browser gets six streams per origin unless a proxy in front speaks HTTP/2);
// plain TCP only (terminate TLS in a proxy: nbhttp's TLS connections are
// refused with [ErrUnsupportedConn]); no request context that ends with the
// client; the request is valid only until the handler returns; requests
// pipelined behind a stream on its connection are not served; the engine
// must be prepared with [Attach].
//
// A [core.WithObserver] Observer hears of nbio streams as of any adapter's
// (the adapter "nbio", the ServeMux pattern as the route), through
// [adapter.Start] and [adapter.EndStarted].
//
// Tests run with -race may see a data race reported inside nbhttp that is
// not one (its hand-off of each new connection to a poller goes through
// epoll); nbiotest.RaceShim, called on the engine before Start, makes that
// hand-off visible to the detector.
package nbiosse
