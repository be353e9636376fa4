package ssetest

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/ssekit/core"
)

// drainPanics is a target whose Drain panics: a panic in the stream, after
// the handler returned.
type drainPanics struct{ *core.Target }

func (drainPanics) Drain([]byte) ([]byte, bool) { streamPanics(); return nil, false }

//go:noinline
func streamPanics() { panic("ssetest: the stream panics") }

//go:noinline
func handlerPanics() (core.EventTarget, error) { panic("ssetest: the handler panics") }

// PanicsVisible checks that a panic in the handler and one in the stream
// (a target's Drain) each end one request only and are visible: logged, with
// the stack that shows where they happened, where the framework logs panics
// (logs returns what was logged so far), and reported to core.WithOnEnd as a
// *core.PanicError carrying that stack. serve starts a server whose GET /sse
// serves h through the adapter with opts, and returns its base URL.
func PanicsVisible(t *testing.T, serve func(t *testing.T, h func() (core.EventTarget, error), opts ...core.Option) string, logs func() string) {
	for _, c := range []struct {
		name, frame string
		h           func() (core.EventTarget, error)
	}{
		{"handler", "handlerPanics", handlerPanics},
		{"stream", "streamPanics", func() (core.EventTarget, error) { return drainPanics{core.NewTarget()}, nil }},
	} {
		ended := make(chan error, 4)
		base := serve(t, c.h, core.WithOnEnd(func(err error) { ended <- err }))
		resp, cancel := Get(t, HTTPClient(t), base+"/sse", nil)
		_, _ = io.Copy(io.Discard, resp.Body) // a stream that panicked may end cut
		cancel()
		if c.name == "handler" && resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("%s panic: status %d; want 500", c.name, resp.StatusCode)
		}
		select {
		case err := <-ended:
			var pe *core.PanicError
			if !errors.As(err, &pe) || !strings.Contains(string(pe.Stack), c.frame) {
				t.Errorf("%s panic: OnEnd got %v; want a *core.PanicError whose stack shows %s", c.name, err, c.frame)
			}
		case <-time.After(Timeout):
			t.Fatalf("%s panic: OnEnd not called within %v", c.name, Timeout)
		}
		deadline := time.Now().Add(Timeout)
		for !strings.Contains(logs(), c.frame) {
			if time.Now().After(deadline) {
				t.Fatalf("%s panic: not logged with its stack within %v; the log holds %q", c.name, Timeout, logs())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
