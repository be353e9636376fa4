package conformance_test

import (
	"slices"
	"testing"

	"github.com/ssekit/ssekit/conformance"
)

// allBut returns the name of every scenario except those given.
func allBut(names ...string) []string {
	var all []string
	for _, s := range conformance.Scenarios() {
		if !slices.Contains(names, s.Name) {
			all = append(all, s.Name)
		}
	}
	return all
}

// brokenAdapters are adapters that get SSE wrong, each with exactly the
// scenarios it must fail.
var brokenAdapters = []struct {
	name    string
	b       breakage
	failing []string
}{
	// Without flushes, the server's buffer decides when bytes leave: whatever
	// waits for one event (or for the headers) fails, and a short response
	// gets a Content-Length.
	{"no-flush", breakage{noFlush: true}, []string{
		"heartbeat", "flush-per-event", "shutdown", "headers", "headers-before-first-event",
		"client-disconnect-idle", "producer-after-disconnect",
	}},
	// The final blank line of a response never arrives, so its last event is
	// discarded; each event arrives only with the next write. Error responses
	// do not use the writer, and traffic or heartbeats push the held byte out.
	{"hold-back-last-byte", breakage{holdBack: true}, allBut(
		"handler-error", "handler-error-plain", "headers-before-first-event",
		"client-disconnect", "client-disconnect-idle", "stalled-reader",
		"typed-nil-error", "refused-after-shutdown",
	)},
	// A client that never reads blocks a write forever.
	{"no-write-deadline", breakage{noDeadline: true}, []string{"stalled-reader"}},
	// Danet's bug: a handler error becomes an empty 200 event stream.
	{"ok-on-error", breakage{okOnError: true}, []string{"handler-error", "handler-error-plain", "handler-panic", "typed-nil-error"}},
	{"content-type-charset", breakage{header: [2]string{"Content-Type", "text/event-stream; charset=utf-8"}}, []string{"headers"}},
	{"connection-keep-alive", breakage{header: [2]string{"Connection", "keep-alive"}}, []string{"headers"}},
}

// runBroken is the child's side of TestBrokenAdaptersFail: the whole suite on
// one broken adapter, its failures listed as KnownFailing.
func runBroken(t *testing.T, name string) {
	for _, tc := range brokenAdapters {
		if tc.name == name {
			conformance.Run(t, brokenHarness(tc.b), conformance.KnownFailing(tc.failing...))
			return
		}
	}
	t.Fatalf("no broken adapter named %q", name)
}

// TestBrokenAdaptersFail proves that the suite can fail, and fails where it
// should: each broken adapter must fail exactly its listed scenarios. They
// are listed as KnownFailing, so a listed scenario that passes (the suite
// missed the defect) fails the child run, and so does an unlisted one that
// fails (the suite blames the wrong thing). Failing scenarios wait for their
// deadlines, so each adapter runs in a child process of its own, all at once
// (and leak checks stay meaningful).
func TestBrokenAdaptersFail(t *testing.T) {
	t.Parallel()
	// Started together, rather than as parallel subtests, which -test.parallel
	// would throttle.
	results := make([]chan outcome, len(brokenAdapters))
	for i, tc := range brokenAdapters {
		results[i] = make(chan outcome, 1)
		go func() { results[i] <- startHelper("broken:" + tc.name) }()
	}
	for i, tc := range brokenAdapters {
		o := <-results[i]
		t.Run(tc.name, func(t *testing.T) {
			want := map[string]string{}
			for _, n := range tc.failing {
				want[n] = "SKIP"
			}
			o.check(t, false, want, "known failing (conformance.KnownFailing), failed as expected")
		})
	}
}
