package main

import "github.com/ssekit/ssekit/benchmarks/internal/childproc"

// The parent talks to its two children (the server and the clients) with one
// JSON request per line on their stdin, each answered by one JSON reply line
// on their stdout; progress goes to stderr (see childproc).

// request is a command to a child. Each op uses some of the fields.
type request struct {
	Op string `json:"op"`

	// clients: connect
	Addr string  `json:"addr,omitempty"`
	Path string  `json:"path,omitempty"`
	N    int     `json:"n,omitempty"`
	Rate float64 `json:"rate,omitempty"` // connections per second
	Srcs int     `json:"srcs,omitempty"` // loopback source addresses

	// server: publish; clients: phase, wait
	Phase      int   `json:"phase,omitempty"`
	Seq        int   `json:"seq,omitempty"`   // publish: the first sequence number
	Count      int   `json:"count,omitempty"` // publish: events to publish
	IntervalNs int64 `json:"interval_ns,omitempty"`
	Last       int   `json:"last,omitempty"` // wait: the sequence number every stream must reach
	TimeoutMs  int64 `json:"timeout_ms,omitempty"`

	// clients: close
	Keep int `json:"keep,omitempty"`

	// server: profile
	On bool `json:"on,omitempty"`
}

// reply answers a request.
type reply struct {
	Error string `json:"error,omitempty"`

	// server hello
	Addr string `json:"addr,omitempty"`
	Path string `json:"path,omitempty"`

	Stats *stats `json:"stats,omitempty"` // server: stats
	// server: count
	Handlers int `json:"handlers,omitempty"`

	// server: publish
	StartNs int64 `json:"start_ns,omitempty"`
	EndNs   int64 `json:"end_ns,omitempty"`
	LagNs   int64 `json:"lag_ns,omitempty"` // how far the publisher fell behind its schedule, at most

	// clients: connect
	Dialed int `json:"dialed,omitempty"`

	Wait *waitResult `json:"wait,omitempty"` // clients: wait
}

// stats is the server's state after a full collection.
type stats struct {
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	HeapAlloc  uint64 `json:"heap_alloc"`
	Goroutines int    `json:"goroutines"`
	Handlers   int    `json:"handlers"` // stream handlers running
	CPUNs      int64  `json:"cpu_ns"`   // the process's user and system time so far
}

// waitResult is what the clients saw of one phase.
type waitResult struct {
	Conns    int    `json:"conns"`    // streams open (not closed on purpose)
	Complete int    `json:"complete"` // streams that received the last event
	Dead     int    `json:"dead"`     // streams that ended on their own
	Received int64  `json:"received"` // events of the phase received, all streams
	LastNs   int64  `json:"last_ns"`  // wall clock of the latest receipt
	Lats     int    `json:"lats"`     // latencies recorded
	P50Ns    int64  `json:"p50_ns"`
	P99Ns    int64  `json:"p99_ns"`
	MaxNs    int64  `json:"max_ns"`
	Err      string `json:"err,omitempty"` // a stream's error, if any ended
	CPUNs    int64  `json:"cpu_ns"`        // the client process's user and system time so far
}

// childEnv marks a child process, so that a test binary runs the role
// instead of the tests.
const childEnv = "SSEKIT_FANOUT_CHILD"

// child is a running child process.
type child = childproc.Child[request, reply]

// spawn starts this executable with args as a child.
func spawn(name string, args ...string) (*child, error) {
	return childproc.Spawn[request, reply](childEnv, name, args...)
}

// Operation is q's op, for childproc.
func (q request) Operation() string { return q.Op }

// Failure is r's error, for childproc.
func (r reply) Failure() string { return r.Error }
