// Package conformance checks that an ssekit adapter serves Server-Sent Events
// the way the WHATWG HTML standard and the ssekit contract say, over a real
// loopback connection, with the spec-exact parser of package client.
//
// # The contract
//
// An adapter passes when, for every scenario of [Scenarios]:
//
//   - A stream answers 200 with exactly "Content-Type: text/event-stream",
//     "Cache-Control: no-cache" and "X-Accel-Buffering: no", no Content-Length
//     and no hop-by-hop header (Connection, Keep-Alive), and its headers leave
//     at once, before any event.
//   - What a spec-exact client reads is exactly what was dispatched: ids (and
//     their persistence), event names, retry, comments, JSON, bytes, raw JSON,
//     multi-line data (CR and CRLF arrive as LF), leading spaces, empty data,
//     trailing newlines, Unicode, 1 MiB events, 10,000-event bursts, and the
//     messages a handler dispatches before it returns.
//   - Each event is flushed as it is dispatched; an idle stream carries
//     heartbeat comments; a "close" event ends the response (unless
//     core.KeepOpenOnClose), and so does core.Group.Shutdown, after everything
//     dispatched before it.
//   - A handler error answers with its status (core.StatusOf), not as an event
//     stream and without leaking an internal error's text; a panic answers 500
//     and the server goes on.
//   - A client that leaves (busy or idle stream) or stops reading
//     (core.WithWriteTimeout) ends the stream promptly: the target's Done
//     closes, the producer's Dispatch returns core.ErrClosed, and no goroutine
//     is left behind.
//   - Request.LastEventID carries the Last-Event-ID header, and a POST request
//     with a body gets a stream.
//
// All of this holds on every transport the adapter serves: HTTP/1.1, HTTP/2
// over TLS and h2c (HTTP/2 without TLS) for an adapter built on net/http.
//
// Every wait is bounded ([DefaultTimeout], [HeaderTimeout], [EventTimeout] and
// tighter bounds where a scenario checks timing); no scenario sleeps to
// synchronise. The suite takes a few seconds on a correct adapter.
//
// # Transports
//
// A harness that returns the adapter's http.Handler (a [HandlerHarness],
// most simply a [HandlerHarnessFunc]) gets HTTP/2 coverage for free: the
// suite starts the servers itself on 127.0.0.1 and runs every scenario over
// [HTTP1], [H2] (TLS with ALPN, a certificate made for the run that the
// suite's clients trust) and [H2C] (prior knowledge), with clients that speak
// that transport only, and fails a scenario whose response arrives over
// another protocol. It also fails a scenario if net/http logs a defect of the
// handler (a superfluous WriteHeader call, a panic that reached net/http).
// A harness that can only give a base URL ([Harness], [HarnessFunc]: Fiber,
// fasthttp, which have no HTTP/2) runs over HTTP/1.1 only, and the run says
// so in its log; [HarnessTransports] reports the transports of a harness.
//
// Scenarios that write HTTP/1.1 bytes themselves have an HTTP/2 form:
// stalled-reader's client never replenishes its 64 KiB flow-control windows
// instead of writing its request on a raw connection with a small receive
// buffer. No scenario is HTTP/1.1-only; one that had to be would skip itself
// on the other transports (see [Env].Transport), saying why.
//
// # Running the suite
//
// [Run] runs each scenario as a subtest named after its transport and itself,
// so "go test -run TestConformance/h2/heartbeat" picks one, and "go test -run
// 'TestConformance/.*/heartbeat'" picks it on every transport. Serial
// scenarios (disconnects, shutdown, stalled clients) run first, one at a
// time, transport after transport, each followed by a goroutine-leak check
// (goleak); the others then run in parallel, those of every transport
// together, and one leak check covers them once they have all finished. The
// leak checks cover HTTP/2 too: the suite's clients close their idle
// connections when a scenario ends. Leak checks see every
// goroutine of the process, so call Run from a test that does not call
// t.Parallel (or pass [NoLeakCheck]); [LeakOptions] ignores a framework's
// own long-lived goroutines.
//
// Options adapt the run to an adapter: [Skip] names scenarios for features
// the framework cannot support (they still appear, as skipped subtests saying
// why), and [KnownFailing] names scenarios the adapter fails today; either
// names a scenario on every transport ("heartbeat") or on one
// ("h2/heartbeat"). A known
// failure is reported as a skipped subtest carrying its failure messages and
// does not fail the run, while a listed scenario that passes fails the run,
// so the list shrinks as fixes land. Both fail the run when they name a
// scenario that does not exist. [RunScenarios] runs a list of one's choosing,
// such as a subset or scenarios of one's own.
//
// # Writing a harness
//
// A harness serves a core-level [Handler] through the adapter under test. For
// a custom adapter on net/http it is a few lines: return the adapter's
// handler, answering every path and method, that maps the request to a
// [Request] (method, path, query, Last-Event-ID, headers, the request
// context, and the body) and passes the options to the adapter. A handler's
// error must go through the adapter's error path, as it would for users. The
// suite serves it over HTTP/1.1, h2 and h2c:
//
//	var harness = conformance.HandlerHarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) http.Handler {
//		return myadapter.Handle(func(r *http.Request) (core.EventTarget, error) {
//			return h(conformance.Request{
//				Method:      r.Method,
//				Path:        r.URL.Path,
//				Query:       r.URL.RawQuery,
//				LastEventID: r.Header.Get("Last-Event-ID"),
//				Header:      r.Header,
//				Context:     r.Context(),
//				Body:        r.Body,
//			})
//		}, opts...)
//	})
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, harness, conformance.KnownFailing("h2/heartbeat")) // say why in a comment
//	}
//
//	// The harness's own request mapping, checked before the suite relies on it.
//	func TestHarness(t *testing.T) { conformance.CheckHarness(t, harness) }
//
// For a framework that is not an http.Handler (fasthttp), the harness starts
// the framework's server on 127.0.0.1 itself, with one route for every path
// and method, stops it with t.Cleanup and returns its base URL: a
// [HarnessFunc]. The request context is then the framework's, if it has one
// that ends with the request, and context.Background() otherwise.
//
// # Scenarios as data
//
// A [Scenario] keeps what the server does (Handler, Options), the request
// (Method, Header, Body) and what a spec-exact client must see (WantStatus,
// Want, WantEnd, WantRetry) apart from how it is run, so that other runners
// (a command-line checker, an external client such as a browser's
// EventSource) can serve the same handlers and hold their clients to the same
// expectations. Scenarios that check what only a Go test can (timing,
// disconnects, the producer's side) have a Run function of their own.
package conformance
