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

// TestBrokenAdaptersFail proves that the suite can fail, and fails where it
// should: each broken adapter must fail exactly the listed scenarios. They
// are listed as KnownFailing, so a listed scenario that passes (the suite
// missed the defect) fails this test, and so does an unlisted one that fails
// (the suite blames the wrong thing). Failing scenarios wait for their
// deadlines, so the adapters run in parallel, without leak checks (which
// cannot tell parallel runs apart; they are tested on their own).
func TestBrokenAdaptersFail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		b       breakage
		failing []string
	}{
		// Without flushes, the server's buffer decides when bytes leave:
		// whatever waits for one event (or for the headers) fails, and a
		// short response gets a Content-Length.
		{"no-flush", breakage{noFlush: true}, []string{
			"heartbeat", "flush-per-event", "shutdown", "headers", "headers-before-first-event",
			"client-disconnect-idle", "producer-after-disconnect",
		}},
		// The final blank line of a response never arrives, so its last event
		// is discarded; each event arrives only with the next write. Error
		// responses do not use the writer, and traffic or heartbeats push the
		// held byte out.
		{"hold-back-last-byte", breakage{holdBack: true}, allBut(
			"handler-error", "handler-error-plain", "headers-before-first-event",
			"client-disconnect", "client-disconnect-idle", "stalled-reader",
		)},
		// A client that never reads blocks a write forever.
		{"no-write-deadline", breakage{noDeadline: true}, []string{"stalled-reader"}},
		// Danet's bug: a handler error becomes an empty 200 event stream.
		{"ok-on-error", breakage{okOnError: true}, []string{"handler-error", "handler-error-plain", "handler-panic"}},
		{"content-type-charset", breakage{header: [2]string{"Content-Type", "text/event-stream; charset=utf-8"}}, []string{"headers"}},
		{"connection-keep-alive", breakage{header: [2]string{"Connection", "keep-alive"}}, []string{"headers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conformance.Run(t, brokenHarness(tc.b), conformance.KnownFailing(tc.failing...), conformance.NoLeakCheck())
		})
	}
}
