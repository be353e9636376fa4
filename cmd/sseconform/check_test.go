package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

// checkRE matches a line of check mode's report.
var checkRE = regexp.MustCompile(`(?m)^(PASS|FAIL|WARN|SKIP) +(\S+) +(.*)$`)

// checks maps each check of a report to its status and detail.
func checks(report string) map[string][2]string {
	m := map[string][2]string{}
	for _, r := range checkRE.FindAllStringSubmatch(report, -1) {
		m[r[2]] = [2]string{r[1], r[3]}
	}
	return m
}

// TestCheckReference: check mode against the reference passes.
func TestCheckReference(t *testing.T) {
	base := startServe(t)
	for _, tc := range []struct {
		name string
		args []string
		want map[string]string // checks not PASS
	}{
		// Paced events with ids, every kind of data, resumable, ending with
		// a close event: everything applies, and the end is declared.
		{"paced", []string{"check", "-idle", "2s", "-want-end", "-want-events", "9", base + demoPath},
			map[string]string{"heartbeat": "SKIP"}}, // it ends within -idle
		// An open stream with heartbeats; flags after the URL.
		{"idle", []string{"check", base + "/client-disconnect-idle", "-idle", "500ms", "-duration", "1s"},
			map[string]string{"flush": "SKIP", "reconnect": "SKIP", "end": "SKIP"}},
		// A request header: the route answers 400 without Last-Event-ID.
		{"header", []string{"check", "-H", "Last-Event-ID: 41", "-idle", "10s", "-want-events", "3", base + "/last-event-id"},
			map[string]string{"heartbeat": "SKIP", "flush": "SKIP"}}, // 3 events at once
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tc.args...)
			if code != exitOK {
				t.Errorf("exit %d; want 0\n%s%s", code, stdout, stderr)
			}
			got := checks(stdout)
			if len(got) != len(checkNames) {
				t.Errorf("got %d checks; want %d:\n%s", len(got), len(checkNames), stdout)
			}
			for _, name := range checkNames {
				want := tc.want[name]
				if want == "" {
					want = "PASS"
				}
				if got[name][0] != want {
					t.Errorf("%s: got %s (%s); want %s", name, got[name][0], got[name][1], want)
				}
			}
		})
	}
}

// TestCheckJSON: -json output parses, with every check.
func TestCheckJSON(t *testing.T) {
	base := startServe(t)
	code, stdout, _ := runCmd(t, "check", "-json", "-idle", "300ms", base+"/ids")
	if code != exitOK {
		t.Errorf("exit %d; want 0", code)
	}
	var out struct {
		URL    string
		Ended  string
		Checks []checkResult
		Counts map[string]int
		Exit   int
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("-json output does not parse: %v\n%s", err, stdout)
	}
	if out.URL != base+"/ids" || out.Ended != endEOF || len(out.Checks) != len(checkNames) || out.Exit != 0 {
		t.Errorf("got %+v", out)
	}
	for i, c := range out.Checks {
		if c.Name != checkNames[i] || c.Detail == "" {
			t.Errorf("check %d: got %+v; want %s, with a detail", i, c, checkNames[i])
		}
	}
}

// stream returns a handler that sets the headers of an event stream (with
// header overrides; an empty value deletes), then calls body.
func stream(override map[string]string, body func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		for k, v := range override {
			if v == "" {
				h.Del(k)
			} else {
				h.Set(k, v)
			}
		}
		w.WriteHeader(http.StatusOK)
		body(w, r)
	}
}

// send writes s and flushes.
func send(s string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, s)
		http.NewResponseController(w).Flush()
	}
}

