package conformance

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/conformance/internal/expect"
	"github.com/ssekit/ssekit/core"
)

func headers() Scenario {
	s := Scenario{
		Name: "headers",
		Doc: `The response is 200 with exactly "Content-Type: text/event-stream" (lowercase, no parameters),
"Cache-Control: no-cache" and "X-Accel-Buffering: no", and no Content-Length, Keep-Alive or
Connection header (hop-by-hop headers break HTTP/2; the server manages them).`,
		Handler: send(core.Message{Data: "x"}),
		Want:    []client.Event{message("x", "")},
		WantEnd: true,
	}
	s.Run = func(t testing.TB, env *Env) {
		st := s.Check(t, env)
		h := st.Response.Header
		for _, kv := range [][2]string{
			{"Content-Type", "text/event-stream"},
			{"Cache-Control", "no-cache"},
			{"X-Accel-Buffering", "no"},
		} {
			if got := h.Values(kv[0]); len(got) != 1 || got[0] != kv[1] {
				t.Errorf("header %s: got %q; want exactly [%q]", kv[0], got, kv[1])
			}
		}
		// Hop-by-hop headers (RFC 9110, 7.6.1) are the server's business and
		// malformed over HTTP/2 (RFC 9113, 8.2.2), where this runs too.
		for _, name := range []string{"Content-Length", "Keep-Alive", "Connection", "Transfer-Encoding", "Proxy-Connection", "Upgrade", "Te", "Trailer"} {
			if got := h.Values(name); len(got) > 0 {
				t.Errorf("header %s: got %q; want none", name, got)
			}
		}
		if st.Response.ContentLength != -1 {
			t.Errorf("response ContentLength: got %d; want -1 (unknown: a stream)", st.Response.ContentLength)
		}
	}
	return s
}

// slowHandler returns a handler whose producer dispatches nothing for 2s,
// then one event, and closes. Each target is offered on targets (if not nil);
// the producer gives up when stop is closed.
func slowHandler(targets chan<- *core.Target, stop <-chan struct{}) Handler {
	return func(Request) (core.EventTarget, error) {
		tg := core.NewTarget()
		if targets != nil {
			select {
			case targets <- tg:
			default:
			}
		}
		go func() {
			timer := time.NewTimer(2 * time.Second)
			defer timer.Stop()
			select {
			case <-timer.C:
				dispatchAll(tg, []core.Message{{Data: "late"}})
				tg.Close()
			case <-tg.Done():
			case <-stop:
			}
		}()
		return tg, nil
	}
}

func headersBeforeFirstEvent() Scenario {
	s := Scenario{
		Name: "headers-before-first-event",
		Doc: `The response headers leave at once, before any event: the handler dispatches nothing for 2s, and
the headers must arrive within 1s (a browser's EventSource opens on them).`,
		// The heartbeat lets adapters that learn of a disconnect only by
		// writing (fasthttp) end the stream after the client leaves. It is
		// longer than the 1s allowed, so it cannot carry the headers.
		Options: []core.Option{core.WithHeartbeat(1200 * time.Millisecond)},
		Handler: slowHandler(nil, nil),
		Want:    []client.Event{message("late", "")},
		WantEnd: true,
		Serial:  true,
	}
	s.Run = func(t testing.TB, env *Env) {
		targets := make(chan *core.Target, 1)
		base := env.Serve(t, slowHandler(targets, env.Context().Done()), s.Options...)
		ctx, cancel := context.WithCancel(env.Context())
		defer cancel()
		timer := time.AfterFunc(time.Second, cancel)
		start := time.Now()
		resp, err := env.Client.Do(NewRequest(t, http.MethodGet, base+s.Path(), nil, "").WithContext(ctx))
		if !timer.Stop() {
			t.Fatalf("the response headers did not arrive within 1s (%v after the request: %v)", time.Since(start), err)
		}
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		resp.Body.Close() // the client leaves
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got status %d; want 200", resp.StatusCode)
		}
		tg := receive(t, targets, time.Second, "the target")
		waitDone(t, tg, 5*time.Second, "the client left")
	}
	return s
}

func handlerError() Scenario {
	s := Scenario{
		Name: "handler-error",
		Doc: `A handler error with a status (core.Error(401, "nope")) answers with that status and its message,
through the framework's error handling, and not as an event stream (which would make a browser
reconnect forever).`,
		Handler:    func(Request) (core.EventTarget, error) { return nil, core.Error(http.StatusUnauthorized, "nope") },
		WantStatus: http.StatusUnauthorized,
	}
	s.Run = func(t testing.TB, env *Env) {
		base := env.Serve(t, s.Handler, s.Options...)
		resp := env.Do(t, NewRequest(t, http.MethodGet, base+s.Path(), nil, ""))
		body := expect.ReadSome(resp.Body)
		expect.PlainStatus(t, resp, s.WantStatus)
		if !strings.Contains(body, "nope") {
			t.Errorf("body: got %q; want it to contain %q", body, "nope")
		}
	}
	return s
}

