package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/conformance/remote"
	"github.com/ssekit/ssekit/core"
)

// rowRE matches a row of the scenario table.
var rowRE = regexp.MustCompile(`(?m)^(PASS|FAIL|N/A) +(full|weaker|-) +(\S+) `)

// rows maps each scenario of a table to its result.
func rows(table string) map[string]string {
	m := map[string]string{}
	for _, r := range rowRE.FindAllStringSubmatch(table, -1) {
		m[r[3]] = r[1]
	}
	return m
}

// TestScenariosReference: the whole protocol against "sseconform serve":
// every checkable scenario passes, exit 0.
func TestScenariosReference(t *testing.T) {
	base := startServe(t)
	code, stdout, stderr := runCmd(t, "-v", base)
	if code != exitOK {
		t.Errorf("exit %d; want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	got := rows(stdout)
	scenarios := conformance.Scenarios()
	if len(got) != len(scenarios) {
		t.Errorf("the table has %d rows; want %d:\n%s", len(got), len(scenarios), stdout)
	}
	none := 0
	for _, s := range remote.Scenarios() {
		want := "PASS"
		if s.Form == remote.None {
			want = "N/A"
			none++
		}
		if got[s.Name] != want {
			t.Errorf("%s: got %q; want %s", s.Name, got[s.Name], want)
		}
	}
	if none < 2 {
		t.Errorf("%d scenarios not checkable remotely; want at least shutdown and producer-after-disconnect", none)
	}
	for _, want := range []string{"not checkable remotely: ", "weaker form: ", fmt.Sprintf("0 failed, %d not checkable remotely.", none)} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the table lacks %q:\n%s", want, stdout)
		}
	}
}

// TestScenariosJSON: -json output parses, with -run selecting.
func TestScenariosJSON(t *testing.T) {
	base := startServe(t)
	code, stdout, _ := runCmd(t, "-json", "-run", "^(ids|handler-panic|shutdown)$", base+"/")
	if code != exitOK {
		t.Errorf("exit %d; want 0", code)
	}
	var out struct {
		Base    string
		Results []struct {
			Name, Result, Form string
			Messages           []string
		}
		Passed, Failed int
		NotCheckable   int `json:"not_checkable"`
		Exit           int
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("-json output does not parse: %v\n%s", err, stdout)
	}
	got := map[string]string{}
	for _, r := range out.Results {
		got[r.Name] = r.Result + " " + r.Form
	}
	want := map[string]string{"ids": "PASS full", "handler-panic": "PASS full", "shutdown": "N/A none"}
	if len(got) != len(want) || out.Base != base || out.Exit != 0 || out.Passed != 2 || out.Failed != 0 || out.NotCheckable != 1 {
		t.Errorf("got %+v; want base %q, exit 0, 2 passed, 1 not checkable, results %v", out, base, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q; want %q", k, got[k], v)
		}
	}
}

// noFlush is a writer whose Flush does nothing.
type noFlush struct{ http.ResponseWriter }

func (noFlush) Flush()                        {}
func (w noFlush) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestScenariosBroken: a server that does not flush fails, exit 1, and the
// table says which scenarios and why.
func TestScenariosBroken(t *testing.T) {
	h := remote.ProtocolHandler(remote.Scenarios(), func(h conformance.Handler, opts ...core.Option) http.Handler {
		inner := nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
			return h(conformance.Request{Method: r.Method, Path: r.URL.Path, LastEventID: r.Header.Get("Last-Event-ID"), Header: r.Header, Context: r.Context(), Body: r.Body})
		}, opts...)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { inner.ServeHTTP(noFlush{w}, r) })
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	code, stdout, _ := runCmd(t, "-run", "^(ids|headers|flush-per-event)$", srv.URL)
	if code != exitFail {
		t.Errorf("exit %d; want 1", code)
	}
	got := rows(stdout)
	for name, want := range map[string]string{"ids": "PASS", "headers": "FAIL", "flush-per-event": "FAIL"} {
		if got[name] != want {
			t.Errorf("%s: got %q; want %s\n%s", name, got[name], want, stdout)
		}
	}
	for _, want := range []string{"response ContentLength", "the server does not flush each event"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the table lacks %q:\n%s", want, stdout)
		}
	}
}

// TestScenariosNotTheProtocol: against a server that does not speak the
// protocol, everything fails and the table says so.
func TestScenariosNotTheProtocol(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	code, stdout, _ := runCmd(t, "-run", "^(ids|retry|headers)$", srv.URL)
	if code != exitFail || !strings.Contains(stdout, "does not seem to serve the scenario protocol") {
		t.Errorf("exit %d; want 1 and a hint:\n%s", code, stdout)
	}
}

// TestProtocolText: -protocol prints each route and its exact bytes.
func TestProtocolText(t *testing.T) {
	code, stdout, stderr := runCmd(t, "-protocol")
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 0, nothing", code, stderr)
	}
	for _, want := range []string{
		"## Scenario danet-example",
		"Request: `GET /danet-example`.",
		"```text\n\"id: 0\\n\"\n\"event: hello\\n\"\n\"retry: 1000\\n\"\n\"data: world\\n\"\n\"\\n\"\n",
		"Request: `POST /post-stream`, header `Content-Type: text/plain`, body `65536 × \"p\"`.",
		"\n\"data: \" + 1048576 × \"x\" + \"\\n\"\n",
		"| shutdown | ",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("-protocol lacks %q", want)
		}
	}
	if strings.Contains(stdout, "## Scenario shutdown") {
		t.Errorf("-protocol lists shutdown, which has no route")
	}
}

// TestProtocolJSON: -protocol -json has every byte.
func TestProtocolJSON(t *testing.T) {
	code, stdout, _ := runCmd(t, "-protocol", "-json", "-run", "^(danet-example|large-payload|handler-error|client-disconnect)$")
	if code != exitOK {
		t.Fatalf("exit %d; want 0", code)
	}
	var out struct {
		Scenarios []struct {
			Name      string
			Form      string
			Exchanges []struct {
				Method, Path   string
				Status         int
				ResponseHeader map[string][]string `json:"response_header"`
				ResponseBody   string              `json:"response_body"`
				Endless        bool
				Want           []struct{ Type, Data string }
			}
		}
		NotCheckable []string `json:"not_checkable"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("-protocol -json does not parse: %v", err)
	}
	bodies := map[string]string{}
	for _, s := range out.Scenarios {
		ex := s.Exchanges[0]
		bodies[s.Name] = ex.ResponseBody
		if ex.Status == 200 && ex.ResponseHeader["Content-Type"][0] != "text/event-stream" {
			t.Errorf("%s: response header %v", s.Name, ex.ResponseHeader)
		}
	}
	if want := "id: 3\nevent: hello\nretry: 1000\ndata: world\n\nid: 4\nevent: close\nretry: 1000\ndata: close\n\n"; !strings.HasSuffix(bodies["danet-example"], want) {
		t.Errorf("danet-example: got %q; want it to end with %q", bodies["danet-example"], want)
	}
	if got := len(bodies["large-payload"]); got < 2<<20 {
		t.Errorf("large-payload: got %d bytes; want all of them (over 2 MiB)", got)
	}
	if got := bodies["handler-error"]; got != "nope\n" {
		t.Errorf("handler-error: got %q; want %q", got, "nope\n")
	}
	if got := bodies["client-disconnect"]; !strings.HasPrefix(got, "id: 0\ndata: traffic\n\n") {
		t.Errorf("client-disconnect: got %q", got)
	}
}
