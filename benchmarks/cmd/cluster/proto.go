package main

import "github.com/ssekit/ssekit/benchmarks/internal/childproc"

// The parent talks to its children (server instances and client processes)
// with one JSON request per line on their stdin, each answered by one JSON
// reply line on their stdout; progress goes to stderr (see childproc; the
// same scheme as benchmarks/cmd/fanout).

// request is a command to a child. Each op uses some of the fields.
type request struct {
	Op string `json:"op"`

	// clients: connect
	Addrs     []string `json:"addrs,omitempty"`
	First     int      `json:"first,omitempty"` // global index of the first stream
	N         int      `json:"n,omitempty"`
	Topics    int      `json:"topics,omitempty"`
	Rate      float64  `json:"rate,omitempty"` // connections per second
	Srcs      int      `json:"srcs,omitempty"` // loopback source addresses
	TimeoutMs int64    `json:"timeout_ms,omitempty"`

	// clients: wait (per topic, the last acknowledged sequence number, -1
	// for none)
	Last []int `json:"last,omitempty"`

	// clients: verify (per topic)
	Published []published `json:"published,omitempty"`

	// server: publish (ceiling)
	Pub *pubSpec `json:"pub,omitempty"`
}

// reply answers a request.
type reply struct {
	Error string `json:"error,omitempty"`

	Addr string `json:"addr,omitempty"` // server hello

	Stats *stats `json:"stats,omitempty"`

	Verify *verifyResult `json:"verify,omitempty"` // clients: verify

	Pub *pubResult `json:"pub_result,omitempty"` // server: publish
}

// stats is a child's state.
type stats struct {
	CPUNs      int64 `json:"cpu_ns"` // user + system time so far
	Goroutines int   `json:"goroutines"`
	HeapInuse  int64 `json:"heap_inuse"`
	StackInuse int64 `json:"stack_inuse"`
	Handlers   int   `json:"handlers,omitempty"` // server: streams being served

	// clients
	Streams    int     `json:"streams,omitempty"`
	Open       int     `json:"open,omitempty"`       // streams with a 200 response being read
	Waiting    int     `json:"waiting,omitempty"`    // wait: streams short of the last events
	Reconnects int64   `json:"reconnects,omitempty"` // connections after each stream's first
	Resets     int     `json:"resets,omitempty"`     // streams that got the reset signal
	Dead       int     `json:"dead,omitempty"`       // streams that gave up
	Received   []int64 `json:"received,omitempty"`   // events received per phase (with duplicates)
	LastErr    string  `json:"last_err,omitempty"`
}

// verifyResult is a client process's verification.
type verifyResult struct {
	Tally      [maxPhases]tally      `json:"tally"`
	Hist       [maxPhases]histCounts `json:"hist"`
	Misrouted  int64                 `json:"misrouted"` // events of another topic
	Resets     int                   `json:"resets"`
	Dead       int                   `json:"dead"`
	Reconnects int64                 `json:"reconnects"`
}

// childEnv marks a child process, so that a test binary runs the role
// instead of the tests.
const childEnv = "SSEKIT_CLUSTER_CHILD"

// maxRequest bounds a request line: verify carries every publish.
const maxRequest = 256 << 20

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
