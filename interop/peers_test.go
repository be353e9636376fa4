package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssekit/ssekit/client"
)

// The peer tests run "sseconform check" on SSE servers nobody here wrote,
// each sending peerEvents (every class of data servers get wrong: LF, CR
// and CRLF in data, a leading space, empty data with and without an event
// name, ids, a close event last) and resuming after Last-Event-ID, and
// assert exactly what the checker reports on each. Every flag is confirmed
// from the raw bytes; so is every class the checker passes.

// sseconformBin builds cmd/sseconform once for the peer tests.
var sseconformBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "sseconform-peers-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "sseconform")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/ssekit/ssekit/cmd/sseconform").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build cmd/sseconform: %v\n%s", err, out)
	}
	return bin, nil
})

// checkArgs is how the peers are checked: the end is declared (a close
// event after exactly the 9 events), the watch is short (r3labs' stream
// never ends by itself) and -idle long enough never to judge heartbeats.
var checkArgs = []string{"check", "-json", "-timeout", "10s", "-idle", "5s", "-duration", "2s", "-want-end", "-want-events", "9"}

// checkReport is sseconform check -json's output.
type checkReport struct {
	Checks []struct{ Name, Status, Detail string }
	Exit   int
}

// peerRun is what the test saw of one peer: the checker's report, and the
// raw bytes of a first stream and of a resumed one (on another instance of
// the peer, so the checker's requests do not change them).
type peerRun struct {
	report        map[string][2]string // check -> status, detail
	raw, resumed  rawStream
	events        []client.Event // raw, read by the spec-exact parser
	lastID        string         // the Last-Event-ID of the resumed request
	resumedEvents []client.Event
}

// Classes of data, the table's columns.
var peerClasses = []string{"LF in data", "CR in data", "CRLF in data", "leading space", "empty data", "event name, empty data", "id, resume", "end", "headers"}

// finding is what the checker reports on one class, and the bytes that
// justify it.
type finding struct {
	check, status string // the check and its status
	detail        string // in the check's detail
	note          string // for the table
	// confirm says whether the raw bytes show what justifies the report.
	confirm func(r *peerRun) bool
	bytes   string // the byte pattern confirm looks for, for the table
}

type peerCase struct {
	name, versions string
	start          func(t *testing.T) string
	want           map[string]string // every check not PASS, and its status
	findings       map[string]finding
	// data maps intended data to what arrives: identity but for
	// better-sse, which JSON-encodes it.
	data func(string) string
}

func contains(s string) func(r *peerRun) bool {
	return func(r *peerRun) bool { return bytes.Contains(r.raw.body, []byte(s)) }
}

func lacks(s string) func(r *peerRun) bool {
	return func(r *peerRun) bool { return !bytes.Contains(r.raw.body, []byte(s)) }
}

// headersWarn are the header warnings most peers get.
func headersWarn(hop bool) finding {
	f := finding{check: "x-accel-buffering", status: "WARN", detail: "absent", note: "no X-Accel-Buffering: no",
		confirm: func(r *peerRun) bool { return r.raw.header.Get("X-Accel-Buffering") == "" }, bytes: "no X-Accel-Buffering header"}
	if hop {
		f.note += "; Connection: keep-alive (WARN hop-by-hop)"
		f.bytes += "; Connection: keep-alive"
	}
	return f
}

