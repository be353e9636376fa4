package fiberv3sse_test

import (
	"testing"

	"github.com/ssekit/ssekit/conformance"
)

// TestConformance runs every scenario, ignoring only fasthttp's process-wide
// goroutines (see TestMain) in the leak checks.
func TestConformance(t *testing.T) {
	conformance.Run(t, harness, conformance.LeakOptions(fasthttpGlobals...))
}
