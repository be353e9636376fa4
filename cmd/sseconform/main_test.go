package main

import (
	"bytes"
	"context"
	"go/parser"
	"go/token"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout bounds every wait of these tests.
const testTimeout = 30 * time.Second

// runCmd runs the command with args and returns its exit status and output.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// notifyWriter is a goroutine-safe buffer that signals once its content
// matches re, sending the first submatch.
type notifyWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	re    *regexp.Regexp
	match chan string
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.re != nil {
		if m := w.re.FindStringSubmatch(w.buf.String()); m != nil {
			w.match <- m[1]
			w.re = nil
		}
	}
	return len(p), nil
}

func (w *notifyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startServe runs "sseconform serve" on a free loopback port and returns
// its base URL. The test's cleanup interrupts it and checks it exits 0.
func startServe(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &notifyWriter{re: regexp.MustCompile(`protocol at (http://\S+)`), match: make(chan string, 1)}
	var stderr notifyWriter
	exit := make(chan int, 1)
	go func() { exit <- runContext(ctx, []string{"serve", "-addr", "127.0.0.1:0"}, stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		timer := time.NewTimer(testTimeout)
		defer timer.Stop()
		select {
		case code := <-exit:
			if code != exitOK {
				t.Errorf("serve exited %d; want 0 (stderr %q)", code, stderr.String())
			}
		case <-timer.C:
			t.Errorf("serve did not stop within %v of the interrupt", testTimeout)
		}
	})
	timer := time.NewTimer(testTimeout)
	defer timer.Stop()
	select {
	case base := <-stdout.match:
		return base
	case code := <-exit:
		t.Fatalf("serve exited %d before serving (stderr %q)", code, stderr.String())
	case <-timer.C:
		t.Fatalf("serve did not print its address within %v (stdout %q)", testTimeout, stdout.String())
	}
	panic("unreachable")
}

// TestHelp: -h (of any mode) and "help" print the usage, exit 0.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-help"}, {"help"}, {"check", "-h"}, {"serve", "-h"}, {"-protocol", "-h"}} {
		code, stdout, stderr := runCmd(t, args...)
		if code != exitOK || stderr != "" {
			t.Errorf("%q: exit %d, stderr %q; want 0 and nothing", args, code, stderr)
		}
		for _, want := range []string{"sseconform [flags] BASE_URL", "sseconform check", "sseconform serve", "-protocol", "Exit status", "N/A", "WARN"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%q: the usage lacks %q", args, want)
			}
		}
	}
}

// TestUsageErrors: a bad command line exits 2 with a message on stderr.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-nope"},
		{"not a url"},
		{"ftp://127.0.0.1/"},
		{"http://"},
		{"http://127.0.0.1:1", "http://127.0.0.1:2"},
		{"-run", "(", "http://127.0.0.1:1"},
		{"-run", "no-such-scenario", "http://127.0.0.1:1"},
		{"-timeout", "0", "http://127.0.0.1:1"},
		{"-parallel", "0", "http://127.0.0.1:1"},
		{"-protocol", "extra"},
		{"check"},
		{"check", "http://127.0.0.1:1", "http://127.0.0.1:2"},
		{"check", "-idle", "0s", "http://127.0.0.1:1"},
		{"check", "-H", "no colon", "http://127.0.0.1:1"},
		{"check", "-H", "bad name: x", "http://127.0.0.1:1"},
		{"check", "-bogus", "http://127.0.0.1:1"},
		{"serve", "extra"},
		{"serve", "-addr"},
	} {
		code, stdout, stderr := runCmd(t, args...)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, "sseconform -h") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2, nothing, a hint", args, code, stdout, stderr)
		}
	}
}

// TestDocMatchesUsage: the package documentation is the usage text.
func TestDocMatchesUsage(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "doc.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.ToUpper(usage[:1]) + usage[1:]
	if got := f.Doc.Text(); got != want {
		t.Errorf("doc.go's comment differs from usage (main.go); regenerate it from usage.\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// TestServeBadAddress: serve exits 1 when it cannot listen.
func TestServeBadAddress(t *testing.T) {
	code, _, stderr := runCmd(t, "serve", "-addr", "127.0.0.1:-1")
	if code != exitFail || stderr == "" {
		t.Errorf("exit %d, stderr %q; want 1 and the error", code, stderr)
	}
}
