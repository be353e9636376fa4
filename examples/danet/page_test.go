package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ssekit/ssekit/core"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp's process-wide goroutines, started once and never stopped:
		// the Date header refresher and the compression workers.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp/stackless.funcWorker"),
		// The idle-worker cleaner of a stopped Fiber server sleeps out
		// fasthttp's MaxIdleWorkerDuration (10s by default, which the example
		// keeps) before it sees the stop and exits.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

// nodeDir holds the browser driver shared with the interop tests.
var nodeDir = filepath.Join("..", "..", "interop", "node")

const installHint = "run the README's test command (`scripts/with-services` installs Chromium with apt-get and runs `npm ci --prefix interop/node`)"

// browserDriver returns the node binary and the screenshot script, failing
// the test when something they need is missing.
func browserDriver(t *testing.T) (node, script string) {
	t.Helper()
	node = os.Getenv("SSEKIT_NODE")
	if node == "" {
		var err error
		if node, err = exec.LookPath("node"); err != nil {
			t.Fatalf("node (Node.js) is not on the PATH: %s", installHint)
		}
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("interop/node/node_modules/playwright-core is missing: %s", installHint)
	}
	chromium := os.Getenv("SSEKIT_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is missing (%s): %s", chromium, installHint)
	}
	script, err := filepath.Abs(filepath.Join(nodeDir, "screenshot.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	return node, script
}

// shown is what screenshot.mjs reports of a page.
type shown struct {
	Title         string                `json:"title"`
	Text          string                `json:"text"`
	IDs           map[string]string     `json:"ids"`
	Tables        map[string][][]string `json:"tables"`
	ConsoleErrors []string              `json:"consoleErrors"`
	WaitError     string                `json:"waitError"`
}

// TestPage serves the example on each framework, opens its page in headless
// Chromium, waits for the stream to end, and checks what a person sees: the
// framework's name, four hello rows and a close row, the closed state and the
// counts. The screenshots are kept under SSEKIT_ARTIFACTS (or the test's
// temporary directory); each one's path is logged.
func TestPage(t *testing.T) {
	node, script := browserDriver(t)
	dir := os.Getenv("SSEKIT_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	names := map[string]string{"nethttp": "net/http", "gin": "Gin", "echo": "Echo", "fiber": "Fiber"}
	if len(names) != len(frameworks) {
		t.Fatalf("the test knows %d frameworks; the example serves %d", len(names), len(frameworks))
	}
	for _, fw := range []string{"nethttp", "gin", "echo", "fiber"} {
		t.Run(fw, func(t *testing.T) {
			base := serveExample(t, fw)
			png := filepath.Join(dir, "danet-"+fw+".png")
			got := openPage(t, node, script, base+"/", png, `document.body.dataset.state === "closed"`)
			t.Logf("screenshot: %s", png)
			checkPage(t, got, names[fw])
		})
	}
}

// serveExample starts the example on fw on a loopback port, stopped (as main
// does on a signal) when the test ends.
func serveExample(t *testing.T, fw string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var streams core.Group
	stop := frameworks[fw](ln, &streams)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := errors.Join(streams.Shutdown(ctx), stop(ctx)); err != nil {
			t.Errorf("stopping the %s server: %v", fw, err)
		}
	})
	return "http://" + ln.Addr().String()
}

// openPage runs screenshot.mjs on url and returns what it saw.
func openPage(t *testing.T, node, script, url, png, wait string) shown {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, url, png, wait, "15000")
	cmd.Dir = nodeDir
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var got shown
	if jerr := json.Unmarshal(out, &got); jerr != nil {
		t.Fatalf("screenshot.mjs: %v (%v)\nstdout: %s\nstderr: %s", err, jerr, out, stderr.String())
	}
	if err != nil || got.WaitError != "" {
		t.Fatalf("screenshot.mjs: %v: %s\nthe page showed:\n%s\nstderr: %s", err, got.WaitError, got.Text, stderr.String())
	}
	return got
}

// checkPage checks what the page shows once the stream has ended.
func checkPage(t *testing.T, got shown, framework string) {
	t.Helper()
	for id, want := range map[string]string{
		"framework":   framework,
		"state":       "closed",
		"count":       "5",
		"connections": "1",
		"reconnects":  "0",
		"lastid":      "4",
	} {
		if g := strings.TrimSpace(got.IDs[id]); g != want {
			t.Errorf("#%s shows %q; want %q", id, g, want)
		}
	}
	if !strings.Contains(got.Text, "Server-Sent Events served by "+framework) {
		t.Errorf("the page does not say which framework serves it (%q); it shows:\n%s", framework, got.Text)
	}
	var rows []string
	for _, r := range got.Tables["events"] {
		if len(r) != 5 {
			t.Errorf("row %q: got %d cells; want 5", r, len(r))
			continue
		}
		rows = append(rows, fmt.Sprintf("%s %s %s %s", r[0], r[1], r[2], r[3])) // #, event, id, data
	}
	want := []string{"1 hello 0 world", "2 hello 1 world", "3 hello 2 world", "4 hello 3 world", "5 close 4 close"}
	if !slices.Equal(rows, want) {
		t.Errorf("event rows: got %q; want %q", rows, want)
	}
	if len(got.ConsoleErrors) > 0 {
		t.Errorf("the page logged errors: %q", got.ConsoleErrors)
	}
}
