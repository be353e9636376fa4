// Package expect holds the failure-message helpers that package conformance
// and its remote checker (conformance/remote) share, so both word a
// difference the same way.
package expect

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"testing"

	"github.com/ssekit/ssekit/client"
)

// Secret is the internal detail that error and panic scenarios put in their
// error or panic, which no response may carry.
const Secret = "db password is hunter2"

// DescribeErr renders a read error: io.EOF is "the end of the stream".
func DescribeErr(err error) string {
	if err == io.EOF {
		return "the end of the stream"
	}
	return "error " + err.Error()
}

// Describe renders an event, shortening long data.
func Describe(e client.Event) string {
	return fmt.Sprintf("{Type: %q, Data: %s, LastEventID: %q}", e.Type, quote(e.Data), e.LastEventID)
}

// quote quotes s, shortening it past 120 bytes.
func quote(s string) string {
	if len(s) <= 120 {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:100], len(s))
}

// DiffEvent explains how got differs from want, or returns "".
func DiffEvent(got, want client.Event) string {
	if got == want {
		return ""
	}
	if got.Type == want.Type && got.LastEventID == want.LastEventID && (len(got.Data) > 120 || len(want.Data) > 120) {
		i := 0
		for i < len(got.Data) && i < len(want.Data) && got.Data[i] == want.Data[i] {
			i++
		}
		return fmt.Sprintf("data differs from byte %d: got %d bytes (%s at that point); want %d bytes (%s)",
			i, len(got.Data), quote(got.Data[i:]), len(want.Data), quote(want.Data[i:]))
	}
	return fmt.Sprintf("got %s; want %s", Describe(got), Describe(want))
}

// ReadSome returns the start of a body, for error messages.
func ReadSome(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 512))
	return string(b)
}

// PlainStatus checks an error response: the status, and a Content-Type that
// is not an event stream (a browser must not treat it as one).
func PlainStatus(t testing.TB, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Errorf("got status %d (body %q); want %d", resp.StatusCode, ReadSome(resp.Body), want)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/event-stream" {
		t.Errorf("got Content-Type %q on an error response; want anything but an event stream", resp.Header.Get("Content-Type"))
	}
}
