package echosse_test

import (
	"testing"

	"github.com/ssekit/ssekit/conformance"
)

func TestConformance(t *testing.T) { conformance.Run(t, harness) }
