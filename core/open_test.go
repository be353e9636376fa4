package core_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/ssekit/ssekit/core"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	tg := core.NewTarget()
	if got, err := core.Open(core.Options{}, 1, func(int) (core.EventTarget, error) { return tg, nil }); got != tg || err != nil {
		t.Fatalf("got %v, %v; want the target", got, err)
	}
	tg.Stop(nil)

	var pe *core.PanicError
	if _, err := core.Open(core.Options{}, 1, func(int) (core.EventTarget, error) { panic("x") }); !errors.As(err, &pe) {
		t.Fatalf("panic: got %v; want PanicError", err)
	}
	if _, err := core.Open(core.Options{}, 1, func(int) (core.EventTarget, error) { return nil, nil }); !errors.Is(err, core.ErrNilTarget) {
		t.Fatalf("nil: got %v; want ErrNilTarget", err)
	}
	made := core.NewTarget()
	boom := errors.New("boom")
	if got, err := core.Open(core.Options{}, 1, func(int) (core.EventTarget, error) { return made, boom }); got != nil || err != boom {
		t.Fatalf("got %v, %v; want nil, boom", got, err)
	}
	select {
	case <-made.Done():
	default:
		t.Fatal("a target returned beside an error was not stopped")
	}
}

func TestStatusOf(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		status int
		text   string
	}{
		{core.Error(401, "nope"), 401, "nope"},
		{core.Error(403, ""), 403, "Forbidden"},
		{fmt.Errorf("wrapped: %w", core.Error(404, "gone")), 404, "wrapped: gone"},
		{errors.New("secret internal detail"), 500, "Internal Server Error"},
		{core.Error(200, "not an error status"), 500, "Internal Server Error"},
		{core.Error(204, ""), 204, "No Content"},
	}
	for _, c := range cases {
		if got := core.StatusOf(c.err); got != c.status {
			t.Errorf("StatusOf(%v): got %d; want %d", c.err, got, c.status)
		}
		if got := core.ErrorText(c.err); got != c.text {
			t.Errorf("ErrorText(%v): got %q; want %q", c.err, got, c.text)
		}
	}
}

func TestSetHeader(t *testing.T) {
	t.Parallel()
	h := http.Header{"Content-Type": {"text/plain"}}
	core.SetHeader(h)
	want := http.Header{"Content-Type": {"text/event-stream"}, "Cache-Control": {"no-cache"}, "X-Accel-Buffering": {"no"}}
	if fmt.Sprint(h) != fmt.Sprint(want) {
		t.Fatalf("got %v; want %v", h, want)
	}
}
