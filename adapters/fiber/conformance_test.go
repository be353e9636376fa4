package fibersse_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/ssekit/ssekit/conformance"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, harness, conformance.LeakOptions(
		// The same global fasthttp goroutines as in TestMain.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp/stackless.funcWorker"),
	))
}
