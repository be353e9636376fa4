package conformance_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/ssekit/adapter"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/core"
)

// TestScenarioList checks the list itself: unique lower-kebab-case names, a
// doc for each, and something to run.
func TestScenarioList(t *testing.T) {
	kebab := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	seen := map[string]bool{}
	for _, s := range conformance.Scenarios() {
		switch {
		case !kebab.MatchString(s.Name):
			t.Errorf("%q: not lower-kebab-case", s.Name)
		case seen[s.Name]:
			t.Errorf("%q: twice", s.Name)
		case strings.TrimSpace(s.Doc) == "":
			t.Errorf("%q: no Doc", s.Name)
		case s.Run == nil && s.Handler == nil:
			t.Errorf("%q: neither Run nor Handler", s.Name)
		case s.Run == nil && s.WantStatus == 0 && len(s.Want) == 0:
			t.Errorf("%q: a data scenario that expects nothing", s.Name)
		}
		seen[s.Name] = true
	}
}

// TestScenarioData checks the data of the scenarios against core and the
// client parser alone, with no HTTP in between: the bytes each Handler's
// target yields parse to exactly Want. So the expectations other runners
// (other clients) use are right by themselves.
func TestScenarioData(t *testing.T) {
	for _, s := range conformance.Scenarios() {
		if s.Handler == nil || s.Serial || s.WantStatus != 0 || !s.WantEnd {
			continue // needs the network, takes seconds, or does not end
		}
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			method := s.Method
			if method == "" {
				method = http.MethodGet
			}
			var body io.Reader
			if s.Body != "" {
				body = strings.NewReader(s.Body)
			}
			tg, err := adapter.CallHandler(core.Options{}, conformance.Request{
				Method:      method,
				Path:        s.Path(),
				LastEventID: s.Header.Get("Last-Event-ID"),
				Header:      s.Header,
				Context:     t.Context(),
				Body:        body,
			}, s.Handler)
			if err != nil {
				t.Fatalf("handler: %v", err)
			}
			defer tg.Stop(nil)
			var wire []byte
			timer := time.NewTimer(conformance.DefaultTimeout)
			defer timer.Stop()
			for {
				var end bool
				wire, end = tg.Drain(wire)
				if end {
					break
				}
				select {
				case <-tg.Ready():
				case <-timer.C:
					t.Fatalf("the target did not end within %v", conformance.DefaultTimeout)
				}
			}
			got := client.ParseAll(wire)
			if len(got) != len(s.Want) {
				t.Fatalf("got %d events; want %d", len(got), len(s.Want))
			}
			for i := range got {
				if got[i] != s.Want[i] {
					t.Fatalf("event %d: got %+q; want %+q", i, shortEvent(got[i]), shortEvent(s.Want[i]))
				}
			}
		})
	}
}

func shortEvent(e client.Event) client.Event {
	if len(e.Data) > 100 {
		e.Data = e.Data[:100] + "..."
	}
	return e
}
