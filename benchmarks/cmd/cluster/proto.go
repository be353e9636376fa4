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

// The parent talks to its children (server instances and client processes)
// with one JSON request per line on their stdin, each answered by one JSON
// reply line on their stdout; progress goes to stderr. (The same scheme as
// benchmarks/cmd/fanout.)

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
			return r, fmt.Errorf("%s: bad reply %.200q: %w", c.name, line, err)
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

// kill SIGKILLs the child and waits for it.
func (c *child) kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

// stop asks the child to quit and kills it if it has not exited in time.
func (c *child) stop(timeout time.Duration) {
	select {
	case <-c.done:
		return
	default:
	}
	_, _ = c.call(request{Op: "quit"}, timeout)
	_ = c.in.Close()
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	select {
	case <-c.done:
	case <-tm.C:
		c.kill()
	}
}

// serveCommands reads requests from in and writes the replies of handle to
// out, until "quit" (answered) or the end of in.
func serveCommands(in io.Reader, out io.Writer, handle func(request) reply) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 256<<20) // verify carries every publish
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
