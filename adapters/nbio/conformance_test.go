package nbiosse_test

import (
	"testing"

	"github.com/ssekit/ssekit/conformance"
)

// TestConformance runs the whole conformance suite against the nbio adapter
// over HTTP/1.1. It must not call t.Parallel: the suite checks for leaked
// goroutines.
func TestConformance(t *testing.T) {
	conformance.Run(t, harness)
}
