package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/conformance/remote"
)

// runScenarios is mode 1: the scenario protocol against BASE_URL, or -protocol.
func runScenarios(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("sseconform")
	protocol := fs.Bool("protocol", false, "print the protocol")
	asJSON := fs.Bool("json", false, "print JSON")
	runRE := fs.String("run", "", "only the scenarios whose name matches")
	timeout := fs.Duration("timeout", conformance.DefaultTimeout, "bound on each request")
	parallel := fs.Int("parallel", 4, "scenarios run at once")
	verbose := fs.Bool("v", false, "say what each weaker form leaves out")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(stdout, stderr, err)
	}
	switch {
	case *timeout <= 0:
		return usageError(stdout, stderr, errors.New("-timeout must be positive"))
	case *parallel < 1:
		return usageError(stdout, stderr, errors.New("-parallel must be at least 1"))
	}
	scenarios, err := selectScenarios(*runRE)
	if err != nil {
		return usageError(stdout, stderr, err)
	}
	if *protocol {
		if len(pos) > 0 {
			return usageError(stdout, stderr, fmt.Errorf("-protocol takes no argument (got %q)", pos))
		}
		return printProtocol(stdout, stderr, scenarios, *asJSON)
	}
	switch len(pos) {
	case 0:
		return usageError(stdout, stderr, errors.New("missing BASE_URL (or a mode: check, serve)"))
	case 1:
	default:
		return usageError(stdout, stderr, fmt.Errorf("want one BASE_URL; got %q", pos))
	}
	u, err := parseURL(pos[0])
	if err != nil {
		return usageError(stdout, stderr, err)
	}
	base := strings.TrimSuffix(u.String(), "/")
	results := remote.Check(ctx, base, scenarios, remote.Options{Timeout: *timeout, Parallel: *parallel})
	code := exitOK
	for _, r := range results {
		if r.Outcome == remote.Fail {
			code = exitFail
		}
	}
	if *asJSON {
		writeScenariosJSON(stdout, base, results, code)
	} else {
		writeScenariosTable(stdout, base, results, *verbose)
	}
	return code
}

// selectScenarios returns the remote scenarios whose name matches expr
// (all when empty).
func selectScenarios(expr string) ([]remote.Scenario, error) {
	all := remote.Scenarios()
	if expr == "" {
		return all, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("-run: %v", err)
	}
	var out []remote.Scenario
	for _, s := range all {
		if re.MatchString(s.Name) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-run %q matches no scenario", expr)
	}
	return out, nil
}

// writeScenariosTable prints the results as a table, failure messages
// under their scenario, and a summary.
func writeScenariosTable(w io.Writer, base string, results []remote.Result, verbose bool) {
	fmt.Fprintf(w, "sseconform: the scenario protocol at %s\n\n", base)
	width := len("SCENARIO")
	for _, r := range results {
		width = max(width, len(r.Name))
	}
	row := func(result, form, name, elapsed string) {
		fmt.Fprintf(w, "%-6s  %-6s  %-*s  %s\n", result, form, width, name, elapsed)
	}
	row("RESULT", "FORM", "SCENARIO", "TIME")
	var passed, weaker, failed, na int
	allNotFound := true
	for _, r := range results {
		form, elapsed := r.Form.String(), "-"
		if r.Outcome != remote.NotCheckable {
			elapsed = r.Elapsed.Round(time.Millisecond).String()
		} else {
			form = "-"
		}
		row(r.Outcome.String(), form, r.Name, elapsed)
		var notes []string
		switch r.Outcome {
		case remote.Pass:
			passed++
			if r.Form == remote.Weaker {
				weaker++
				if verbose {
					notes = append(notes, "weaker form: "+oneLine(r.Note))
				}
			}
		case remote.Fail:
			failed++
			notes = r.Messages
			if !strings.Contains(strings.Join(r.Messages, "\n"), "status 404") {
				allNotFound = false
			}
		case remote.NotCheckable:
			na++
			notes = append(notes, "not checkable remotely: "+oneLine(r.Note))
		}
		for _, n := range notes {
			fmt.Fprintf(w, "        %s\n", strings.ReplaceAll(strings.TrimRight(n, "\n"), "\n", "\n        "))
		}
	}
	fmt.Fprintf(w, "\n%d scenarios: %d passed", len(results), passed)
	if weaker > 0 {
		fmt.Fprintf(w, " (%d in a weaker form)", weaker)
	}
	fmt.Fprintf(w, ", %d failed, %d not checkable remotely.\n", failed, na)
	if failed > 0 && passed == 0 && allNotFound {
		fmt.Fprintf(w, "Every route answered 404: the server at %s does not seem to serve the scenario protocol\n"+
			"(sseconform -protocol describes it). To check one event-stream URL, run 'sseconform check URL'.\n", base)
	}
}