// TestCheckBroken: check mode catches broken servers, each with the right
// checks, and exits 1 on a failure (0 with warnings only).
func TestCheckBroken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		args    []string
		want    map[string]string // status of some checks
		detail  string            // in the report
		code    int
	}{
		{"unterminated", stream(nil, send("data:x\n")), nil,
			map[string]string{"framing": "FAIL", "parse": "FAIL", "status": "PASS"}, "was not terminated by a blank line", exitFail},
		{"unterminated-open", stream(nil, func(w http.ResponseWriter, r *http.Request) {
			send("data: x\n")(w, r)
			<-r.Context().Done()
		}), []string{"-idle", "2s", "-duration", "800ms"},
			map[string]string{"framing": "FAIL", "parse": "FAIL"}, "waited", exitFail},
		{"text-plain", stream(map[string]string{"Content-Type": "text/plain"}, send("data: x\n\n")), nil,
			map[string]string{"content-type": "FAIL", "framing": "PASS", "parse": "PASS"}, "is not text/event-stream", exitFail},
		{"casing", stream(map[string]string{"Content-Type": "Text/Event-Stream"}, send("data: x\n\n")), nil,
			map[string]string{"content-type": "FAIL"}, "compare it with \"text/event-stream\" exactly", exitFail},
		{"charset", stream(map[string]string{"Content-Type": "text/event-stream; charset=utf-8"}, send("data: x\n\n")), nil,
			map[string]string{"content-type": "WARN"}, "parameters are allowed", exitOK},
		{"buffered", stream(nil, func(w http.ResponseWriter, r *http.Request) {
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for i := range 5 {
				timer.Reset(100 * time.Millisecond) // the producer's pace
				select {
				case <-timer.C:
				case <-r.Context().Done():
					return
				}
				io.WriteString(w, "id: "+string(rune('0'+i))+"\ndata: x\n\n") // no flush
			}
		}), nil,
			map[string]string{"flush": "FAIL", "content-length": "FAIL", "headers-prompt": "WARN", "parse": "PASS"}, "buffers the stream", exitFail},
		{"silent", stream(nil, func(w http.ResponseWriter, r *http.Request) {
			http.NewResponseController(w).Flush()
			<-r.Context().Done()
		}), []string{"-idle", "300ms"},
			map[string]string{"heartbeat": "FAIL", "parse": "FAIL", "framing": "SKIP", "headers-prompt": "PASS"}, "nothing (no event, no comment) for 300ms", exitFail},
		{"messy", stream(nil, send("data: a\r\n\r\n\uFEFFdata: b\n\nData: c\n\nretry: soon\n\n")), nil,
			map[string]string{"bom": "FAIL", "line-endings": "WARN", "fields": "WARN", "framing": "PASS"}, `field "Data" (once; not "data": names are exact)`, exitFail},
		{"bom-start", stream(nil, send("\uFEFFdata: a\n\n")), nil,
			map[string]string{"bom": "WARN", "parse": "PASS"}, "starts with a byte order mark", exitOK},
		{"lone-cr", stream(nil, send("data: a\r\rdata: b\r\r")), nil,
			map[string]string{"line-endings": "WARN", "framing": "PASS", "flush": "SKIP"}, "lone CR", exitOK},
		{"invalid-utf8", stream(nil, send("data: \xff\n\n")), nil,
			map[string]string{"utf8": "FAIL"}, "not valid UTF-8", exitFail},
		{"no-cache-keep-alive", stream(map[string]string{"Cache-Control": "", "Connection": "keep-alive", "X-Accel-Buffering": ""}, send("data: x\n\n")), nil,
			map[string]string{"cache-control": "FAIL", "hop-by-hop": "WARN", "x-accel-buffering": "WARN"}, "no Cache-Control", exitFail},
		{"not-found", http.NotFound, nil,
			map[string]string{"status": "FAIL", "content-type": "SKIP", "reconnect": "SKIP"}, "404 Not Found", exitFail},
		{"redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }, nil,
			map[string]string{"status": "FAIL"}, "redirect to \"/elsewhere\"", exitFail},
		{"no-content", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, nil,
			map[string]string{"status": "FAIL", "parse": "SKIP"}, "204 No Content", exitFail},

		// (a) Only a block with data needs its blank line.
		{"final-retry", stream(nil, send("data: a\n\nretry: 700\n")), nil,
			map[string]string{"framing": "PASS", "dispatch": "PASS", "parse": "PASS"}, `fields that dispatch nothing ("retry: 700", line 3)`, exitOK},
		{"final-comment", stream(nil, send("data: a\n\n: bye\n")), nil,
			map[string]string{"framing": "PASS", "parse": "PASS"}, "1 event, ended by a blank line", exitOK},
		{"retry-then-data-unterminated", stream(nil, send("data: a\n\nretry: 700\ndata: b\n")), nil,
			map[string]string{"framing": "FAIL"}, `the last event ("retry: 700", line 3) was not terminated`, exitFail},
		{"partial-retry", stream(nil, send("data: a\n\nretry: 700")), nil,
			map[string]string{"framing": "WARN"}, "its field is not applied", exitOK},
		{"retry-only-live", stream(nil, func(w http.ResponseWriter, r *http.Request) {
			send("data: a\n\nretry: 700\n")(w, r)
			<-r.Context().Done()
		}), []string{"-idle", "2s", "-duration", "800ms"},
			map[string]string{"framing": "PASS", "parse": "PASS"}, "1 event, ended by a blank line", exitOK},

		// (b) A resume must start after the Last-Event-ID.
		{"resume-duplicate", resumable(1, 3), nil,
			map[string]string{"reconnect": "FAIL"}, `is the event "3" again`, exitFail},
		{"resume-earlier", resumable(2, 4), nil, // resumes one before: 3, 4, 5
			map[string]string{"reconnect": "FAIL"}, `resumes with id "3", which came before "4"`, exitFail},
		{"resume-numeric", func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Last-Event-ID") == "" {
				stream(nil, send("id: 10\ndata: a\n\nid: 20\ndata: b\n\nid: 30\ndata: c\n\n"))(w, r)
			} else {
				stream(nil, send("data: no id\n\nid: 25\ndata: c\n\n"))(w, r)
			}
		}, nil, map[string]string{"reconnect": "FAIL"}, `resumes with id "25", below "30"`, exitFail},
		{"resume-restart", func(w http.ResponseWriter, r *http.Request) {
			stream(nil, send("id: 1\ndata: a\n\nid: 2\ndata: b\n\n"))(w, r)
		}, nil, map[string]string{"reconnect": "WARN"}, `starts over, as a new connection does (event 1, the first with an id, is "1" again)`, exitOK},
		{"resume-ok", func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Last-Event-ID") == "" {
				stream(nil, send("id: a\ndata: a\n\nid: b\ndata: b\n\n"))(w, r)
			} else {
				stream(nil, send("id: c\ndata: c\n\n"))(w, r)
			}
		}, nil, map[string]string{"reconnect": "PASS"}, `resuming with id "c"`, exitOK},

		// (c) A framed block without data dispatches nothing.
		{"event-without-data", stream(nil, send("id: 1\ndata: a\n\nid: 2\nevent: x\n\nid: 3\ndata: c\n\n")), nil,
			map[string]string{"dispatch": "FAIL", "framing": "PASS", "parse": "PASS"},
			`1 block with an event field but no data line (line 4 "id: 2")`, exitFail},
		{"id-without-data", stream(nil, send("data: a\n\nid: 7\n\n")), nil,
			map[string]string{"dispatch": "WARN"}, `only an id field (line 3 "id: 7")`, exitOK},
		{"final-event-without-data", stream(nil, send("data: a\n\nevent: x\n")), nil,
			map[string]string{"dispatch": "FAIL", "framing": "PASS"}, "event field but no data line", exitFail},

		// (d) The declared end: -want-end, -want-events.
		{"want-events-short", stream(nil, send("data: 1\n\ndata: \n\n")), []string{"-want-events", "4"},
			map[string]string{"end": "FAIL"}, `ended after 2 of the 4 events expected (-want-events); the last event read: type "message", data ""`, exitFail},
		{"want-events-more", stream(nil, send("data: 1\n\ndata: 2\n\n")), []string{"-want-events", "1"},
			map[string]string{"end": "FAIL"}, "1 more than the 1 expected", exitFail},
		{"want-end-no-close", stream(nil, send("data: 1\n\n")), []string{"-want-end"},
			map[string]string{"end": "FAIL"}, `without a "close" event`, exitFail},
		{"want-end-after-close", stream(nil, send("event: close\ndata: 1\n\ndata: 2\n\n")), []string{"-want-end"},
			map[string]string{"end": "FAIL"}, `1 event after the "close" event`, exitFail},
		{"want-end-open", stream(nil, func(w http.ResponseWriter, r *http.Request) {
			send("event: close\ndata: 1\n\n")(w, r)
			<-r.Context().Done()
		}), []string{"-want-end", "-idle", "2s", "-duration", "500ms"},
			map[string]string{"end": "FAIL"}, "the stream did not end", exitFail},
		{"end-undeclared", stream(nil, send("data: 1\n\n")), nil,
			map[string]string{"end": "PASS"}, "without a final \"close\" event a browser reconnects", exitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tc.handler)
			t.Cleanup(srv.Close)
			args := append([]string{"check", "-timeout", "5s"}, tc.args...)
			code, stdout, stderr := runCmd(t, append(args, srv.URL+"/sse")...)
			if code != tc.code {
				t.Errorf("exit %d; want %d", code, tc.code)
			}
			got := checks(stdout)
			for name, want := range tc.want {
				if got[name][0] != want {
					t.Errorf("%s: got %s (%s); want %s", name, got[name][0], got[name][1], want)
				}
			}
			if !strings.Contains(stdout, tc.detail) {
				t.Errorf("the report lacks %q", tc.detail)
			}
			if t.Failed() {
				t.Logf("report:\n%s%s", stdout, stderr)
			}
		})
	}
}

