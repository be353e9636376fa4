package childproc

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Request is a command to a child: Operation returns its "op" field.
type Request interface{ Operation() string }

// Reply is a child's answer: Failure returns its "error" field, empty on
// success.
type Reply interface{ Failure() string }

// quit is the request that ends a child: only its "op" matters.
const quit = `{"op":"quit"}` + "\n"

// Child is a running child process that takes requests Q and answers
// replies R.
type Child[Q Request, R Reply] struct {
	name  string
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan []byte // reply lines; closed at the child's EOF
	done  chan struct{}
}

// Spawn starts this executable with args and env=1 in its environment;
// name labels the child in errors. The child dies with this process where
// the system allows it (see [SetPdeathsig]).
func Spawn[Q Request, R Reply](env, name string, args ...string) (*Child[Q, R], error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), env+"=1")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	SetPdeathsig(cmd.SysProcAttr)
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
	c := &Child[Q, R]{name: name, cmd: cmd, in: in, lines: make(chan []byte, 1), done: make(chan struct{})}
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

// Read waits up to timeout for the child's next reply, such as the hello
// it writes before taking requests. A reply with an error is returned with
// that error.
func (c *Child[Q, R]) Read(timeout time.Duration) (R, error) {
	var r R
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
		if msg := r.Failure(); msg != "" {
			return r, fmt.Errorf("%s: %s", c.name, msg)
		}
		return r, nil
	case <-tm.C:
		return r, fmt.Errorf("%s: no answer within %v", c.name, timeout)
	}
}

// Call sends q and waits up to timeout for its reply, as [Child.Read].
func (c *Child[Q, R]) Call(q Q, timeout time.Duration) (R, error) {
	b, _ := json.Marshal(q)
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		var zero R
		return zero, fmt.Errorf("%s: %s: %w", c.name, q.Operation(), err)
	}
	r, err := c.Read(timeout)
	if err != nil {
		return r, fmt.Errorf("%s: %w", q.Operation(), err)
	}
	return r, nil
}

// Kill SIGKILLs the child and waits for it.
func (c *Child[Q, R]) Kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

// Stop asks the child to quit, waiting up to timeout for the answer, and
// kills it if it has not exited within timeout after that. A child that
// has already exited is not asked.
func (c *Child[Q, R]) Stop(timeout time.Duration) {
	select {
	case <-c.done:
		_ = c.in.Close()
		return
	default:
	}
	if _, err := io.WriteString(c.in, quit); err == nil {
		_, _ = c.Read(timeout)
	}
	_ = c.in.Close()
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	select {
	case <-c.done:
	case <-tm.C:
		c.Kill()
	}
}
