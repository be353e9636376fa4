package conformance

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/ssekit/core"
)

// CheckHarness checks a harness's request mapping on its own, before [Run]
// relies on it: the root path and a nested one, GET and POST, the query, the
// Last-Event-ID header (as LastEventID and in Header) and a non-nil Context
// must reach the handler as sent, and Body too when the harness maps it. It
// checks over every transport of [HarnessTransports], each a subtest.
func CheckHarness(t *testing.T, h Harness) {
	t.Helper()
	for _, tr := range HarnessTransports(h) {
		t.Run(string(tr), func(t *testing.T) { checkHarness(t, h, tr) })
	}
}

func checkHarness(t *testing.T, h Harness, ht Transport) {
	type seen struct {
		r    Request
		body string
	}
	got := make(chan seen, 1)
	env := newEnvOver(t, h, ht)
	base := env.Serve(t, func(r Request) (core.EventTarget, error) {
		s := seen{r: r}
		if r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			s.body = string(b)
		}
		got <- s
		tg := core.NewTarget()
		tg.Close()
		return tg, nil
	})
	hc := &http.Client{Transport: env.transport, Timeout: DefaultTimeout}
	for _, tc := range []struct{ method, path, query, body string }{
		{http.MethodGet, "/", "", ""},
		{http.MethodPost, "/a/b", "x=1&y=2", "posted"},
	} {
		req, err := http.NewRequest(tc.method, base+tc.path+"?"+tc.query, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Last-Event-ID", "7")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		var s seen
		select {
		case s = <-got:
		case <-time.After(DefaultTimeout):
			t.Fatalf("%s %s: the handler was not called", tc.method, tc.path)
		}
		r := s.r
		if resp.ProtoMajor != protoMajor(ht) {
			t.Errorf("%s %s: got a response over %s; want it over %s", tc.method, tc.path, resp.Proto, ht)
		}
		if resp.StatusCode != http.StatusOK || r.Method != tc.method || r.Path != tc.path || r.Query != tc.query ||
			r.LastEventID != "7" || r.Header.Get("Last-Event-ID") != "7" || r.Context == nil {
			t.Errorf("%s %s?%s: got status %d, request %+v; want 200 and the request as sent",
				tc.method, tc.path, tc.query, resp.StatusCode, r)
		}
		if r.Body != nil && s.body != tc.body {
			t.Errorf("%s %s: got body %q; want %q", tc.method, tc.path, s.body, tc.body)
		}
	}
}
