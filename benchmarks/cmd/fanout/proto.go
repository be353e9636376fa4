package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// The parent talks to its two children (the server and the clients) with one
// JSON request per line on their stdin, each answered by one JSON reply line
// on their stdout; progress goes to stderr.

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
type child struct {
	name  string
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan []byte // reply lines; closed at the child's EOF
	done  chan struct{}
}

// spawn starts this executable with args.
func spawn(name string, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	setPdeathsig(cmd.SysProcAttr)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{name: name, cmd: cmd, in: in, lines: make(chan []byte, 1), done: make(chan struct{})}
	go func() {
		defer close(c.lines)
		br := bufio.NewReaderSize(out, 64<<10)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				c.lines <- line
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// read waits for the next reply.
func (c *child) read(timeout time.Duration) (reply, error) {
	var r reply
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	select {
	case line, ok := <-c.lines:
		if !ok {
			return r, fmt.Errorf("%s: exited", c.name)
		}
		if err := json.Unmarshal(line, &r); err != nil {
			return r, fmt.Errorf("%s: bad reply %q: %w", c.name, line, err)
		}
		if r.Error != "" {
			return r, fmt.Errorf("%s: %s", c.name, r.Error)
		}
		return r, nil
	case <-tm.C:
		return r, fmt.Errorf("%s: no answer within %v", c.name, timeout)
	}
}

// call sends q and waits for its reply.
func (c *child) call(q request, timeout time.Duration) (reply, error) {
	b, _ := json.Marshal(q)
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		return reply{}, fmt.Errorf("%s: %s: %w", c.name, q.Op, err)
	}
	r, err := c.read(timeout)
	if err != nil {
		return r, fmt.Errorf("%s: %w", q.Op, err)
	}
	return r, nil
}

// stop asks the child to quit and kills it if it has not exited in time.
func (c *child) stop(timeout time.Duration) {
	_, _ = c.call(request{Op: "quit"}, timeout)
	_ = c.in.Close()
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	select {
	case <-c.done:
	case <-tm.C:
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// serveCommands reads requests from in and writes the replies of handle to
// out, until "quit" (answered, then handle's quit runs) or the end of in.
func serveCommands(in io.Reader, out io.Writer, handle func(request) reply) error {
	sc := bufio.NewScanner(in)
	enc := json.NewEncoder(out)
	for sc.Scan() {
		var q request
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			if err := enc.Encode(reply{Error: "bad request: " + err.Error()}); err != nil {
				return err
			}
			continue
		}
		r := handle(q)
		if err := enc.Encode(r); err != nil {
			return err
		}
		if q.Op == "quit" {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("stdin closed")
}

// raiseNoFile lifts the open-file limit to its hard maximum and returns it.
func raiseNoFile() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	return l.Cur
}

// cpuTime returns the process's user and system CPU time so far.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
