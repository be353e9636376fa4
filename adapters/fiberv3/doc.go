// Package fiberv3sse serves ssekit event streams with Fiber v3 (fasthttp). It
// only maps a fiber.Ctx onto [adapter.CallHandler] and [adapter.Run]:
//
//	app.Get("/sse", fiberv3sse.Handle(func(c fiber.Ctx) (core.EventTarget, error) {
//		t := core.NewTarget()
//		go produce(t, fiberv3sse.LastEventID(c)) // dispatch on t until t.Done()
//		return t, nil
//	}))
//
// The contract, in the order a request meets it:
//
//   - The handler runs under [adapter.CallHandler]: an error it returns, or a panic,
//     reaches Fiber's ErrorHandler as a [*fiber.Error] (status from
//     [core.StatusOf], text from [core.ErrorText]; a *fiber.Error anywhere in
//     the error's chain is passed on as is), with or without Fiber's recover
//     middleware. Never an empty 200.
//   - The fiber.Ctx is released when the handler returns, while the stream
//     goes on: producers must not touch it. [LastEventID] returns a copy.
//   - On success the response gets [adapter.Header] and status 200, and its
//     headers leave at once (fasthttp's Response.ImmediateHeaderFlush), before
//     the first event. fasthttp frames the body with chunked encoding; the
//     adapter sets no Content-Length and no hop-by-hop header.
//   - The body is a stream that fasthttp consumes with WriteTo (it implements
//     fasthttp.BodyWriterTo), set on the fasthttp.RequestCtx that
//     c.RequestCtx() exposes: [adapter.Run] runs on the connection's own
//     goroutine and writes each batch as one chunk straight to the connection,
//     with no in-memory pipe (the only other goroutine is the disconnect
//     watch, below). A client that stops reading blocks the write itself, and
//     [core.Options.WriteTimeout] (a deadline set on the connection before
//     every write) ends the stream with [core.ErrWrite]. Memory per stalled
//     stream is what the target queues ([core.WithQueueBytes]) plus the batch
//     being written. (c.SendStreamWriter, by contrast, is fasthttp's
//     SetBodyStreamWriter: it writes into a pipe of buffers that the
//     connection's goroutine copies out, bounded in count, not in bytes, and
//     it hides a failed write for one more write.)
//   - Server.WriteTimeout (fiber.Config.WriteTimeout) does not cut streams: the
//     adapter takes the connection's write deadline over for the response
//     (RequestCtx.SetWriteDeadline), adapter.Run sets one per write, and fasthttp
//     clears it when the response ends, so a kept-alive connection does not
//     inherit the stream's last deadline.
//
// Disconnects: fasthttp has no per-request cancellation (fiber.Ctx's Done is
// nil) and reads nothing from a connection while it writes a response, so the
// adapter watches the connection while a stream runs, as net/http's server
// does: one goroutine per stream peeks at the socket (recv with MSG_PEEK
// through syscall.RawConn, which takes no byte from fasthttp). A client that
// closes its connection ends the stream at once ([core.ErrClientGone]; well
// under a millisecond on loopback), whatever the heartbeat (as with net/http,
// a client that shuts down only its sending side counts as gone). A request
// the client pipelines during a stream is left for fasthttp, which serves it
// after the stream; the watch then ends, as net/http's does, and a later
// disconnect is noticed by a failed write. Over TLS, any byte the client sends
// during a stream ends the stream cleanly (it may be the close_notify alert of
// a client that is leaving, which only decrypting could tell from a pipelined
// request) and fasthttp then reads it. The watch clears the request's read
// deadline (Server.ReadTimeout) for the stream; fasthttp sets its own again
// before the next request on a kept-alive connection.
//
// Not watched: connections without a socket of their own (fasthttputil's
// in-memory listener, app.Test), a plain connection behind fasthttp's
// Server.MaxConnsPerIP wrapper, a TLS connection whose request body streams in
// (Server.StreamRequestBody), and systems other than Unix. There the only sign
// that a client left is a failed write: a client that closes its connection is
// noticed at the second write after it left (the first one still succeeds at
// the TCP level), under traffic at once, on an idle stream within two
// heartbeat intervals, 2 × [core.Options.Heartbeat] (30 s by default). A
// client that vanishes without closing (a cut network) is noticed only once
// its socket buffers fill and a write misses WriteTimeout, or the kernel gives
// up on the connection; this holds for every server.
//
// Shutdown: app.Shutdown closes the server's done channel (RequestCtx.Done),
// which the adapter passes to [adapter.RunUntil]: every stream writes
// what is queued and ends with [core.ErrShutdown], and its body ends cleanly
// so that clients reconnect with Last-Event-ID. Shutdown does not hang on
// open streams: it returns within its 100 ms polling interval, or once a
// stream blocked writing to a client that stopped reading misses its write
// deadline. Streams in a [core.Group] ([core.WithGroup]) end the same way on
// Group.Shutdown.
//
// Panics after the handler returned (in a custom target, or in
// [core.Options.OnEnd]) end that response and close its connection, never the
// process.
//
// Middleware: keep off SSE routes anything that reads c.Response().Body(): it
// consumes the whole stream before sending anything (the client then gets
// every event at once, with a Content-Length, when the stream ends, if ever).
// In Fiber v3 that includes the compress middleware (unlike v2's: it reads the
// body to skip empty responses; skip SSE routes with its Next), the etag,
// cache and idempotency middleware, the logger's ${resBody} tag, and the
// timeout middleware once its timeout expires (a handler that returns before
// the timeout is fine). Fiber routes HEAD requests to GET handlers: a HEAD
// gets the headers, and its target is stopped. fasthttp has no HTTP/2.
//
// This module requires fasthttp v1.78.0 (for BodyWriterTo and
// RequestCtx.SetWriteDeadline), newer than the v1.69.0 Fiber v3.1.0 asks for.
package fiberv3sse
