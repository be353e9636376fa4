package nethttpsse_test

import (
	"testing"

	"github.com/ssekit/ssekit/conformance"
)

// TestConformance runs the whole conformance suite against the net/http
// adapter. It must not call t.Parallel: the suite checks for leaked
// goroutines.
func TestConformance(t *testing.T) {
	conformance.Run(t, harness)
}
