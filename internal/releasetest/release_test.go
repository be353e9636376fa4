// Package releasetest proves, from a user's side, that a release made by
// scripts/release can be installed with nothing but `go get`.
//
// TestRelease clones the repository this test lives in (`git clone` of HEAD:
// only committed work is tested, never the working tree's uncommitted
// changes), runs `bash scripts/release` in the clone, and then, for every
// adapter (net/http, Gin, Echo v4 and v5, Fiber v2 and v3) and for the Redis
// broker, builds a brand-new consumer module outside the workspace that gets
// the module with `go get <module>@<version>` only, served from the clone
// through git's url.<clone>.insteadOf, and runs a small program that streams
// one event through it. It also checks what the script refuses and that a
// failed release leaves no tag behind.
//
// It needs git, bash, the network for modules missing from the local module
// cache and for the checksum database (sum.golang.org, through the proxy),
// and a Redis server at SSEKIT_REDIS_ADDR (default 127.0.0.1:6379), which
// scripts/with-services starts.
package releasetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const project = "github.com/ssekit/ssekit"

// frameworks are the modules a consumer must not download unless it uses
// them: every framework and server client any module of the project needs.
var frameworks = []string{
	"github.com/gin-gonic/gin",
	"github.com/labstack/echo/v4",
	"github.com/labstack/echo/v5",
	"github.com/gofiber/fiber/v2",
	"github.com/gofiber/fiber/v3",
	"github.com/valyala/fasthttp",
	"github.com/redis/go-redis/v9",
	"github.com/lesismal/nbio",
}

// products are the modules the release tags, as "<dir>/" tag prefixes.
var products = []string{"", "adapters/echo/", "adapters/echov5/", "adapters/fiber/", "adapters/fiberv3/", "adapters/gin/", "adapters/nbio/", "broker/redis/", "metrics/otelsse/", "metrics/promsse/"}

type consumer struct {
	name   string
	module string   // the module go get fetches (its tag prefix is module minus project)
	pkg    string   // the package main.go imports from it
	allow  []string // modules of frameworks this consumer may have
	main   string   // main.go, beside client.go
	want   string   // what the program prints
}