// oneLine joins a multi-line note into one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// scenarioJSON is one result in -json output.
type scenarioJSON struct {
	Name      string   `json:"name"`
	Result    string   `json:"result"`
	Form      string   `json:"form"`
	ElapsedMS float64  `json:"elapsed_ms"`
	Messages  []string `json:"messages,omitempty"`
	Note      string   `json:"note,omitempty"`
}

func writeScenariosJSON(w io.Writer, base string, results []remote.Result, code int) {
	out := struct {
		Base         string         `json:"base"`
		Results      []scenarioJSON `json:"results"`
		Passed       int            `json:"passed"`
		Failed       int            `json:"failed"`
		NotCheckable int            `json:"not_checkable"`
		Exit         int            `json:"exit"`
	}{Base: base, Results: []scenarioJSON{}, Exit: code}
	for _, r := range results {
		out.Results = append(out.Results, scenarioJSON{
			Name: r.Name, Result: r.Outcome.String(), Form: r.Form.String(),
			ElapsedMS: float64(r.Elapsed.Microseconds()) / 1000, Messages: r.Messages, Note: oneLine(r.Note),
		})
		switch r.Outcome {
		case remote.Pass:
			out.Passed++
		case remote.Fail:
			out.Failed++
		case remote.NotCheckable:
			out.NotCheckable++
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}

// printProtocol prints the protocol for scenarios, as text or JSON.
func printProtocol(stdout, stderr io.Writer, scenarios []remote.Scenario, asJSON bool) int {
	if !asJSON {
		if err := remote.WriteProtocol(stdout, scenarios); err != nil {
			fmt.Fprintf(stderr, "sseconform: %v\n", err)
			return exitFail
		}
		return exitOK
	}
	entries, err := remote.Protocol(scenarios)
	if err != nil {
		fmt.Fprintf(stderr, "sseconform: %v\n", err)
		return exitFail
	}
	type eventJSON struct {
		Type        string `json:"type"`
		Data        string `json:"data"`
		LastEventID string `json:"last_event_id"`
	}
	type exchangeJSON struct {
		Method         string              `json:"method"`
		Path           string              `json:"path"`
		Header         map[string][]string `json:"header,omitempty"`
		Body           string              `json:"body,omitempty"`
		Status         int                 `json:"status"`
		ResponseHeader map[string][]string `json:"response_header"`
		ResponseBody   string              `json:"response_body"`
		Endless        bool                `json:"endless,omitempty"`
		Want           []eventJSON         `json:"want,omitempty"`
		WantEnd        bool                `json:"want_end,omitempty"`
		WantRetryMS    int64               `json:"want_retry_ms,omitempty"`
	}
	type entryJSON struct {
		Name           string         `json:"name"`
		Doc            string         `json:"doc"`
		Form           string         `json:"form"`
		Note           string         `json:"note,omitempty"`
		Server         string         `json:"server,omitempty"`
		HeartbeatMS    int64          `json:"heartbeat_ms,omitempty"`
		WriteTimeoutMS int64          `json:"write_timeout_ms,omitempty"`
		Exchanges      []exchangeJSON `json:"exchanges"`
	}
	out := struct {
		Scenarios    []entryJSON `json:"scenarios"`
		NotCheckable []string    `json:"not_checkable"`
	}{Scenarios: []entryJSON{}, NotCheckable: []string{}}
	for _, s := range scenarios {
		if s.Form == remote.None {
			out.NotCheckable = append(out.NotCheckable, s.Name)
		}
	}
	for _, e := range entries {
		ej := entryJSON{
			Name: e.Name, Doc: oneLine(e.Doc), Form: e.Form.String(), Note: oneLine(e.Note), Server: oneLine(e.Server),
			HeartbeatMS: e.Heartbeat.Milliseconds(), WriteTimeoutMS: e.WriteTimeout.Milliseconds(),
		}
		for _, ex := range e.Exchanges {
			rq := ex.Request
			xj := exchangeJSON{
				Method: rq.Method, Path: rq.Path, Header: rq.Header, Body: rq.Body,
				Status: ex.Status, ResponseHeader: ex.Header, ResponseBody: ex.Body, Endless: ex.Endless,
				WantEnd: rq.WantEnd, WantRetryMS: rq.WantRetry.Milliseconds(),
			}
			for _, ev := range rq.Want {
				xj.Want = append(xj.Want, eventJSON{Type: ev.Type, Data: ev.Data, LastEventID: ev.LastEventID})
			}
			ej.Exchanges = append(ej.Exchanges, xj)
		}
		out.Scenarios = append(out.Scenarios, ej)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(stderr, "sseconform: %v\n", err)
		return exitFail
	}
	return exitOK
}
