package core_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ssekit/ssekit/core"
)

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