var consumers = []consumer{
	{
		name: "nethttp", module: project, pkg: project + "/adapters/nethttp",
		want: "id: 1|event: greeting|data: hello from nethttp",
		main: `package main

import (
	"fmt"
	"net/http"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

func main() {
	mux := http.NewServeMux()
	mux.Handle("GET /sse", nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return hello("nethttp")
	}))
	ln := listen()
	go http.Serve(ln, mux)
	fmt.Println(fetchOne("http://"+ln.Addr().String()+"/sse", nil))
}
`,
	},
	{
		name: "gin", module: project + "/adapters/gin", pkg: project + "/adapters/gin",
		allow: []string{"github.com/gin-gonic/gin"},
		want:  "id: 1|event: greeting|data: hello from gin",
		main: `package main

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	ginsse "github.com/ssekit/ssekit/adapters/gin"
	"github.com/ssekit/ssekit/core"
)

func main() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/sse", ginsse.Handle(func(c *gin.Context) (core.EventTarget, error) {
		return hello("gin")
	}))
	ln := listen()
	go http.Serve(ln, r)
	fmt.Println(fetchOne("http://"+ln.Addr().String()+"/sse", nil))
}
`,
	},
	{
		name: "echo", module: project + "/adapters/echo", pkg: project + "/adapters/echo",
		allow: []string{"github.com/labstack/echo/v4"},
		want:  "id: 1|event: greeting|data: hello from echo",
		main: `package main

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	echosse "github.com/ssekit/ssekit/adapters/echo"
	"github.com/ssekit/ssekit/core"
)

func main() {
	e := echo.New()
	e.GET("/sse", echosse.Handle(func(c echo.Context) (core.EventTarget, error) {
		return hello("echo")
	}))
	ln := listen()
	go http.Serve(ln, e)
	fmt.Println(fetchOne("http://"+ln.Addr().String()+"/sse", nil))
}
`,
	},
	{
		name: "echov5", module: project + "/adapters/echov5", pkg: project + "/adapters/echov5",
		allow: []string{"github.com/labstack/echo/v5"},
		want:  "id: 1|event: greeting|data: hello from echov5",
		main: `package main

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v5"
	echov5sse "github.com/ssekit/ssekit/adapters/echov5"
	"github.com/ssekit/ssekit/core"
)

func main() {
	e := echo.New()
	e.GET("/sse", echov5sse.Handle(func(c *echo.Context) (core.EventTarget, error) {
		return hello("echov5")
	}))
	ln := listen()
	go http.Serve(ln, e)
	fmt.Println(fetchOne("http://"+ln.Addr().String()+"/sse", nil))
}
`,
	},
	{
		name: "fiber", module: project + "/adapters/fiber", pkg: project + "/adapters/fiber",
		allow: []string{"github.com/gofiber/fiber/v2", "github.com/valyala/fasthttp"},
		want:  "id: 1|event: greeting|data: hello from fiber",
		main: `package main

import (
	"fmt"

	"github.com/gofiber/fiber/v2"
	fibersse "github.com/ssekit/ssekit/adapters/fiber"
	"github.com/ssekit/ssekit/core"
)

func main() {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/sse", fibersse.Handle(func(c *fiber.Ctx) (core.EventTarget, error) {
		return hello("fiber")
	}))
	ln := listen()
	go app.Listener(ln)
	fmt.Println(fetchOne("http://"+ln.Addr().String()+"/sse", nil))
}
`,
	},
	{
		name: "fiberv3", module: project + "/adapters/fiberv3", pkg: project + "/adapters/fiberv3",
		allow: []string{"github.com/gofiber/fiber/v3", "github.com/valyala/fasthttp"},
		want:  "id: 1|event: greeting|data: hello from fiberv3",
		main: `package main

import (
	"fmt"

	"github.com/gofiber/fiber/v3"
	fiberv3sse "github.com/ssekit/ssekit/adapters/fiberv3"
	"github.com/ssekit/ssekit/core"
)

func main() {
	app := fiber.New()
	app.Get("/sse", fiberv3sse.Handle(func(c fiber.Ctx) (core.EventTarget, error) {
		return hello("fiberv3")
	}))
	ln := listen()
	go app.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true})
	fmt.Println(fetchOne("http://"+ln.Addr().String()+"/sse", nil))
}
`,
	},
	{
		name: "nbio", module: project + "/adapters/nbio", pkg: project + "/adapters/nbio",
		allow: []string{"github.com/lesismal/nbio"},
		want:  "id: 1|event: greeting|data: hello from nbio",
		main: `package main

import (
	"fmt"
	"net"
	"net/http"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
	"github.com/ssekit/ssekit/core"
)

func main() {
	logging.SetLevel(logging.LevelError) // no start banner on stdout
	mux := http.NewServeMux()
	mux.Handle("GET /sse", nbiosse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return hello("nbio")
	}))
	ln := listen()
	e := nbhttp.NewEngine(nbhttp.Config{Network: "tcp", Addrs: []string{ln.Addr().String()}, Handler: mux,
		Listen: func(string, string) (net.Listener, error) { return ln, nil }})
	nbiosse.Attach(e)
	if err := e.Start(); err != nil {
		panic(err)
	}
	fmt.Println(fetchOne("http://"+ln.Addr().String()+"/sse", nil))
}
`,
	},
	{
		// The broker (root module) on the Redis backend, served by the
		// net/http adapter: subscribe by GET, then publish one event.
		name: "redis", module: project + "/broker/redis", pkg: project + "/broker/redis",
		allow: []string{"github.com/redis/go-redis/v9"},
		want:  "id: (the id Publish returned)|event: greeting|data: hello from redis",
		main: `package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/broker"
	redisbroker "github.com/ssekit/ssekit/broker/redis"
	"github.com/ssekit/ssekit/core"
)

func main() {
	addr := os.Getenv("SSEKIT_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	if err := rdb.Ping(ctx).Err(); err != nil {
		fail(fmt.Errorf("no Redis at %s (set SSEKIT_REDIS_ADDR; scripts/with-services starts one): %w", addr, err))
	}
	prefix := os.Getenv("CONSUMER_PREFIX")
	b := broker.New(broker.Options{Backend: redisbroker.New(rdb, redisbroker.Options{Prefix: prefix})})
	mux := http.NewServeMux()
	mux.Handle("GET /sse", nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return b.Subscribe(r.Context(), []string{"news"}, nethttpsse.LastEventID(r))
	}))
	ln := listen()
	go http.Serve(ln, mux)
	var id string
	got := fetchOne("http://"+ln.Addr().String()+"/sse", func() {
		var err error
		if id, err = b.Publish(ctx, "news", core.Message{Event: "greeting", Data: "hello from redis"}); err != nil {
			fail(err)
		}
	})
	got = strings.Replace(got, "id: "+id+"|", "id: (the id Publish returned)|", 1)
	if err := b.Shutdown(ctx); err != nil {
		fail(err)
	}
	if keys, err := rdb.Keys(ctx, "{"+prefix+"}:*").Result(); err == nil && len(keys) > 0 {
		rdb.Del(ctx, keys...)
	}
	fmt.Println(got)
}
`,
	},
}

