// Package adapter is the adapter author's kit: what a framework adapter (the
// ones in adapters/, or your own) needs to serve ssekit event streams, kept
// apart from the user API in package core.
//
// An adapter does four things per request, in this order:
//
//  1. [CallHandler] calls the user's handler with the framework's context. It turns a
//     panic into a [*core.PanicError] (with its stack), a nil target into
//     [core.ErrNilTarget], stops a target returned beside an error, and
//     reports every failure to core.Options.OnEnd.
//  2. On an error, the adapter answers through the framework's own error
//     handling with [core.StatusOf] and [core.ErrorText], except for an error
//     matching [core.ErrShutdown]: that one, and any stream asked for once
//     [Closing] reports true, get [Refusal]'s answer (200, a short retry, the
//     end), because browsers never reconnect after a non-200 answer. A panic
//     is logged with its stack where the framework logs panics.
//  3. Otherwise it sets [SetHeader]'s headers and status 200, takes the write
//     deadline over from the server, and calls [Run] with the response body
//     as a [Writer] (a [DeadlineWriter] where the framework exposes the
//     connection's write deadline) and the request's context, cancelled when
//     the client goes away.
//  4. Whatever happens, the target is ended exactly once: by Run, or by [End]
//     when the stream never runs (a HEAD request, a writer that cannot flush).
//
// The conformance suite (package conformance) proves an adapter against all
// of it; the net/http adapter (adapters/nethttp) is the shortest example.
package adapter