// plainErrorHandler returns a target beside an internal error, offering the
// target on targets (if not nil).
func plainErrorHandler(targets chan<- *core.Target) Handler {
	return func(Request) (core.EventTarget, error) {
		tg := core.NewTarget()
		if targets != nil {
			offer(targets, tg)
		}
		return tg, errors.New(expect.Secret)
	}
}

func handlerErrorPlain() Scenario {
	s := Scenario{
		Name: "handler-error-plain",
		Doc: `A handler error without a status answers 500, not as an event stream, and without the error's text
(internal details are not leaked). A target returned beside the error is stopped, so that its
producers wake up.`,
		Handler:    plainErrorHandler(nil),
		WantStatus: http.StatusInternalServerError,
	}
	s.Run = func(t testing.TB, env *Env) {
		targets := make(chan *core.Target, 1)
		base := env.Serve(t, plainErrorHandler(targets), s.Options...)
		resp := env.Do(t, NewRequest(t, http.MethodGet, base+s.Path(), nil, ""))
		body := expect.ReadSome(resp.Body)
		expect.PlainStatus(t, resp, s.WantStatus)
		if strings.Contains(body, "hunter2") {
			t.Errorf("body: got %q; want no trace of the internal error", body)
		}
		tg := receive(t, targets, time.Second, "the target")
		waitDone(t, tg, time.Second, "the handler returned it beside an error")
	}
	return s
}

func handlerPanic() Scenario {
	s := Scenario{
		Name: "handler-panic",
		Doc: `A handler that panics gets a 500 (not an event stream, not the panic's text), and the server goes
on serving: the next request on the same server streams normally.`,
		Handler: func(r Request) (core.EventTarget, error) {
			if strings.HasSuffix(r.Path, "/ok") {
				return send(core.Message{Data: "still serving"})(r)
			}
			panic(expect.Secret)
		},
		WantStatus: http.StatusInternalServerError,
	}
	s.Run = func(t testing.TB, env *Env) {
		base := env.Serve(t, s.Handler, s.Options...)
		resp := env.Do(t, NewRequest(t, http.MethodGet, base+s.Path(), nil, ""))
		body := expect.ReadSome(resp.Body)
		expect.PlainStatus(t, resp, s.WantStatus)
		if strings.Contains(body, "hunter2") {
			t.Errorf("body: got %q; want no trace of the panic", body)
		}
		resp.Body.Close()
		st := env.Get(t, base+s.Path()+"/ok")
		st.Expect(t, []client.Event{message("still serving", "")}, true)
	}
	return s
}

func lastEventID() Scenario {
	return Scenario{
		Name: "last-event-id",
		Doc: `The Last-Event-ID request header of a reconnecting client reaches the handler as
Request.LastEventID, so it resumes after it.`,
		Header: http.Header{"Last-Event-Id": {"41"}},
		Handler: func(r Request) (core.EventTarget, error) {
			n, err := strconv.Atoi(r.LastEventID)
			if err != nil {
				return nil, core.Error(http.StatusBadRequest, "bad Last-Event-ID "+strconv.Quote(r.LastEventID))
			}
			var msgs []core.Message
			for i := n + 1; i <= n+3; i++ {
				msgs = append(msgs, core.Message{ID: strconv.Itoa(i), Data: "resumed"})
			}
			return send(msgs...)(r)
		},
		Want:    []client.Event{message("resumed", "42"), message("resumed", "43"), message("resumed", "44")},
		WantEnd: true,
	}
}

// postBody is the body of the post-stream scenario: larger than the usual
// buffers, so that a server that must read it first would show.
var postBody = strings.Repeat("p", 64<<10)

func postStream() Scenario {
	return Scenario{
		Name: "post-stream",
		Doc: `A POST request with a 64 KiB body gets a stream. The handler reads the body first when the harness
provides it (Request.Body), and checks the method.`,
		Method: http.MethodPost,
		Header: http.Header{"Content-Type": {"text/plain"}},
		Body:   postBody,
		Handler: func(r Request) (core.EventTarget, error) {
			res := "posted"
			switch {
			case r.Method != http.MethodPost:
				res = "method " + r.Method + "; want POST"
			case r.Body != nil:
				b, err := io.ReadAll(r.Body)
				if err != nil || string(b) != postBody {
					res = "body: read " + strconv.Itoa(len(b)) + " bytes (" + errString(err) + "); want the 64 KiB sent"
				}
			}
			return send(core.Message{Data: res})(r)
		},
		Want:    []client.Event{message("posted", "")},
		WantEnd: true,
	}
}