// client.go: what every consumer shares, the standard library and core only.
const clientGo = `package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ssekit/ssekit/core"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, "consumer:", err)
	os.Exit(1)
}

func listen() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	return ln
}

// hello returns a stream holding one event (it stays open: the client leaves).
func hello(name string) (core.EventTarget, error) {
	t := core.NewTarget()
	if err := t.Dispatch(core.Message{ID: "1", Event: "greeting", Data: "hello from " + name}); err != nil {
		return nil, err
	}
	return t, nil
}

// fetchOne GETs url, calls connected (if any) once the response headers are
// in, and returns the first event's fields joined by "|" (comments skipped).
func fetchOne(url string, connected func()) string {
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		fail(fmt.Errorf("GET %s: %s, Content-Type %q", url, resp.Status, resp.Header.Get("Content-Type")))
	}
	if connected != nil {
		connected()
	}
	br := bufio.NewReader(resp.Body)
	var fields []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			fail(fmt.Errorf("reading the stream after %q: %w", fields, err))
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "" && len(fields) > 0:
			return strings.Join(fields, "|")
		case line == "" || strings.HasPrefix(line, ":"):
		default:
			fields = append(fields, line)
		}
	}
}
`

// TestRelease: see the package comment.
func TestRelease(t *testing.T) {
	for _, tool := range []string{"git", "bash", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to test a release from a user's side and is not in PATH: %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	base := baseEnv()

	top := strings.TrimSpace(run(t, ctx, "", base, "git", "rev-parse", "--show-toplevel"))
	clone := filepath.Join(t.TempDir(), "ssekit")
	run(t, ctx, "", base, "git", "clone", "-q", top, clone)
	for _, kv := range [][2]string{
		{"user.name", "releasetest"}, {"user.email", "releasetest@example.com"},
		{"commit.gpgsign", "false"}, {"tag.gpgsign", "false"},
	} {
		run(t, ctx, clone, base, "git", "config", kv[0], kv[1])
	}
	version := nextVersion(strings.Fields(run(t, ctx, clone, base, "git", "tag", "-l")))
	t.Logf("releasing %s in a clone of %s (HEAD %s)", version, top,
		strings.TrimSpace(run(t, ctx, clone, base, "git", "rev-parse", "--short", "HEAD")))

	out := run(t, ctx, clone, base, "bash", "scripts/release", version)
	t.Logf("scripts/release:\n%s", out)
	commit := strings.TrimSpace(run(t, ctx, clone, base, "git", "rev-parse", "HEAD"))
	if msg := strings.TrimSpace(run(t, ctx, clone, base, "git", "log", "-1", "--format=%s")); msg != "release "+version {
		t.Errorf("release commit message %q; want %q", msg, "release "+version)
	}
	checkTags(t, ctx, clone, base, version, commit)
	// The committed go.work still resolves every module's requirements (the
	// bumped ones to the workspace's own directories) without the network.
	// The third-party requirements are the same before and after the
	// release: listing them in the developer's tree first puts their go.mod
	// files in the module cache (a fresh cache, as CI's, holds only what
	// builds needed), so that only the project's own modules could miss.
	run(t, ctx, top, base, "go", "list", "-m", "all")
	run(t, ctx, clone, append(slices.Clip(base), "GOPROXY=off"), "go", "list", "-m", "all")

	t.Run("refusals", func(t *testing.T) { testRefusals(t, ctx, clone, base, version) })

	// Everything a consumer's go command needs: the project only from the
	// clone (GOPRIVATE: no proxy, no checksum database), the frameworks from
	// the developer's module cache first, then the usual proxy.
	devCache := strings.TrimSpace(run(t, ctx, "", base, "go", "env", "GOMODCACHE"))
	devProxy := strings.TrimSpace(run(t, ctx, "", base, "go", "env", "GOPROXY"))
	tmp := t.TempDir()
	gitconfig := filepath.Join(tmp, "gitconfig")
	writeFile(t, gitconfig, fmt.Sprintf("[url \"file://%s\"]\n\tinsteadOf = https://%s\n", filepath.ToSlash(clone), project))
	env := append(slices.Clip(base),
		"GOWORK=off",
		"GOPRIVATE="+project,
		"GONOSUMDB="+project,
		// -modcacherw lets t.TempDir remove the module cache; -trimpath keeps
		// compiled frameworks in the build cache from one run to the next
		// (without it the temporary GOMODCACHE path is part of every key).
		"GOFLAGS=-mod=mod -modcacherw -trimpath",
		"GOMODCACHE="+filepath.Join(tmp, "modcache"), // never a v0.1.0 cached by an earlier run
		"GOPROXY=file://"+filepath.ToSlash(devCache)+"/cache/download,"+devProxy,
		"GOTOOLCHAIN=local",
		"GIT_CONFIG_GLOBAL="+gitconfig,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		fmt.Sprintf("CONSUMER_PREFIX=ssekit-releasetest-%d-%d", os.Getpid(), time.Now().UnixNano()),
	)

	// One consumer at a time: each build already uses every core, and two go
	// commands compiling the same packages (the standard library under
	// -trimpath, golang.org/x/...) duplicate the work. Measured on 2 cores
	// with a cold build cache: 181s in sequence, 235s two at a time. The
	// net/http consumer comes first and compiles what the others share.
	var times []string
	for _, c := range consumers {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			testConsumer(t, ctx, c, version, clone, env)
			times = append(times, fmt.Sprintf("%s %.1fs", c.name, time.Since(start).Seconds()))
		})
	}
	t.Logf("consumer times: %s", strings.Join(times, ", "))
}

