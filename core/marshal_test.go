package core

import (
	"errors"
	"testing"
	"time"
)

// panicky is data whose MarshalJSON panics: user code that Dispatch runs.
type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("boom") }

// slowJSON is data whose MarshalJSON blocks until released.
type slowJSON struct{ release chan struct{} }

func (s slowJSON) MarshalJSON() ([]byte, error) {
	<-s.release
	return []byte(`"slow"`), nil
}

// A panic in the data's MarshalJSON reaches the producer that dispatched
// it and leaves the target usable: the target's lock is never held while
// user code runs.
func TestDispatchMarshalPanicKeepsTarget(t *testing.T) {
	t.Parallel()
	tg := NewTarget()
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v; want the MarshalJSON panic", r)
			}
		}()
		_ = tg.Dispatch(Message{Data: panicky{}})
	}()
	done := make(chan error, 1)
	go func() { done <- tg.Dispatch(Message{Data: "after"}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Dispatch after the panic: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Dispatch after a MarshalJSON panic blocked: the target's lock was left held")
	}
	tg.Stop(nil)
}

// A MarshalJSON that blocks holds only its own producer: another producer
// and Stop go on.
func TestDispatchSlowMarshalHoldsNoLock(t *testing.T) {
	t.Parallel()
	tg := NewTarget()
	slow := slowJSON{release: make(chan struct{})}
	slowDone := make(chan error, 1)
	go func() { slowDone <- tg.Dispatch(Message{Data: slow}) }()
	time.Sleep(20 * time.Millisecond) // let it reach MarshalJSON (either way the rest must not block)
	done := make(chan error, 1)
	go func() { done <- tg.Dispatch(Message{Data: "other"}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Dispatch beside a slow MarshalJSON: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a blocked MarshalJSON held the target's lock")
	}
	tg.Stop(nil)
	close(slow.release)
	if err := <-slowDone; err != nil && !errors.Is(err, ErrClosed) {
		t.Fatalf("the slow producer got %v; want nil or ErrClosed", err)
	}
}
