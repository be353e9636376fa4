package nbiosse_test

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/ssetest"
)

// recorder is a core.Observer that records what it hears, as lines.
type recorder struct {
	mu     sync.Mutex
	log    []string
	events int
	bytes  int
	waited bool
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, s)
}

// lines returns the lines so far but heartbeats, and the heartbeats.
func (r *recorder) lines() (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	beats := 0
	for _, l := range r.log {
		if l == "heartbeat" {
			beats++
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "|"), beats
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = nil
}

func (r *recorder) StreamStart(info core.StreamInfo) core.StreamObserver {
	ctx := "no context"
	if info.Context != nil {
		ctx = "context"
	}
	r.add(fmt.Sprintf("start %s %s %s %s", info.Adapter, info.Route, info.RequestID, ctx))
	return r
}

func (r *recorder) StreamRejected(info core.StreamInfo, reason core.EndReason, _ error) {
	r.add(fmt.Sprintf("rejected %s %s", info.Route, reason))
}

func (r *recorder) Wrote(events, bytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events += events
	r.bytes += bytes
}

func (r *recorder) Heartbeat() { r.add("heartbeat") }

func (r *recorder) DispatchWaited(time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waited = true
}

func (r *recorder) End(reason core.EndReason, _ error) { r.add("end " + string(reason)) }

// waitLines waits, bounded, until r's lines are want, and returns the
// heartbeats heard.
func (r *recorder) waitLines(t *testing.T, want string) int {
	t.Helper()
	deadline := time.Now().Add(ssetest.Timeout)
	for {
		got, beats := r.lines()
		if got == want {
			return beats
		}
		if time.Now().After(deadline) {
			t.Fatalf("observer heard %q; want %q", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestObserver guards the Observer on nbio streams: the same start (with
// the route and request id), batches, heartbeats, end and rejection reports
// as the adapters that run core's loop.
func TestObserver(t *testing.T) {
	rec := &recorder{}
	targets := make(chan *core.Target, 4)
	mux := http.NewServeMux()
	mux.Handle("GET /rooms/{room}", nbiosse.Handle(func(r *http.Request) (core.EventTarget, error) {
		if r.PathValue("room") == "none" {
			return nil, core.Error(http.StatusNotFound, "no such room")
		}
		tg := core.NewTarget()
		targets <- tg
		return tg, nil
	}, core.WithObserver(rec), core.WithHeartbeat(20*time.Millisecond)))
	base := serve(t, mux)
	c := ssetest.HTTPClient(t)

	// Events, heartbeats, a normal end.
	resp, cancel := ssetest.Get(t, c, base+"/rooms/a", http.Header{"X-Request-Id": {"req-1"}})
	defer cancel()
	tg := <-targets
	br := bufio.NewReader(resp.Body)
	beats := 0
	for i := 0; beats < 2 && i < 1000; i++ { // bounded by the client's timeout too
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == ":\n" {
			beats++
		}
	}
	frames := ""
	for _, d := range []string{"1", "2", "3"} {
		m := core.Message{ID: d, Data: d}
		b, _ := core.AppendMessage(nil, m)
		frames += string(b)
		if err := tg.Dispatch(m); err != nil {
			t.Fatal(err)
		}
	}
	tg.Close()
	if rest := ssetest.ReadAll(t, br); !strings.HasSuffix(strings.ReplaceAll(rest, ":\n", ""), frames) {
		t.Fatalf("body %q; want the events", rest)
	}
	if beats := rec.waitLines(t, "start nbio GET /rooms/{room} req-1 context|end closed"); beats < 2 {
		t.Fatalf("observer heard %d heartbeats; want at least the 2 read", beats)
	}
	rec.mu.Lock()
	events, bytes := rec.events, rec.bytes
	rec.mu.Unlock()
	if events != 3 || bytes != len(frames) {
		t.Fatalf("Wrote heard %d events, %d bytes; want 3, %d", events, bytes, len(frames))
	}

	// A client that leaves.
	rec.reset()
	resp, cancel2 := ssetest.Get(t, c, base+"/rooms/b", nil)
	tg = <-targets
	cancel2()
	resp.Body.Close()
	<-tg.Done()
	if !errors.Is(tg.Err(), core.ErrClientGone) {
		t.Fatalf("target ended with %v; want ErrClientGone", tg.Err())
	}
	rec.waitLines(t, "start nbio GET /rooms/{room}  context|end client_gone")

	// A handler error: no stream.
	rec.reset()
	resp, cancel3 := ssetest.Get(t, c, base+"/rooms/none", nil)
	defer cancel3()
	_ = ssetest.ReadAll(t, resp.Body)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d; want 404", resp.StatusCode)
	}
	rec.waitLines(t, "rejected GET /rooms/{room} handler_error")
}