var peerCases = []peerCase{
	{name: "ssekit (control)", versions: "this tree, net/http adapter", start: startSSEKit,
		want: map[string]string{"heartbeat": "SKIP"}},
	{name: "tmaxmax/go-sse", versions: "go-sse v0.12.0 (sse.Upgrade, Session.Send)", start: startGoSSE,
		want: map[string]string{"cache-control": "FAIL", "x-accel-buffering": "WARN", "dispatch": "FAIL", "end": "FAIL", "heartbeat": "SKIP", "reconnect": "FAIL"},
		findings: map[string]finding{
			"empty data": {check: "dispatch", status: "FAIL", detail: `1 block with only an id field (line 19 "id: 6")`, note: "sent as an id-only block: no event",
				confirm: contains("id: 5\ndata:  leading space\n\nid: 6\n\n"), bytes: `"id: 6\n\n" (no data line)`},
			"event name, empty data": {check: "dispatch", status: "FAIL", detail: `event field but no data line (line 25 "id: 8")`, note: "sent without a data line: the event is lost",
				confirm: contains("id: 8\nevent: named\n\n"), bytes: `"id: 8\nevent: named\n\n"`},
			"end": {check: "end", status: "FAIL", detail: "ended after 7 of the 9 events expected", note: "7 of 9 events (the two empty ones lost)",
				confirm: func(r *peerRun) bool { return len(r.events) == 7 }, bytes: "7 events parsed from the raw body"},
			"id, resume": {check: "reconnect", status: "FAIL", detail: `with Last-Event-ID "9": 200 but Content-Type ""`, note: "a resume with nothing left to send answers 200 without Content-Type (headers only go with the first Send)",
				confirm: func(r *peerRun) bool {
					return r.lastID == "9" && r.resumed.header.Get("Content-Type") == "" && len(r.resumed.body) == 0
				}, bytes: "Last-Event-ID 9: no Content-Type, empty body"},
			"headers": {check: "cache-control", status: "FAIL", detail: "no Cache-Control", note: "no Cache-Control; no X-Accel-Buffering (WARN)",
				confirm: func(r *peerRun) bool { return r.raw.header.Get("Cache-Control") == "" }, bytes: "no Cache-Control header"},
		}},
	{name: "r3labs/sse", versions: "r3labs/sse/v2 v2.10.0 (Server.Publish, AutoReplay; numbers events from 0)", start: startR3labs,
		want: map[string]string{"x-accel-buffering": "WARN", "hop-by-hop": "WARN", "line-endings": "WARN", "fields": "WARN", "end": "FAIL", "heartbeat": "SKIP", "reconnect": "FAIL"},
		findings: map[string]finding{
			"LF in data": {check: "fields", status: "WARN", detail: `field "in data"`, note: `not split (SplitData off by default): "in data" becomes an unknown field`,
				confirm: contains("data: lf\nin data\n"), bytes: `"data: lf\nin data\n"`},
			"CR in data": {check: "line-endings", status: "WARN", detail: "mixed line endings", note: "bare CR inside a data line: mixed line endings, and an unknown field",
				confirm: contains("data: cr\rin data\n"), bytes: `"data: cr\rin data\n"`},
			"CRLF in data": {check: "line-endings", status: "WARN", detail: "1 CRLF", note: "CRLF inside a data line",
				confirm: contains("data: crlf\r\nin data\n"), bytes: `"data: crlf\r\nin data\n"`},
			"empty data": {check: "end", status: "FAIL", detail: `ended after 5 of the 9 events expected (-want-events); the last event read: type "message", data " leading space"`,
				note: "the stream ends at the empty event (its handler stops on empty data)",
				confirm: func(r *peerRun) bool {
					return bytes.HasSuffix(r.raw.body, []byte("data:  leading space\n\n")) && len(r.events) == 5
				}, bytes: `the body ends after "data:  leading space\n\n"`},
			"event name, empty data": {note: "never sent: the stream ended before it",
				confirm: lacks("named"), bytes: `no "named" in the body`},
			"id, resume": {check: "reconnect", status: "FAIL", detail: `is the event "4" again`, note: "replays the Last-Event-ID event itself (it replays ids >= the one given)",
				confirm: func(r *peerRun) bool { return r.lastID == "4" && bytes.HasPrefix(r.resumed.body, []byte("id: 4\n")) },
				bytes:   `Last-Event-ID 4: the body starts "id: 4\n"`},
			"end": {check: "end", status: "FAIL", detail: "5 of the 9", note: "5 of 9 events, no close event",
				confirm: func(r *peerRun) bool { return len(r.events) == 5 }, bytes: "5 events parsed from the raw body"},
			"headers": headersWarn(true),
		}},
	{name: "Gin c.SSEvent", versions: "gin v1.12.0 (gin-contrib/sse v1.1.0)", start: startGin,
		want: map[string]string{"content-type": "WARN", "x-accel-buffering": "WARN", "heartbeat": "SKIP", "reconnect": "SKIP"},
		findings: map[string]finding{
			"CR in data": {check: "line-endings", status: "PASS", note: `not seen by the checker: CR is escaped as the two characters "\r", so clients get a backslash`,
				confirm: contains(`data:cr\rin data` + "\n"), bytes: `"data:cr\\rin data\n"`},
			"CRLF in data": {check: "line-endings", status: "PASS", note: `not seen by the checker: "crlf\r" (a literal backslash-r), then a new data line`,
				confirm: contains(`data:crlf\r` + "\ndata:in data\n"), bytes: `"data:crlf\\r\ndata:in data\n"`},
			"leading space": {check: "parse", status: "PASS", note: `not seen by the checker: "data:" then the value, so clients strip its leading space`,
				confirm: func(r *peerRun) bool {
					return bytes.Contains(r.raw.body, []byte("data: leading space\n")) && slices.ContainsFunc(r.events, func(e client.Event) bool { return e.Data == "leading space" })
				}, bytes: `"data: leading space\n" (one space: stripped)`},
			"id, resume": {check: "reconnect", status: "SKIP", detail: "no id", note: "c.SSEvent cannot send an id: no resume",
				confirm: lacks("id:"), bytes: `no "id:" in the body`},
			"headers": {check: "content-type", status: "WARN", detail: "charset=utf-8", note: "Content-Type with ;charset=utf-8; no X-Accel-Buffering (WARN)",
				confirm: func(r *peerRun) bool { return r.raw.header.Get("Content-Type") == "text/event-stream;charset=utf-8" }, bytes: `Content-Type "text/event-stream;charset=utf-8"`},
		}},
	{name: "Echo cookbook recipe", versions: "echo v4.16.0, the cookbook's Event.MarshalTo", start: startEcho,
		want: map[string]string{"x-accel-buffering": "WARN", "hop-by-hop": "WARN", "line-endings": "WARN", "fields": "WARN", "end": "FAIL", "heartbeat": "SKIP"},
		findings: map[string]finding{
			"CR in data": {check: "fields", status: "WARN", detail: `field "in data" (once)`, note: "split on LF only: a bare CR inside a data line starts an unknown field",
				confirm: contains("data: cr\rin data\n"), bytes: `"data: cr\rin data\n"`},
			"CRLF in data": {check: "line-endings", status: "WARN", detail: "1 CRLF", note: "arrives right by luck (CR before the split LF): mixed line endings",
				confirm: contains("data: crlf\r\ndata: in data\n"), bytes: `"data: crlf\r\ndata: in data\n"`},
			"empty data": {check: "end", status: "FAIL", detail: "ended after 7 of the 9 events expected", note: "MarshalTo writes nothing for empty data: silently dropped",
				confirm: lacks("id: 6\n"), bytes: `no "id: 6" in the body`},
			"event name, empty data": {check: "end", status: "FAIL", detail: "ended after 7 of the 9", note: "dropped too",
				confirm: lacks("id: 8\n"), bytes: `no "id: 8" in the body`},
			"end": {check: "end", status: "FAIL", detail: "7 of the 9", note: "7 of 9 events",
				confirm: func(r *peerRun) bool { return len(r.events) == 7 }, bytes: "7 events parsed from the raw body"},
			"headers": headersWarn(true),
		}},
	{name: "Fiber recipe", versions: "fiber v2.52.15 (fasthttp v1.78.0), SetBodyStreamWriter + Fprintf", start: startFiber,
		want: map[string]string{"x-accel-buffering": "WARN", "hop-by-hop": "WARN", "line-endings": "WARN", "fields": "WARN", "heartbeat": "SKIP"},
		findings: map[string]finding{
			"LF in data": {check: "fields", status: "WARN", detail: `field "in data" (3 times)`, note: `Fprintf("data: %s\n\n"): "in data" becomes an unknown field`,
				confirm: contains("data: lf\nin data\n"), bytes: `"data: lf\nin data\n"`},
			"CR in data": {check: "line-endings", status: "WARN", detail: "1 CR", note: "bare CR inside a data line",
				confirm: contains("data: cr\rin data\n"), bytes: `"data: cr\rin data\n"`},
			"CRLF in data": {check: "line-endings", status: "WARN", detail: "1 CRLF", note: "CRLF inside a data line",
				confirm: contains("data: crlf\r\nin data\n"), bytes: `"data: crlf\r\nin data\n"`},
			"headers": headersWarn(true),
		}},
	{name: "Hono streamSSE", versions: "hono 4.13.23, @hono/node-server 2.1.11, Node 20", start: startNode("hono"),
		want:     map[string]string{"x-accel-buffering": "WARN", "hop-by-hop": "WARN", "heartbeat": "SKIP"},
		findings: map[string]finding{"headers": headersWarn(true)}},
	{name: "better-sse on Express", versions: "better-sse 0.16.1, express 5.3.0, Node 20", start: startNode("better-sse"),
		want: map[string]string{"hop-by-hop": "WARN", "heartbeat": "SKIP"},
		data: func(s string) string { b, _ := json.Marshal(s); return string(b) },
		findings: map[string]finding{
			"headers": {check: "hop-by-hop", status: "WARN", detail: "Connection: keep-alive", note: "Connection: keep-alive; data is JSON-encoded by default (clients must JSON.parse it)",
				confirm: func(r *peerRun) bool { return r.raw.header.Get("Connection") == "keep-alive" }, bytes: "Connection: keep-alive"},
		}},
}

