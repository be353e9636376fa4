// Package client is the receiving side of ssekit: it reads Server-Sent Events
// the way a browser's EventSource does.
//
// [Parser] interprets a text/event-stream body exactly as the WHATWG HTML
// standard, section 9.2.6 "Interpreting an event stream", says:
//
//   - The bytes are decoded as UTF-8 by the Encoding standard's decoder: one
//     leading byte order mark is stripped, and every ill-formed sequence
//     becomes one U+FFFD, even when it is split across reads.
//   - A line ends with CRLF, LF or CR; a CRLF split across two reads is still
//     one line ending.
//   - A blank line dispatches the event; a line starting with a colon is a
//     comment (reported to [Parser.OnComment]); any other line is a field,
//     split at its first colon, with one leading space removed from the value.
//   - "event", "data", "id" (unless it holds U+0000) and "retry" (ASCII digits
//     only, reported to [Parser.OnRetry]) are the only fields; names are
//     case-sensitive and others are ignored.
//   - Dispatching always commits the last event ID, but an event is delivered
//     only when its data buffer is not empty; its type defaults to "message".
//   - At the end of the stream an unterminated event (and an unterminated
//     final line) is discarded.
//
// Lines may be of any length; the parser grows its buffer as needed and
// allocates per event, not per byte.
//
// [EventSource] is the whole client: it connects over HTTP, ranges over the
// events with `for ev, err := range es.Events(ctx)`, and reconnects as a
// browser does, sending Last-Event-ID and honouring the server's retry field,
// with capped exponential backoff and jitter after repeated failures.
package client
