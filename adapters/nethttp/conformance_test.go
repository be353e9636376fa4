package nethttpsse_test

import (
	"testing"

	"github.com/ssekit/ssekit/conformance"
)

// TestConformance runs the whole conformance suite against the net/http
// adapter, over HTTP/1.1, h2 and h2c (the harness is a HandlerHarness). It
// must not call t.Parallel: the suite checks for leaked goroutines.
func TestConformance(t *testing.T) {
	conformance.Run(t, harness)
}
