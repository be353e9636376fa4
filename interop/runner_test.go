package interop

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The clients, in the matrix's order.
const (
	npmEventSource = "eventsource" // npm eventsource under Node.js
	undiciES       = "undici"      // undici's EventSource under Node.js
	chromiumES     = "chromium"    // headless Chromium's EventSource
)

var clients = []string{npmEventSource, undiciES, chromiumES}

// chromiumPages is how many Chromium pages run EventSources at once (one
// browser; the runs mostly wait, on reconnection delays and idle streams);
// limits bounds every client's concurrent requests to what its
// runner serves at once.
const chromiumPages = 8

var limits = map[string]chan struct{}{
	npmEventSource: make(chan struct{}, 8),
	undiciES:       make(chan struct{}, 8),
	chromiumES:     make(chan struct{}, chromiumPages),
}

// nodeDir is where runner.mjs and its node_modules are.
const nodeDir = "node"

// installHint ends every message about a missing prerequisite.
const installHint = "run the README's test command (`scripts/with-services` installs Chromium with apt-get and runs `npm ci --prefix interop/node`), " +
	"or install them by hand the same way"

// clientRequest is one request to the runner (see node/runner.mjs).
type clientRequest struct {
	ID          int               `json:"id"`
	Client      string            `json:"client"`
	URL         string            `json:"url"`
	Page        string            `json:"page,omitempty"`
	Events      []string          `json:"events"`
	Count       int               `json:"count"`
	WaitEnd     bool              `json:"waitEnd,omitempty"`
	UntilClosed bool              `json:"untilClosed,omitempty"`
	LingerMs    int               `json:"lingerMs,omitempty"`
	TimeoutMs   int               `json:"timeoutMs"`
	Headers     map[string]string `json:"headers,omitempty"`
	CA          string            `json:"ca,omitempty"` // an h2 server's certificate, PEM
}

// seenEvent is an event a client dispatched, t ms after it was created.
type seenEvent struct {
	Type        string  `json:"type"`
	Data        string  `json:"data"`
	LastEventID string  `json:"lastEventId"`
	T           float64 `json:"t"`
}

// seenError is an error event: readyState 0 (CONNECTING: the client will
// reconnect) or 2 (CLOSED: it failed for good). Code and Message are what
// npm eventsource adds (the status of a failed response).
type seenError struct {
	T          float64 `json:"t"`
	ReadyState int     `json:"readyState"`
	Code       int     `json:"code"`
	Message    string  `json:"message"`
}

// clientResult is what the runner reports for one request.
type clientResult struct {
	ID         int         `json:"id"`
	Events     []seenEvent `json:"events"`
	Opens      []float64   `json:"opens"`
	Errors     []seenError `json:"errors"`
	ReadyState int         `json:"readyState"`
	Ended      bool        `json:"ended"`
	TimedOut   bool        `json:"timedOut"`
	Error      string      `json:"error"`
}

// runner is the one Node.js process of a test run.
type runner struct {
	versions map[string]string

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *logBuffer
	exited chan struct{} // closed once the reader saw the end of stdout

	mu      sync.Mutex
	nextID  int
	pending map[int]chan clientResult
	broken  error // set once the process is gone
}

var (
	runnerOnce sync.Once
	theRunner  *runner
	runnerErr  error
)

// getRunner returns the runner, starting it on first use; it fails the test
// when it cannot start.
func getRunner(t testing.TB) *runner {
	t.Helper()
	runnerOnce.Do(func() { theRunner, runnerErr = startRunner() })
	if runnerErr != nil {
		t.Fatalf("interop: %v", runnerErr)
	}
	return theRunner
}

// nodeBinary returns the Node.js that runs the clients: SSEKIT_NODE, or node
// on the PATH.
func nodeBinary() (string, error) {
	if p := os.Getenv("SSEKIT_NODE"); p != "" {
		return p, nil
	}
	p, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("node (Node.js) is not on the PATH: %s", installHint)
	}
	return p, nil
}

// checkPrerequisites reports what the runner needs and is missing.
func checkPrerequisites() error {
	var missing []error
	if _, err := nodeBinary(); err != nil {
		missing = append(missing, err)
	}
	for _, pkg := range []string{"eventsource", "undici", "playwright-core"} {
		if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", pkg, "package.json")); err != nil {
			missing = append(missing, fmt.Errorf("interop/node/node_modules/%s is missing: %s", pkg, installHint))
		}
	}
	chromium := os.Getenv("SSEKIT_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, fmt.Errorf("Chromium is missing (%s): %s", chromium, installHint))
	}
	return errors.Join(missing...)
}

// startTimeout bounds the runner's start, Chromium's launch included.
const startTimeout = 60 * time.Second

