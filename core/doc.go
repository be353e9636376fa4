// Package core is the framework-agnostic heart of ssekit: the Server-Sent Events
// message type, a spec-exact encoder, the event target a handler returns and
// dispatches on, and the one stream loop that every adapter runs.
//
// The contract, in the order a request meets it:
//
//   - A handler returns an [EventTarget]. The ready-made one is [Target]
//     ([NewTarget]); [FromChannel] and [FromSeq] wrap a channel or an iterator.
//   - Messages are encoded when they are dispatched ([Target.Dispatch]), so a
//     message the standard cannot carry is refused right there, with an error
//     that matches [ErrInvalidField], and never rewritten silently.
//   - The adapter sets the event-stream headers and runs the stream loop
//     (adapter.Run, in the adapter author's kit, package adapter), which writes
//     everything already queued, flushes once, sends a heartbeat comment after an
//     idle interval, and ends after a "close" event, when the target ends, when
//     the client goes away, when a write fails or misses its deadline, or when
//     the [Group] the stream belongs to shuts down. Whatever ends it, the target is
//     stopped: [Target.Done] closes and later dispatches fail with [ErrClosed].
//
// Encoding follows the WHATWG HTML standard, section "Server-sent events": every
// CR, LF and CRLF in data starts a new "data: " line (clients join lines with LF,
// so CR and CRLF arrive as LF), one space follows every colon, empty data is sent
// as "data: ", a trailing newline survives, and every event ends with a blank line.
//
// What a route sets: [WithHeartbeat], [WithWriteTimeout], [WithGroup] (shut
// many streams down at once) and [WithOnEnd] (hear why each request ended),
// passed to any adapter's Handle. What a handler answers instead of a stream:
// [Error] (a status and a message for the client); any other error is a 500
// that does not leak its text. Numeric options follow one rule: zero means the
// default, negative means none where none makes sense.
//
// Writing an adapter for another framework? The kit is package
// github.com/ssekit/ssekit/adapter; the conformance suite
// (github.com/ssekit/ssekit/conformance) proves the result.
package core
