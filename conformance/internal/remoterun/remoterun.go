// Package remoterun lets package conformance/remote run a scenario's check
// outside any test, against a server at a base URL, with package
// conformance's Env and failure recorder, without conformance exporting them
// to adapter authors. Package conformance sets Run in its init.
package remoterun

import (
	"context"
	"time"
)

// Result is what one check recorded.
type Result struct {
	// Messages are the failure messages, in order, without file and line.
	Messages []string
	// Failed and Skipped say whether the check failed or skipped itself.
	Failed, Skipped bool
}

// Run runs check, a func(testing.TB, *conformance.Env), with an Env whose
// every Serve returns base, whose context ends with ctx and whose requests
// are bounded by timeout; name is what the check's testing.TB reports as its
// Name. It returns once check and its cleanups have returned.
var Run func(ctx context.Context, base, name string, timeout time.Duration, check any) Result
