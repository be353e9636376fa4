package conformance

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/ssekit/ssekit/conformance/internal/remoterun"
	"github.com/ssekit/ssekit/core"
)

func init() { remoterun.Run = runRemote }

// runRemote is [remoterun.Run]: the checker of package conformance/remote
// runs a scenario's check on a recorder standing alone, outside any test.
func runRemote(ctx context.Context, base, name string, timeout time.Duration, check any) remoterun.Result {
	fn := check.(func(testing.TB, *Env))
	t := &remoteT{recorder: newRecorder(nil), name: name, ctx: ctx}
	h := HarnessFunc(func(testing.TB, Handler, ...core.Option) string { return base })
	t.do(func() { fn(t, newRemoteEnv(t, h, ctx, timeout)) })
	t.runCleanups()
	var res remoterun.Result
	t.mu.Lock()
	for _, m := range t.msgs {
		res.Messages = append(res.Messages, fileLine.ReplaceAllString(m, ""))
	}
	t.mu.Unlock()
	res.Failed, res.Skipped = t.Failed(), t.Skipped()
	return res
}

// fileLine matches the "file.go:12: " prefix the recorder puts on messages.
var fileLine = regexp.MustCompile(`^[\w.-]+\.go:\d+: `)

// newRemoteEnv is newEnv whose context ends with ctx and whose requests are
// bounded by timeout.
func newRemoteEnv(t testing.TB, h Harness, ctx context.Context, timeout time.Duration) *Env {
	e := newEnv(t, h)
	e.cancel() // replaced by a context under ctx; e.stop cancels the new one
	e.ctx, e.cancel = context.WithCancel(ctx)
	e.Timeout = timeout
	// Only the base URL's host is contacted: a redirect is an answer.
	e.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return e
}

// remoteT is the testing.TB a remote scenario runs against: a recorder
// standing alone, outside any test. Failures and skips are recorded;
// logs are dropped; what a remote scenario has no use for fails it.
type remoteT struct {
	*recorder
	name string
	ctx  context.Context
}

func (t *remoteT) Name() string             { return t.name }
func (t *remoteT) Context() context.Context { return t.ctx }
func (t *remoteT) Log(args ...any)          {}
func (t *remoteT) Logf(string, ...any)      {}
func (t *remoteT) Attr(key, value string)   {}
func (t *remoteT) Output() io.Writer        { return io.Discard }
func (t *remoteT) TempDir() string          { t.unsupported("TempDir"); return "" }
func (t *remoteT) ArtifactDir() string      { t.unsupported("ArtifactDir"); return "" }
func (t *remoteT) Setenv(key, value string) { t.unsupported("Setenv") }
func (t *remoteT) Chdir(dir string)         { t.unsupported("Chdir") }

func (t *remoteT) unsupported(method string) {
	t.Fatalf("conformance: %s is not available to a remote scenario", method)
}
