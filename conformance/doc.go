// Package conformance tests an ssekit adapter: [Run] serves every scenario
// of [Scenarios] through the adapter on a loopback connection and checks what
// a spec-exact client (package client) receives, as subtests. What each
// scenario checks, and the bytes it expects, are listed in docs/protocol.md.
//
// A harness serves a core-level [Handler] through the adapter under test.
// For an adapter built on net/http it returns the adapter's handler, which
// maps each request (any path and method) to a [Request] and sends a
// handler's error through the adapter's error path, as it would for users:
//
//	var harness = conformance.HandlerHarnessFunc(func(t testing.TB, h conformance.Handler, opts ...core.Option) http.Handler {
//		return myadapter.Handle(func(r *http.Request) (core.EventTarget, error) {
//			return h(conformance.Request{
//				Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
//				LastEventID: r.Header.Get("Last-Event-ID"), Header: r.Header,
//				Context: r.Context(), Body: r.Body,
//			})
//		}, opts...)
//	})
//
//	func TestConformance(t *testing.T) { conformance.Run(t, harness) }
//	func TestHarness(t *testing.T)     { conformance.CheckHarness(t, harness) }
//
// Such a [HandlerHarness] runs over [HTTP1], [H2] (TLS) and [H2C]; the suite
// starts the servers itself. A framework that is not an http.Handler
// (fasthttp, Fiber) starts its own server on 127.0.0.1 and returns its base
// URL ([HarnessFunc]); it runs over HTTP/1.1 only.
//
// Subtests are named transport/scenario ("go test -run
// 'TestConformance/.*/heartbeat'"). Serial scenarios (disconnects, shutdown,
// stalled clients) run first, one at a time, each followed by a goroutine
// leak check (goleak); the others run in parallel. Call Run from a test that
// does not call t.Parallel, or pass [NoLeakCheck]. [Skip] names scenarios a
// framework cannot support; [KnownFailing] names those the adapter fails
// today, and fails the run once one passes. Every wait is bounded
// ([DefaultTimeout], [HeaderTimeout], [EventTimeout]); no scenario sleeps to
// synchronise.
//
// A [Scenario] is data (handler, request, expected events) plus, where a Go
// test must look at the producer's side or at timing, a Run function of its
// own; [RunScenarios] runs scenarios of one's choosing with an [Env]. Servers
// in other languages are checked over HTTP by package conformance/remote and
// the sseconform command.
package conformance