func startRunner() (*runner, error) {
	if err := checkPrerequisites(); err != nil {
		return nil, err
	}
	node, _ := nodeBinary()
	cmd := exec.Command(node, "runner.mjs")
	cmd.Dir = nodeDir
	cmd.Env = append(os.Environ(), "SSEKIT_INTEROP_PAGES="+strconv.Itoa(chromiumPages), "NODE_NO_WARNINGS=1",
		"SSEKIT_INTEROP_SPKI="+testCert().spki)
	r := &runner{cmd: cmd, stderr: new(logBuffer), exited: make(chan struct{}), pending: map[int]chan clientResult{}}
	cmd.Stderr = r.stderr
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	r.stdin = stdin
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s runner.mjs: %v", node, err)
	}
	ready := make(chan error, 1)
	go r.read(stdout, ready)
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case err = <-ready:
	case <-timer.C:
		err = fmt.Errorf("not ready within %v", startTimeout)
	}
	if err != nil {
		r.stop()
		return nil, fmt.Errorf("the client runner (node/runner.mjs) did not start: %v\nits stderr: %s", err, r.stderr)
	}
	return r, nil
}

// read reads the runner's output until it ends: the ready line, then
// results, handed to whoever waits for them.
func (r *runner) read(stdout io.Reader, ready chan<- error) {
	defer close(r.exited)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20) // results carry up to 2 MiB of event data, JSON-escaped
	first := true
	for sc.Scan() {
		if first {
			first = false
			var hello struct {
				Ready    bool              `json:"ready"`
				Versions map[string]string `json:"versions"`
				Error    string            `json:"error"`
			}
			if err := json.Unmarshal(sc.Bytes(), &hello); err != nil || !hello.Ready {
				ready <- fmt.Errorf("got %q; want the ready line (%v)", shorten(sc.Text(), 2000), err)
				return
			}
			r.versions = hello.Versions
			ready <- nil
			continue
		}
		var res clientResult
		if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
			r.fail(fmt.Errorf("bad result line %q: %v", shorten(sc.Text(), 500), err))
			return
		}
		r.mu.Lock()
		ch := r.pending[res.ID]
		delete(r.pending, res.ID)
		r.mu.Unlock()
		if ch != nil {
			ch <- res
		}
	}
	err := sc.Err()
	if err == nil {
		err = io.EOF
	}
	if first {
		ready <- fmt.Errorf("no output: %v", err)
	}
	r.fail(fmt.Errorf("the runner's output ended: %v", err))
}

// fail marks the runner broken and releases every waiting request.
func (r *runner) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken == nil {
		r.broken = err
	}
	for id, ch := range r.pending {
		delete(r.pending, id)
		close(ch)
	}
}

// slack is how long past a request's own timeout its result may take.
const slack = 20 * time.Second

// do sends req and waits for its result.
func (r *runner) do(req clientRequest) (clientResult, error) {
	ch := make(chan clientResult, 1)
	r.mu.Lock()
	if r.broken != nil {
		r.mu.Unlock()
		return clientResult{}, fmt.Errorf("runner unusable: %v (stderr: %s)", r.broken, r.stderr)
	}
	r.nextID++
	req.ID = r.nextID
	r.pending[req.ID] = ch
	line, err := json.Marshal(req)
	if err == nil {
		_, err = r.stdin.Write(append(line, '\n'))
	}
	r.mu.Unlock()
	if err != nil {
		r.fail(err)
		return clientResult{}, err
	}
	timer := time.NewTimer(time.Duration(req.TimeoutMs)*time.Millisecond + slack)
	defer timer.Stop()
	select {
	case res, ok := <-ch:
		if !ok {
			return res, fmt.Errorf("runner unusable: %v (stderr: %s)", r.broken, r.stderr)
		}
		if res.Error != "" {
			return res, fmt.Errorf("runner: %s", res.Error)
		}
		return res, nil
	case <-timer.C:
		r.mu.Lock()
		delete(r.pending, req.ID)
		r.mu.Unlock()
		return clientResult{}, fmt.Errorf("runner: no result within %v", time.Duration(req.TimeoutMs)*time.Millisecond+slack)
	}
}

// stopRunner ends the runner, if it started: closing its stdin makes it
// close Chromium and exit; it is killed if it has not within 30s.
func stopRunner() error {
	if theRunner == nil {
		return nil
	}
	return theRunner.stop()
}

func (r *runner) stop() error {
	r.mu.Lock()
	r.stdin.Close()
	r.mu.Unlock()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	var err error
	select {
	case <-r.exited:
	case <-timer.C:
		err = errors.New("the runner did not exit within 30s of its stdin closing: killed")
		r.cmd.Process.Kill()
	}
	// Wait closes the pipes at the latest WaitDelay after the process
	// exited, which ends the reader.
	err = errors.Join(err, r.cmd.Wait())
	<-r.exited
	return err
}

// shorten keeps long text readable in messages.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d bytes)", len(s))
}
