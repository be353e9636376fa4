package core_test

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/ssekit/ssekit/core"
)

// reasoned is an error that reports its own EndReason.
type reasoned struct{}

func (reasoned) Error() string             { return "reasoned" }
func (reasoned) EndReason() core.EndReason { return core.EndSlowSubscriber }

func TestReason(t *testing.T) {
	t.Parallel()
	write := func(err error) error { return fmt.Errorf("%w: %w", core.ErrWrite, err) }
	for _, tc := range []struct {
		err  error
		want core.EndReason
	}{
		{nil, core.EndClosed},
		{core.ErrClientGone, core.EndClientGone},
		{fmt.Errorf("x: %w", core.ErrShutdown), core.EndShutdown},
		{&core.PanicError{Value: 1}, core.EndPanic},
		{write(os.ErrDeadlineExceeded), core.EndStalled},
		{write(errors.New("short write")), core.EndWriteError},
		{write(&os.SyscallError{Syscall: "write", Err: syscall.EPIPE}), core.EndClientGone},
		{write(syscall.ECONNRESET), core.EndClientGone},
		{fmt.Errorf("wrapped: %w", reasoned{}), core.EndSlowSubscriber},
		{errors.New("other"), core.EndError},
	} {
		if got := core.Reason(tc.err); got != tc.want {
			t.Errorf("Reason(%v): got %s; want %s", tc.err, got, tc.want)
		}
	}
}
