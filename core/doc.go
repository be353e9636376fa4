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
//   - The adapter sets [Header] on the response and calls [Run], which writes
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
package core
