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
// Every wait is bounded ([DefaultTimeout], [HeaderTimeout], [EventTimeout] and
// tighter bounds where a scenario checks timing); no scenario sleeps to
// synchronise. The suite takes about a second on a correct adapter.
//
// # Running the suite
//
// [Run] runs each scenario as a subtest named after it, so "go test -run
// TestConformance/heartbeat" picks one. Serial scenarios (disconnects,
// shutdown, stalled clients) run first, one at a time, each followed by a
// goroutine-leak check (goleak); the others then run in parallel, and one leak
// check covers them once they have all finished. Leak checks see every
// goroutine of the process, so call Run from a test that does not call
// t.Parallel (or pass [NoLeakCheck]); [LeakOptions] ignores a framework's
// own long-lived goroutines.
//
// Options adapt the run to an adapter: [Skip] names scenarios for features
// the framework cannot support (they still appear, as skipped subtests saying
// why), and [KnownFailing] names scenarios the adapter fails today. A known
// failure is reported as a skipped subtest carrying its failure messages and
// does not fail the run, while a listed scenario that passes fails the run,
// so the list shrinks as fixes land. Both fail the run when they name a
// scenario that does not exist. [RunScenarios] runs a list of one's choosing,
// such as a subset or scenarios of one's own.
//
// # Writing a harness
//
// A [Harness] serves a core-level [Handler] through the adapter under test on
// a loopback address. For a custom adapter, it is a few lines: start the
// framework's server on 127.0.0.1 with one route for every path and method,
// map the framework's request to a [Request] (method, path, query,
// Last-Event-ID, headers, the request context when the framework has one that
// ends with the request, and the body), pass the options to the adapter, and
// stop the server with t.Cleanup. A handler's error must go through the
// adapter's error path, as it would for users:
//
//	var harness = conformance.HarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) string {
//		srv := httptest.NewServer(myadapter.Handle(func(r *http.Request) (core.EventTarget, error) {
//			return h(conformance.Request{
//				Method:      r.Method,
//				Path:        r.URL.Path,
//				Query:       r.URL.RawQuery,
//				LastEventID: r.Header.Get("Last-Event-ID"),
//				Header:      r.Header,
//				Context:     r.Context(),
//				Body:        r.Body,
//			})
//		}, opts...))
//		t.Cleanup(srv.Close)
//		return srv.URL
//	})
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, harness, conformance.KnownFailing("heartbeat")) // say why in a comment
//	}
//
//	// The harness's own request mapping, checked before the suite relies on it.
//	func TestHarness(t *testing.T) { conformance.CheckHarness(t, harness) }
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