// resumable returns a handler that sends events with ids 1 to n, and on a
// reconnection resumes back events too early (1: with the Last-Event-ID
// itself), sending 3 events: the off-by-one bugs.
func resumable(back, n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		from, to := 1, n
		if last, err := strconv.Atoi(r.Header.Get("Last-Event-ID")); err == nil {
			from = last + 1 - back
			to = from + 2
		}
		for i := from; i <= to; i++ {
			fmt.Fprintf(&b, "id: %d\ndata: x\n\n", i)
		}
		stream(nil, send(b.String()))(w, r)
	}
}

// TestCheckRetryOnlyReference (a): ssekit's own encoder ends a stream whose
// last message is retry-only with "retry: 700\n" and no blank line; that
// is spec-valid output and passes.
func TestCheckRetryOnlyReference(t *testing.T) {
	srv := httptest.NewServer(nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return core.FromSeq(slices.Values([]core.Message{{Data: "a"}, {Retry: 700 * time.Millisecond}})), nil
	}))
	t.Cleanup(srv.Close)
	raw, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(raw.Body)
	raw.Body.Close()
	if string(body) != "data: a\n\nretry: 700\n" {
		t.Fatalf("the encoder sent %q; this test expects a final retry-only message without a blank line", body)
	}
	code, stdout, _ := runCmd(t, "check", "-want-events", "1", srv.URL)
	if got := checks(stdout); code != exitOK || got["framing"][0] != "PASS" || got["dispatch"][0] != "PASS" || got["end"][0] != "PASS" {
		t.Errorf("exit %d; want 0, framing, dispatch and end PASS\n%s", code, stdout)
	}
}

// TestCheckRefusedReconnect: a server that refuses the Last-Event-ID it
// sent fails the reconnect check.
func TestCheckRefusedReconnect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Last-Event-ID") != "" {
			http.Error(w, "unknown id", http.StatusBadRequest)
			return
		}
		stream(nil, send("id: 5\ndata: x\n\n"))(w, r)
	}))
	t.Cleanup(srv.Close)
	code, stdout, _ := runCmd(t, "check", srv.URL)
	got := checks(stdout)
	if code != exitFail || got["reconnect"][0] != "FAIL" || !strings.Contains(got["reconnect"][1], "400") {
		t.Errorf("exit %d, reconnect %v; want 1, FAIL with the status\n%s", code, got["reconnect"], stdout)
	}
}

// TestCheckNoServer: nothing listening is a failure, not a usage error.
func TestCheckNoServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	code, stdout, _ := runCmd(t, "check", "-timeout", "2s", url)
	if got := checks(stdout); code != exitFail || got["status"][0] != "FAIL" || got["parse"][0] != "SKIP" {
		t.Errorf("exit %d; want 1, status FAIL, the rest skipped\n%s", code, stdout)
	}
}
