package conformance

import (
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is the testing.TB a known-failing scenario runs against: it
// records failures and skips instead of reporting them, so [KnownFailing]
// can turn the outcome around. FailNow and SkipNow end the calling goroutine
// with runtime.Goexit, as testing.T does, so the scenario body runs on a
// goroutine of its own ([recorder.do]); cleanups are kept and run by the
// recorder. Everything else (Name, Log, Context, TempDir, ...) goes to the
// real subtest.
type recorder struct {
	testing.TB

	mu       sync.Mutex
	failed   bool
	skipped  bool
	msgs     []string
	cleanups []func()
}

// recorderTimeout bounds a known-failing scenario that hangs.
const recorderTimeout = 2 * time.Minute

func newRecorder(t testing.TB) *recorder { return &recorder{TB: t} }

// note records msg, prefixed with the file and line that reported it, as
// testing.T does.
func (r *recorder) note(msg string) {
	msg = caller() + strings.TrimSuffix(msg, "\n")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msg)
}

// caller returns "file.go:line: " for the first caller outside this file.
func caller() string {
	var pcs [16]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs[:])])
	for {
		f, more := frames.Next()
		if !strings.HasSuffix(f.File, "/recorder.go") {
			return fmt.Sprintf("%s:%d: ", filepath.Base(f.File), f.Line)
		}
		if !more {
			return ""
		}
	}
}

func (r *recorder) Helper() {}

func (r *recorder) Fail() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) FailNow() {
	r.Fail()
	runtime.Goexit()
}

func (r *recorder) Error(args ...any) {
	r.note(fmt.Sprintln(args...))
	r.Fail()
}

func (r *recorder) Errorf(format string, args ...any) {
	r.note(fmt.Sprintf(format, args...))
	r.Fail()
}

func (r *recorder) Fatal(args ...any) {
	r.note(fmt.Sprintln(args...))
	r.FailNow()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.note(fmt.Sprintf(format, args...))
	r.FailNow()
}

func (r *recorder) SkipNow() {
	r.mu.Lock()
	r.skipped = true
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Skip(args ...any) {
	r.note("skip: " + fmt.Sprintln(args...))
	r.SkipNow()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.note("skip: " + fmt.Sprintf(format, args...))
	r.SkipNow()
}

func (r *recorder) Skipped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// do runs f on a goroutine of its own, so that FailNow and SkipNow
// (runtime.Goexit) end f only, and records a panic as a failure.
func (r *recorder) do(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				r.Errorf("panic: %v\n%s", p, debug.Stack())
			}
		}()
		f()
	}()
	timer := time.NewTimer(recorderTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		r.Errorf("conformance: the scenario did not return within %v", recorderTimeout)
	}
}

// runCleanups runs the registered cleanups, last first, each as testing.T
// would: a failing one does not stop the others.
func (r *recorder) runCleanups() {
	for {
		r.mu.Lock()
		n := len(r.cleanups)
		if n == 0 {
			r.mu.Unlock()
			return
		}
		f := r.cleanups[n-1]
		r.cleanups = r.cleanups[:n-1]
		r.mu.Unlock()
		r.do(f)
	}
}

// report returns the recorded messages, indented and shortened.
func (r *recorder) report() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, m := range r.msgs {
		b.WriteString(indent(shorten(m, 2000), "    "))
		b.WriteByte('\n')
	}
	return b.String()
}
