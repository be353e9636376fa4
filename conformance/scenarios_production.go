package conformance

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/conformance/internal/expect"
	"github.com/ssekit/ssekit/core"
)

// typedNilError: a typed nil target beside an error must not turn the
// error's status into a 500.
func typedNilError() Scenario {
	return Scenario{
		Name: "typed-nil-error",
		Doc: `A handler that returns a typed nil target (a nil *core.Target) beside core.Error(401, ...) gets
its 401: the adapter never calls into the nil target, so no recovered panic turns it into a 500.`,
		Handler: func(Request) (core.EventTarget, error) {
			var t *core.Target
			return t, core.Error(http.StatusUnauthorized, "login first")
		},
		WantStatus: http.StatusUnauthorized,
	}
}

// refusedAfterShutdown: a stream asked for once its Group is shut down gets
// an answer every client handles well.
func refusedAfterShutdown() Scenario {
	s := Scenario{
		Name: "refused-after-shutdown",
		Doc: `A stream asked for once its core.Group has shut down (and one whose handler returns an error
matching core.ErrShutdown, as a broker's Subscribe does after its Shutdown) is answered 200 with the
event-stream headers, a short retry (500 ms to 1.5 s) and an immediate end, on a connection the server
then closes, so that the client comes back soon, through the load balancer, to a live instance. A
non-200 answer would strand browsers: an EventSource never reconnects after one.`,
		Serial: true,
	}
	s.Run = func(t testing.TB, env *Env) {
		var g core.Group
		g.Close()
		var mu sync.Mutex
		var targets []*core.Target
		h := func(Request) (core.EventTarget, error) {
			tg := core.NewTarget()
			mu.Lock()
			targets = append(targets, tg)
			mu.Unlock()
			_ = tg.Dispatch(core.Message{Data: "never sent"})
			return tg, nil
		}
		checkRefusal(t, env, env.Serve(t, h, core.WithGroup(&g))+s.Path(), "after the group shut down")
		mu.Lock()
		defer mu.Unlock()
		for _, tg := range targets {
			waitDone(t, tg, EventTimeout, "the stream was refused")
		}
		down := func(Request) (core.EventTarget, error) { return nil, core.ErrShutdown }
		checkRefusal(t, env, env.Serve(t, down)+s.Path(), "from a handler returning core.ErrShutdown")
	}
	return s
}

// checkRefusal reads url and checks the shutdown answer.
func checkRefusal(t testing.TB, env *Env, url, when string) {
	t.Helper()
	st := env.Get(t, url)
	if _, err := st.Next(EventTimeout); err != io.EOF {
		t.Errorf("%s: got %s; want no event, then the end", when, expect.DescribeErr(err))
	}
	switch n := len(st.Retries); {
	case n != 1:
		t.Errorf("%s: got %d retry fields (%v); want one", when, n, st.Retries)
	case st.Retries[0] < 500*time.Millisecond || st.Retries[0] >= 1500*time.Millisecond:
		t.Errorf("%s: retry %v; want 500ms to 1.5s", when, st.Retries[0])
	}
	if resp := st.Response; resp.ProtoMajor == 1 && !resp.Close {
		t.Errorf("%s: the connection is kept alive; want Connection: close, so the client reconnects elsewhere", when)
	}
}

// onEndEveryRequest: OnEnd hears of every request, whatever ended it.
func onEndEveryRequest() Scenario {
	s := Scenario{
		Name: "on-end-every-request",
		Doc: `core.WithOnEnd is called exactly once for every request the adapter handles, whatever ended it:
a stream that ends normally (nil), a handler error (that error), a handler panic (a *core.PanicError with
its stack), a stream refused after shutdown (core.ErrShutdown).`,
		Serial: true,
	}
	s.Run = func(t testing.TB, env *Env) {
		ended := make(chan error, 16)
		boom := core.Error(http.StatusTeapot, "teapot")
		h := func(r Request) (core.EventTarget, error) {
			switch {
			case strings.HasSuffix(r.Path, "/error"):
				return nil, boom
			case strings.HasSuffix(r.Path, "/panic"):
				panic("on-end panic")
			}
			return send(core.Message{Data: "x"})(r)
		}
		base := env.Serve(t, h, core.WithOnEnd(func(err error) { ended <- err }))
		next := func(what string) error {
			t.Helper()
			select {
			case err := <-ended:
				return err
			case <-time.After(EventTimeout):
				t.Fatalf("%s: OnEnd was not called within %v", what, EventTimeout)
				return nil
			}
		}
		st := env.Get(t, base+s.Path())
		st.Expect(t, []client.Event{message("x", "")}, true)
		if err := next("a normal end"); err != nil {
			t.Errorf("a normal end: OnEnd got %v; want nil", err)
		}
		for _, c := range []struct{ path string }{{"/error"}, {"/panic"}} {
			resp := env.Do(t, NewRequest(t, http.MethodGet, base+s.Path()+c.path, nil, ""))
			resp.Body.Close()
			err := next(c.path)
			var pe *core.PanicError
			switch c.path {
			case "/error":
				if !errors.Is(err, boom) {
					t.Errorf("a handler error: OnEnd got %v; want %v", err, boom)
				}
			case "/panic":
				if !errors.As(err, &pe) || !strings.Contains(string(pe.Stack), "goroutine") {
					t.Errorf("a handler panic: OnEnd got %v; want a *core.PanicError with its stack", err)
				}
			}
		}
		select {
		case err := <-ended:
			t.Errorf("OnEnd called once more: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return s
}