// checkTags: exactly the product modules are tagged, at the release commit.
func checkTags(t *testing.T, ctx context.Context, clone string, env []string, version, commit string) {
	t.Helper()
	var want []string
	for _, p := range products {
		want = append(want, p+version)
	}
	got := strings.Fields(run(t, ctx, clone, env, "git", "tag", "-l", "*"+version))
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("tags of %s: %q; want %q (benchmarks, examples and interop untagged)", version, got, want)
	}
	for _, tag := range got {
		if typ := strings.TrimSpace(run(t, ctx, clone, env, "git", "cat-file", "-t", tag)); typ != "tag" {
			t.Errorf("%s is a %s; want an annotated tag", tag, typ)
		}
		if c := strings.TrimSpace(run(t, ctx, clone, env, "git", "rev-parse", tag+"^{commit}")); c != commit {
			t.Errorf("%s points at %s; want the release commit %s", tag, c, commit)
		}
	}
	// A tagged nested module requires the root at the release, not v0.0.0.
	gomod := run(t, ctx, clone, env, "git", "show", "adapters/gin/"+version+":adapters/gin/go.mod")
	if !strings.Contains(gomod, project+" "+version+"\n") {
		t.Errorf("adapters/gin/go.mod at %s does not require %s %s:\n%s", version, project, version, gomod)
	}
}

// testRefusals: what scripts/release refuses leaves the repository as it was,
// and a release that fails halfway (a tag that cannot be created after the
// commit and the first tags) undoes its commit and every tag it made.
func testRefusals(t *testing.T, ctx context.Context, clone string, env []string, version string) {
	state := func() string {
		return run(t, ctx, clone, env, "git", "rev-parse", "HEAD") + run(t, ctx, clone, env, "git", "tag", "-l") +
			run(t, ctx, clone, env, "git", "status", "--porcelain")
	}
	next := nextVersion([]string{version})
	refuse := func(why, wantMsg string, args ...string) {
		t.Helper()
		before := state()
		cmd := exec.CommandContext(ctx, "bash", append([]string{"scripts/release"}, args...)...)
		cmd.Dir, cmd.Env = clone, env
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), wantMsg) {
			t.Errorf("%s: scripts/release %s: %v, output:\n%s\nwant a failure saying %q", why, strings.Join(args, " "), err, out, wantMsg)
		}
		if after := state(); after != before {
			t.Errorf("%s: the repository changed:\nbefore:\n%s\nafter:\n%s", why, before, after)
		}
	}
	refuse("same version", "is not greater than the last release "+version, version)
	refuse("a pre-release of it", "is not greater than the last release "+version, version+"-rc.1")
	refuse("not semver", "is not vMAJOR.MINOR.PATCH", strings.TrimPrefix(next, "v"))
	refuse("build metadata", "is not vMAJOR.MINOR.PATCH", next+"+build.1")
	refuse("no version", "usage:")

	writeFile(t, filepath.Join(clone, "untracked.txt"), "x")
	refuse("untracked file", "the working tree is not clean", next)
	if err := os.Remove(filepath.Join(clone, "untracked.txt")); err != nil {
		t.Fatal(err)
	}

	// A tag "broker/redis/<next>/blocker" makes "broker/redis/<next>"
	// impossible to create (a ref cannot be both a file and a directory),
	// which the script finds out only after its commit and earlier tags.
	blocker := "broker/redis/" + next + "/blocker"
	run(t, ctx, clone, env, "git", "tag", blocker)
	refuse("tag failing halfway", "failed; undoing", next)
	run(t, ctx, clone, env, "git", "tag", "-d", blocker)
}

