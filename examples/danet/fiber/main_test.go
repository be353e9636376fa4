package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/ssekit/ssekit/examples/danet"
	"github.com/ssekit/ssekit/examples/danet/danettest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp's process-wide goroutines, started once and never stopped:
		// the Date header refresher and the compression workers.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp/stackless.funcWorker"),
		// The idle-worker cleaner of a stopped Fiber server sleeps out
		// fasthttp's MaxIdleWorkerDuration (10s by default, which the example
		// keeps) before it sees the stop and exits.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

// TestDanet runs the example's tests on Fiber.
func TestDanet(t *testing.T) { danettest.Run(t, danet.Framework{Name: "Fiber", Serve: serve}) }
