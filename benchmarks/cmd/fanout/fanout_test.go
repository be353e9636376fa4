package main

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

// TestMain runs a role instead of the tests when the test binary is started
// as a child (the server or the clients) by the code under test.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "fanout child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestEveryImplDeliversEveryEvent runs every implementation, each in its own
// server and client processes, with 20 subscribers, 3 spaced events and two
// small bursts, and checks that every subscriber received every event.
func TestEveryImplDeliversEveryEvent(t *testing.T) {
	if c, err := net.DialTimeout("tcp", redisAddr(), 2*time.Second); err != nil {
		t.Fatalf("Redis is not reachable at %s: %v\n"+
			"Start one (redis-server --bind 127.0.0.1 --save ''), or point SSEKIT_REDIS_ADDR at one (host:port).", redisAddr(), err)
	} else {
		c.Close()
	}
	// The race runtime sleeps a second at exit by default; each run
	// stops two children.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	const n = 20
	cfg := config{
		N: n, Events: 3, Interval: 20 * time.Millisecond, Impls: implIDs(), Rate: 2000, Srcs: 1,
		Deliveries: 400, MaxEvents: 40, Runs: 1, Timeout: 2 * time.Minute, Log: t.Logf,
	}
	res := measure(cfg)
	if len(res.Runs) != len(impls) || len(res.Results) != len(impls) {
		t.Fatalf("%d runs and %d results, want %d of each", len(res.Runs), len(res.Results), len(impls))
	}
	for _, r := range res.Runs {
		if r.Error != "" {
			t.Errorf("%s: %s", r.Impl, r.Error)
			continue
		}
		if l := r.Latency; l == nil || !l.Complete || l.Received != n*3 {
			t.Errorf("%s: latency phase %+v, want %d events received", r.Impl, l, n*3)
		}
		if len(r.Throughput) != 2 {
			t.Errorf("%s: %d throughput bursts, want 2 (to %d and to 1)", r.Impl, len(r.Throughput), n)
		}
		for _, b := range r.Throughput {
			if !b.Complete || b.Events != burst(cfg, b.Subscribers) || b.EventsPerS <= 0 {
				t.Errorf("%s: burst %+v incomplete", r.Impl, b)
			}
		}
		switch {
		case r.Impl == "ssekit-nbio":
			// The event loop parks no goroutine per stream (the latency
			// phase above shows every subscriber served).
			if r.GoroutinesPerSub >= 0.5 {
				t.Errorf("%s: %.2f goroutines per subscriber; want none per subscriber", r.Impl, r.GoroutinesPerSub)
			}
		case r.GoroutinesPerSub < 1:
			t.Errorf("%s: %.2f goroutines per subscriber: the subscribers were not all served", r.Impl, r.GoroutinesPerSub)
		}
	}
	if len(res.Targets) != 3 {
		t.Errorf("%d targets checked, want 3 (ssekit, ssekit-redis and ssekit-nbio)", len(res.Targets))
	}
	if l := res.EventLoop; l == nil || !l.Complete {
		t.Errorf("issue 12's target: %+v; want ssekit-nbio and ssekit compared, every event delivered", l)
	}
	if s := table(res); len(s) == 0 {
		t.Error("empty table")
	}
}