// testConsumer: a new module gets c.module at version with go get alone, runs
// a program streaming one event through it, and holds nothing it does not use.
func testConsumer(t *testing.T, ctx context.Context, c consumer, version, clone string, env []string) {
	dir := t.TempDir()
	goIn := func(args ...string) string {
		start := time.Now()
		out := run(t, ctx, dir, env, "go", args...)
		t.Logf("go %s: %.1fs", strings.Join(args, " "), time.Since(start).Seconds())
		return out
	}
	goIn("mod", "init", "example.com/consumer")
	writeFile(t, filepath.Join(dir, "main.go"), c.main)
	writeFile(t, filepath.Join(dir, "client.go"), clientGo)
	goIn("get", c.module+"@"+version)

	got := strings.TrimSpace(goIn("run", "."))
	if got != c.want {
		t.Errorf("go run . printed %q; want %q", got, c.want)
	}

	var mod struct {
		Require []struct{ Path, Version string }
		Replace []json.RawMessage
	}
	if err := json.Unmarshal([]byte(goIn("mod", "edit", "-json")), &mod); err != nil {
		t.Fatal(err)
	}
	if len(mod.Replace) > 0 {
		t.Errorf("go.mod has replace directives: %s", mod.Replace)
	}
	required := map[string]string{}
	for _, r := range mod.Require {
		required[r.Path] = r.Version
	}
	for _, m := range []string{project, c.module} {
		if v := required[m]; v != version {
			t.Errorf("go.mod requires %s %q; want %s", m, v, version)
		}
	}

	// The module came from the clone's release tag, through git.
	var dl struct {
		Error  string
		Origin struct{ VCS, URL, Ref, Hash string }
	}
	if err := json.Unmarshal([]byte(goIn("mod", "download", "-json", c.module+"@"+version)), &dl); err != nil {
		t.Fatal(err)
	}
	tag := strings.TrimPrefix(strings.TrimPrefix(c.module, project), "/")
	if tag != "" {
		tag += "/"
	}
	tag += version
	hash := strings.TrimSpace(run(t, ctx, clone, env, "git", "rev-parse", tag+"^{commit}"))
	if dl.Origin.VCS != "git" || dl.Origin.Ref != "refs/tags/"+tag || dl.Origin.Hash != hash {
		t.Errorf("%s@%s came from %+v; want git, refs/tags/%s, %s", c.module, version, dl.Origin, tag, hash)
	}

	// Nothing of another framework, nor another module of the project, in
	// the module graph (go list -m all: every go.mod the build may read).
	for _, line := range strings.Split(strings.TrimSpace(goIn("list", "-m", "all")), "\n") {
		f := strings.Fields(line)
		path := f[0]
		switch {
		case path == "example.com/consumer":
		case strings.HasPrefix(path, project):
			if path != project && path != c.module {
				t.Errorf("module graph holds %s", line)
			} else if len(f) < 2 || f[1] != version {
				t.Errorf("module graph holds %s; want version %s", line, version)
			}
		case slices.Contains(frameworks, path) && !slices.Contains(c.allow, path):
			t.Errorf("module graph holds %s, a framework this consumer does not use", line)
		}
	}
}

// nextVersion returns a version greater than every tag (root or nested) among
// tags: the next patch after the greatest MAJOR.MINOR.PATCH, or v0.1.0.
func nextVersion(tags []string) string {
	re := regexp.MustCompile(`(?:^|/)v(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?$`)
	var best [3]int
	found := false
	for _, tag := range tags {
		m := re.FindStringSubmatch(tag)
		if m == nil {
			continue
		}
		var v [3]int
		for i := range v {
			v[i], _ = strconv.Atoi(m[i+1])
		}
		if !found || slices.Compare(v[:], best[:]) > 0 {
			best, found = v, true
		}
	}
	if !found {
		return "v0.1.0"
	}
	return fmt.Sprintf("v%d.%d.%d", best[0], best[1], best[2]+1)
}

// baseEnv is the test's environment without what would point git or go at
// the developer's repository or workspace.
func baseEnv() []string {
	drop := []string{"GOWORK", "GOFLAGS", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR",
		"GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CEILING_DIRECTORIES", "GIT_CONFIG_PARAMETERS"}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, k) {
			env = append(env, kv)
		}
	}
	return env
}

// run runs name in dir and returns its standard output, failing the test with
// both outputs when it fails.
func run(t *testing.T, ctx context.Context, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("in %s: %s %s: %v\nstdout:\n%s\nstderr:\n%s", dir, name, strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