// intended is, for each class, the data sent and what a spec-exact client
// must see (checked when the checker reports nothing on the class): CR and
// CRLF arrive as LF.
var intended = map[string]struct{ typ, sent, got string }{
	"LF in data":             {"message", "lf\nin data", "lf\nin data"},
	"CR in data":             {"message", "cr\rin data", "cr\nin data"},
	"CRLF in data":           {"message", "crlf\r\nin data", "crlf\nin data"},
	"leading space":          {"message", " leading space", " leading space"},
	"empty data":             {"message", "", ""},
	"event name, empty data": {"named", "", ""},
}

// TestPeers runs the checker on every peer and asserts its report, check by
// check, and each finding against the raw bytes.
func TestPeers(t *testing.T) {
	bin, err := sseconformBin()
	if err != nil {
		t.Fatal(err)
	}
	table := make([]string, len(peerCases))
	for i, pc := range peerCases {
		t.Run(strings.NewReplacer(" ", "-", "/", "-", "(", "", ")", "").Replace(pc.name), func(t *testing.T) {
			r := runPeer(t, bin, pc)
			var got []string
			for name, st := range r.report {
				// headers-prompt times the peer's first answer, and flush
				// warns when every event arrived with the end (a peer
				// process descheduled, then writing all at once): a
				// warning there says the machine was busy, not what the
				// peer does. (A flush FAIL, events with the headers, still
				// counts; ssekit's own flushing is the conformance suite's.)
				if (name == "headers-prompt" || name == "flush") && st[0] == "WARN" && pc.want[name] == "" {
					t.Logf("%s: WARN on a busy machine: %v", name, st[1:])
					continue
				}
				if st[0] != "PASS" {
					got = append(got, name+"="+st[0])
				}
			}
			var want []string
			for name, st := range pc.want {
				want = append(want, name+"="+st)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("checks not PASS: got %v; want %v", got, want)
			}
			cells := []string{fmt.Sprintf("%s (%s)", pc.name, pc.versions)}
			for _, class := range peerClasses {
				cells = append(cells, peerCell(t, r, pc, class))
			}
			table[i] = "| " + strings.Join(cells, " | ") + " |"
			if t.Failed() {
				t.Logf("raw body: %q\nresumed after %q: %q", r.raw.body, r.lastID, r.resumed.body)
			}
		})
	}
	md := "| peer | " + strings.Join(peerClasses, " | ") + " |\n|" + strings.Repeat(" --- |", len(peerClasses)+1) + "\n" + strings.Join(table, "\n") + "\n"
	t.Logf("sseconform check %s, on each peer:\n%s", strings.Join(checkArgs[1:], " "), md)
	if dir := os.Getenv("SSEKIT_ARTIFACTS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "peers.md"), []byte(md), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// peerCell asserts the finding on one class, or the intended event when
// there is none, and returns the table's cell.
func peerCell(t *testing.T, r *peerRun, pc peerCase, class string) string {
	f, ok := pc.findings[class]
	if !ok {
		switch class {
		case "id, resume":
			if st := r.report["reconnect"]; st[0] != "PASS" {
				t.Errorf("%s: reconnect %s (%s) without a finding", class, st[0], st[1])
			}
			for _, e := range r.resumedEvents {
				if e.LastEventID != "" && e.LastEventID <= r.lastID { // ids "1" to "9"
					t.Errorf("%s: resumed after %q, the raw stream has id %q", class, r.lastID, e.LastEventID)
				}
			}
			return fmt.Sprintf("ok: after Last-Event-ID %s, %d events (bytes: no id at or below it)", r.lastID, len(r.resumedEvents))
		case "end":
			if n := len(r.events); n != 9 || r.events[n-1].Type != "close" {
				t.Errorf("%s: %d events; want 9, a close event last", class, n)
			}
			return "ok: 9 events, close last"
		case "headers":
			return "ok"
		}
		in := intended[class]
		want := in.got
		if pc.data != nil {
			want = pc.data(in.sent)
		}
		if !slices.ContainsFunc(r.events, func(e client.Event) bool { return e.Type == in.typ && e.Data == want }) {
			t.Errorf("%s: no %s event with data %q among those a spec-exact client reads from the raw body", class, in.typ, want)
		}
		return "ok"
	}
	if f.check != "" {
		st := r.report[f.check]
		if st[0] != f.status || !strings.Contains(st[1], f.detail) {
			t.Errorf("%s: %s is %s (%s); want %s, with %q", class, f.check, st[0], st[1], f.status, f.detail)
		}
	}
	if !f.confirm(r) {
		t.Errorf("%s: the raw bytes lack what justifies the finding: %s", class, f.bytes)
	}
	b := strings.ReplaceAll(f.bytes, "|", `\|`)
	switch {
	case f.check == "":
		return f.note + " (bytes: " + b + ")"
	case f.status == "PASS":
		return fmt.Sprintf("PASS, not detectable: %s (bytes: %s)", f.note, b)
	}
	return fmt.Sprintf("**%s %s**: %s (bytes: %s)", f.status, f.check, f.note, b)
}

// runPeer checks one instance of the peer and reads another raw.
func runPeer(t *testing.T, bin string, pc peerCase) *peerRun {
	url := pc.start(t)
	out, err := exec.Command(bin, append(slices.Clip(checkArgs), url)...).Output()
	var rep checkReport
	if jerr := json.Unmarshal(out, &rep); jerr != nil {
		t.Fatalf("sseconform check: %v, output %q: %v", err, out, jerr)
	}
	r := &peerRun{report: map[string][2]string{}}
	for _, c := range rep.Checks {
		r.report[c.Name] = [2]string{c.Status, c.Detail}
	}
	if wantExit := map[bool]int{true: 1, false: 0}[slices.Contains(mapsValues(pc.want), "FAIL")]; rep.Exit != wantExit {
		t.Errorf("exit %d; want %d", rep.Exit, wantExit)
	}

	url = pc.start(t)
	r.raw = fetchRaw(t, url, "", 3*time.Second)
	r.events = client.ParseAll(r.raw.body)
	if n := len(r.events); n > 0 {
		r.lastID = r.events[n-1].LastEventID
	}
	if r.lastID != "" {
		r.resumed = fetchRaw(t, url, r.lastID, 3*time.Second)
		r.resumedEvents = client.ParseAll(r.resumed.body)
	}
	return r
}

func mapsValues(m map[string]string) []string {
	var v []string
	for _, s := range m {
		v = append(v, s)
	}
	return v
}
