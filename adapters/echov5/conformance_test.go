package echov5sse_test

import (
	"testing"

	"github.com/ssekit/ssekit/conformance"
)

// TestConformance runs every scenario over HTTP/1.1, h2 and h2c: Echo v5
// needs no Skip, KnownFailing or LeakOptions.
func TestConformance(t *testing.T) { conformance.Run(t, harness) }
