package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/ssekit/ssekit/examples/danet"
	"github.com/ssekit/ssekit/examples/danet/danettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDanet runs the example's tests on Echo.
func TestDanet(t *testing.T) { danettest.Run(t, danet.Framework{Name: "Echo", Serve: serve}) }
