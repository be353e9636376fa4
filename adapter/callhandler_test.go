package adapter_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/ssekit/ssekit/adapter"
	"github.com/ssekit/ssekit/core"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	tg := core.NewTarget()
	if got, err := adapter.CallHandler(core.Options{}, 1, func(int) (core.EventTarget, error) { return tg, nil }); got != tg || err != nil {
		t.Fatalf("got %v, %v; want the target", got, err)
	}
	tg.Stop(nil)

	var pe *core.PanicError
	if _, err := adapter.CallHandler(core.Options{}, 1, func(int) (core.EventTarget, error) { panic("x") }); !errors.As(err, &pe) {
		t.Fatalf("panic: got %v; want PanicError", err)
	}
	if _, err := adapter.CallHandler(core.Options{}, 1, func(int) (core.EventTarget, error) { return nil, nil }); !errors.Is(err, core.ErrNilTarget) {
		t.Fatalf("nil: got %v; want ErrNilTarget", err)
	}
	made := core.NewTarget()
	boom := errors.New("boom")
	if got, err := adapter.CallHandler(core.Options{}, 1, func(int) (core.EventTarget, error) { return made, boom }); got != nil || err != boom {
		t.Fatalf("got %v, %v; want nil, boom", got, err)
	}
	select {
	case <-made.Done():
	default:
		t.Fatal("a target returned beside an error was not stopped")
	}
}

func TestSetHeader(t *testing.T) {
	t.Parallel()
	h := http.Header{"Content-Type": {"text/plain"}}
	adapter.SetHeader(h)
	want := http.Header{"Content-Type": {"text/event-stream"}, "Cache-Control": {"no-cache"}, "X-Accel-Buffering": {"no"}}
	if fmt.Sprint(h) != fmt.Sprint(want) {
		t.Fatalf("got %v; want %v", h, want)
	}
}
