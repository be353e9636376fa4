// Package danettest holds the tests of the Danet example that every
// framework runs: each framework's module calls Run from its own test.
package danettest

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

	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/examples/danet"
)

// nodeDir returns the directory of the browser driver shared with the
// interop tests: interop/node, in the first directory above the test's
// that has one.
func nodeDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		nd := filepath.Join(dir, "interop", "node")
		if _, err := os.Stat(filepath.Join(nd, "screenshot.mjs")); err == nil {
			return nd
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no interop/node/screenshot.mjs above the test's directory: the page test runs in the ssekit repository; %s", installHint)
		}
		dir = parent
	}
}

const installHint = "run the README's test command (`scripts/with-services` installs Chromium with apt-get and runs `npm ci --prefix interop/node`)"

// browserDriver returns the node binary and the screenshot script, failing
// the test when something they need is missing.
func browserDriver(t *testing.T) (node, script, dir string) {
	t.Helper()
	dir = nodeDir(t)
	node = os.Getenv("SSEKIT_NODE")
	if node == "" {
		var err error
		if node, err = exec.LookPath("node"); err != nil {
			t.Fatalf("node (Node.js) is not on the PATH: %s", installHint)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("interop/node/node_modules/playwright-core is missing: %s", installHint)
	}
	chromium := os.Getenv("SSEKIT_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is missing (%s): %s", chromium, installHint)
	}
	script, err := filepath.Abs(filepath.Join(dir, "screenshot.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	return node, script, dir
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

// Run runs every test of the example on fw, as subtests.
func Run(t *testing.T, fw danet.Framework) {
	t.Run("Page", func(t *testing.T) { testPage(t, fw) })
	t.Run("SlowHeaders", func(t *testing.T) { testSlowHeaders(t, fw) })
	t.Run("IdleKeepAlive", func(t *testing.T) { testIdleKeepAlive(t, fw) })
	t.Run("SlowBody", func(t *testing.T) { testSlowBody(t, fw) })
	t.Run("StreamOutlivesTimeouts", func(t *testing.T) { testStreamOutlivesTimeouts(t, fw) })
}

// testPage serves the example on fw, opens its page in headless Chromium,
// waits for the stream to end, and checks what a person sees: the
// framework's name, four hello rows and a close row, the closed state and
// the counts. The screenshot is kept under SSEKIT_ARTIFACTS (or the test's
// temporary directory) as danet-<name>.png; its path is logged.
func testPage(t *testing.T, fw danet.Framework) {
	node, script, nodeDir := browserDriver(t)
	dir := os.Getenv("SSEKIT_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	base := serveExample(t, fw)
	png := filepath.Join(dir, "danet-"+strings.ToLower(strings.ReplaceAll(fw.Name, "/", ""))+".png")
	got := openPage(t, node, script, nodeDir, base+"/", png, `document.body.dataset.state === "closed"`)
	t.Logf("screenshot: %s", png)
	checkPage(t, got, fw.Name)
}

// serveExample starts the example on fw on a loopback port, stopped (as main
// does on a signal) when the test ends.
func serveExample(t *testing.T, fw danet.Framework) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var streams core.Group
	stop := fw.Serve(ln, &streams)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := errors.Join(streams.Shutdown(ctx), stop(ctx)); err != nil {
			t.Errorf("stopping the %s server: %v", fw.Name, err)
		}
	})
	return "http://" + ln.Addr().String()
}

// openPage runs screenshot.mjs on url and returns what it saw.
func openPage(t *testing.T, node, script, nodeDir, url, png, wait string) shown {
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
