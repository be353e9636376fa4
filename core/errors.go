package core

import (
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
)

// ErrClientGone is the reason a stream ended when the client went away (the
// request context was cancelled).
var ErrClientGone = errors.New("ssekit: client gone")

// ErrShutdown is the reason a stream ended when its [Group] shut down.
var ErrShutdown = errors.New("ssekit: shutting down")

// PanicError is the reason a stream ended, or a handler failed, when user code
// panicked: the panic ends that stream (or answers 500), never the process.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the panicking goroutine's stack, as runtime/debug.Stack gives it
}

// newPanicError records a recovered panic; call it in the deferred function
// that recovered, so that the stack shows where the panic happened.
func newPanicError(v any) *PanicError { return &PanicError{Value: v, Stack: debug.Stack()} }

func (e *PanicError) Error() string { return fmt.Sprintf("ssekit: panic: %v", e.Value) }

// HTTPError is an error a handler returns to answer with a given status
// instead of a stream. Adapters hand it to the framework's own error handling.
type HTTPError struct {
	Status  int    // the HTTP status code, such as 401
	Message string // the response body; empty means the status text
}

// Error returns a handler error that answers with status and msg.
func Error(status int, msg string) error { return &HTTPError{Status: status, Message: msg} }

func (e *HTTPError) Error() string {
	if e.Message == "" {
		return http.StatusText(e.Status)
	}
	return e.Message
}

// StatusCode returns e.Status.
func (e *HTTPError) StatusCode() int { return e.Status }

// StatusOf returns the HTTP status a handler error should answer with: the one
// the error carries (any error in its chain with a StatusCode() int method)
// when it is 204 or in 400-599, otherwise 500. A 204 (core.Error(204, ""))
// is how the standard tells an EventSource to stop reconnecting for good.
func StatusOf(err error) int {
	var s interface{ StatusCode() int }
	if errors.As(err, &s) {
		if c := s.StatusCode(); c == http.StatusNoContent || c >= 400 && c <= 599 {
			return c
		}
	}
	return http.StatusInternalServerError
}

// ErrorText returns the text a handler error answers with: its own text when it carries a
// status, the status text otherwise (so internal errors are not leaked).
func ErrorText(err error) string {
	var s interface{ StatusCode() int }
	if errors.As(err, &s) && StatusOf(err) == s.StatusCode() {
		return err.Error()
	}
	return http.StatusText(StatusOf(err))
}

// ErrNilTarget is the error a request gets (500) when its handler returned
// neither a target nor an error (a typed nil, such as a nil *Target, counts
// as no target).
var ErrNilTarget = errors.New("ssekit: handler returned a nil target")

// asPanic returns the *PanicError in err's chain, or nil.
func asPanic(err error) *PanicError {
	var pe *PanicError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}
