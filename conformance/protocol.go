package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ssekit/ssekit/adapter"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// ProtocolHandler returns an http.Handler that serves the scenario protocol:
// the Handler of each scenario that has one, with its Options, at its path
// and every path below it, for any method, through the adapter that serve
// builds (which maps the *http.Request to a [Request]). "/" lists the routes;
// any other path answers 404. Mount it under a prefix with http.StripPrefix.
//
// A framework that is not built on net/http serves the same routes from
// [RemoteScenarios] with its own router.
func ProtocolHandler(scenarios []RemoteScenario, serve func(h Handler, opts ...core.Option) http.Handler) http.Handler {
	mux := http.NewServeMux()
	var index strings.Builder
	index.WriteString("The ssekit scenario protocol (sseconform -protocol describes it). Routes:\n")
	for _, s := range scenarios {
		if s.Handler == nil {
			continue
		}
		h := serve(s.Handler, s.Options...)
		mux.Handle(s.Path(), h)
		mux.Handle(s.Path()+"/", h)
		fmt.Fprintf(&index, "  %s\n", s.Path())
	}
	page := index.String()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, page)
	})
	return mux
}

// ProtocolEntry is one scenario of the scenario protocol: the requests a
// remote run sends and what the reference server answers, for other
// implementations to copy.
type ProtocolEntry struct {
	Name, Doc, Note, Server string
	Form                    RemoteForm
	// Heartbeat and WriteTimeout are the reference server's stream options
	// on the route (zero: core's defaults, 15s and 10s; negative: none).
	Heartbeat, WriteTimeout time.Duration
	Exchanges               []Exchange
}

// Exchange is one request of a [ProtocolEntry] and the reference response.
type Exchange struct {
	Request RemoteRequest
	// Status and Header are the reference response's status and headers
	// (those the server sets itself, such as Date, left out).
	Status int
	Header http.Header
	// Body holds the exact bytes the reference sends: for a stream, every
	// frame its target yields, heartbeat comments left out; for a stream
	// that does not end by itself (Endless), its first frames.
	Body    string
	Endless bool
}

// Protocol computes the scenario protocol for the scenarios that can be
// checked remotely (Form other than RemoteNone), by calling each reference
// handler directly and draining the frames its target yields through core's
// encoding: the bytes the reference server writes, without the network and
// without pauses.
func Protocol(scenarios []RemoteScenario) ([]ProtocolEntry, error) {
	var entries []ProtocolEntry
	for _, s := range scenarios {
		if s.Form == RemoteNone || s.Handler == nil {
			continue
		}
		o := core.NewOptions(s.Options...)
		e := ProtocolEntry{
			Name: s.Name, Doc: s.Doc, Note: s.Note, Server: s.Server, Form: s.Form,
			Heartbeat: o.Heartbeat, WriteTimeout: o.WriteTimeout,
		}
		h := s.wire
		if h == nil {
			h = s.Handler
		}
		for _, rq := range s.Requests {
			ex, err := exchange(h, rq)
			if err != nil {
				return nil, fmt.Errorf("conformance: scenario %s, %s %s: %w", s.Name, rq.Method, rq.Path, err)
			}
			e.Exchanges = append(e.Exchanges, ex)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// exchange calls h with rq as the reference server would and returns its
// answer.
func exchange(h Handler, rq RemoteRequest) (Exchange, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	header := rq.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if rq.WantStatus == http.StatusOK {
		header.Set("Accept", "text/event-stream")
	}
	ex := Exchange{Request: rq}
	tg, err := adapter.Open(core.Options{}, Request{
		Method:      rq.Method,
		Path:        rq.Path,
		LastEventID: header.Get("Last-Event-ID"),
		Header:      header,
		Context:     ctx,
		Body:        strings.NewReader(rq.Body),
	}, h)
	if err != nil {
		// What nethttpsse.Handle answers, with http.Error.
		ex.Status = core.StatusOf(err)
		ex.Header = http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "X-Content-Type-Options": {"nosniff"}}
		ex.Body = core.ErrorText(err) + "\n"
		return ex, nil
	}
	defer tg.Stop(nil)
	ex.Status = http.StatusOK
	ex.Header = http.Header{}
	adapter.SetHeader(ex.Header)
	var wire []byte
	for {
		var end bool
		if wire, end = tg.Drain(wire); end {
			break
		}
		select {
		case <-tg.Ready():
		case <-ctx.Done():
			return ex, fmt.Errorf("the target did not end within %v", DefaultTimeout)
		}
	}
	ex.Body = string(wire)
	ex.Endless = !rq.WantEnd
	return ex, nil
}

// protocolIntro opens [WriteProtocol]'s text.
const protocolIntro = `# The scenario protocol

The scenario protocol lets sseconform (github.com/ssekit/ssekit/cmd/sseconform) check an SSE server
written in any language with this suite, over HTTP only. The server answers under one base URL: for each
scenario below, requests to base + "/" + name get exactly what the reference answers. The reference is
the net/http adapter serving each scenario's Handler with its options ("sseconform serve" runs it); the
bytes below are generated from the scenarios ("sseconform -protocol" prints them, and with -json
prints every byte of every response).

Rules for every route:

  - A stream answers 200 with exactly the headers "Content-Type: text/event-stream",
    "Cache-Control: no-cache" and "X-Accel-Buffering: no", no Content-Length and no hop-by-hop header
    (Connection, Keep-Alive), and sends them at once, before any event.
  - Its body is exactly the bytes shown, each event flushed as soon as it is dispatched. The only
    other bytes allowed are heartbeats, bare ":" comment lines ":\n" between events, sent when the
    stream has been idle for the heartbeat interval (15s unless a route says otherwise). A stream
    "then ends" when the response ends right after its last byte; otherwise it stays open until the
    client leaves.
  - An error answers with the status shown and any Content-Type but text/event-stream.
  - Requests for streams carry "Accept: text/event-stream", and some carry the headers or body
    shown. Any method is accepted.
  - Each line of a body is shown as a Go string literal with its line ending; n × "c" stands for n
    copies of c, a line repeated k times in a row is shown once with "(k times)", and a long stream
    shows its first and last events only.

Scenarios checked in a weaker form say what the remote run leaves out. These cannot be checked from
outside the server's process at all, and have no route: `

// WriteProtocol writes entries as text: a description of the protocol, then
// one section per scenario with its requests and the reference responses.
// notCheckable lists the scenarios that cannot be checked remotely. The
// text is also a valid Go doc comment body (sections are "#" headings, bytes
// are indented blocks): the package documentation's last part is this text.
func WriteProtocol(w io.Writer, entries []ProtocolEntry, notCheckable []string) error {
	var b bytes.Buffer
	b.WriteString(protocolIntro)
	if len(notCheckable) == 0 {
		b.WriteString("none.\n")
	} else {
		b.WriteString(strings.Join(notCheckable, ", ") + ".\n")
	}
	for _, e := range entries {
		writeEntry(&b, e)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func writeEntry(b *bytes.Buffer, e ProtocolEntry) {
	fmt.Fprintf(b, "\n# Scenario %s\n\n%s\n", e.Name, strings.TrimSpace(e.Doc))
	var server []string
	switch {
	case e.Heartbeat < 0:
		server = append(server, "No heartbeat.")
	case e.Heartbeat > 0:
		server = append(server, fmt.Sprintf("A heartbeat after %v of idleness.", e.Heartbeat))
	}
	if e.WriteTimeout > 0 {
		server = append(server, fmt.Sprintf("A write that blocks for %v ends the stream.", e.WriteTimeout))
	}
	if e.Server != "" {
		server = append(server, strings.TrimSpace(e.Server))
	}
	if len(server) > 0 {
		fmt.Fprintf(b, "\nServer: %s\n", strings.Join(server, " "))
	}
	for _, ex := range e.Exchanges {
		writeExchange(b, ex)
	}
	if e.Form == RemoteWeaker {
		fmt.Fprintf(b, "\nChecked remotely in a weaker form. %s\n", strings.TrimSpace(e.Note))
	}
}

func writeExchange(b *bytes.Buffer, ex Exchange) {
	rq := ex.Request
	fmt.Fprintf(b, "\nRequest: %s %s", rq.Method, rq.Path)
	for _, k := range slices.Sorted(maps.Keys(rq.Header)) {
		for _, v := range rq.Header[k] {
			fmt.Fprintf(b, ", header %s: %s", k, v)
		}
	}
	if rq.Body != "" {
		fmt.Fprintf(b, ", body %s", quoteRuns(rq.Body))
	}
	b.WriteString(".\n")
	if ex.Status != http.StatusOK {
		fmt.Fprintf(b, "\nResponse: %d %s, not an event stream. The reference sends %s (Content-Type %s).\n",
			ex.Status, http.StatusText(ex.Status), quoteRuns(ex.Body), ex.Header.Get("Content-Type"))
		return
	}
	switch {
	case ex.Endless && ex.Body == "":
		b.WriteString("\nResponse: 200, an event stream that sends nothing but heartbeats until the client leaves.\n")
		return
	case ex.Endless:
		b.WriteString("\nResponse: 200, an event stream that goes on until the client leaves. Its first bytes:\n\n")
	default:
		b.WriteString("\nResponse: 200, an event stream of these bytes, then the response ends:\n\n")
	}
	writeBody(b, ex.Body)
	switch {
	case len(rq.Want) == 0:
	case ex.Endless:
		fmt.Fprintf(b, "\nThe client reads the first %s (%s) and leaves.\n", plural(len(rq.Want), "event"), summarize(rq.Want))
	default:
		fmt.Fprintf(b, "\nA spec-exact client sees %s (%s)", plural(len(rq.Want), "event"), summarize(rq.Want))
		if rq.WantRetry != 0 {
			fmt.Fprintf(b, ", retry %v", rq.WantRetry)
		}
		b.WriteString(", then the end of the response.\n")
	}
}

// summarize describes events briefly: their types and ids.
func summarize(evs []client.Event) string {
	if len(evs) == 0 {
		return "none"
	}
	types := map[string]int{}
	var order []string
	ids := 0
	for _, e := range evs {
		if types[e.Type] == 0 {
			order = append(order, e.Type)
		}
		types[e.Type]++
		if e.LastEventID != "" {
			ids++
		}
	}
	var parts []string
	for _, t := range order {
		parts = append(parts, fmt.Sprintf("%d of type %q", types[t], t))
	}
	s := strings.Join(parts, ", ")
	if ids > 0 {
		s += fmt.Sprintf("; the last ID of the last is %q", evs[len(evs)-1].LastEventID)
	}
	return s
}

// Limits of the text form of a body.
const (
	bodyHead  = 4  // events shown at the start of a long body
	bodyTail  = 2  // and at its end
	runMin    = 16 // a run of identical bytes this long is shown as n × "c"
	repeatMin = 3  // identical consecutive lines shown once with a count
)

// writeBody writes a stream body as an indented block, one line per row.
func writeBody(b *bytes.Buffer, body string) {
	events := splitEvents(body)
	show := func(evs [][]string) {
		for _, ev := range evs {
			for i := 0; i < len(ev); {
				j := i
				for j < len(ev) && ev[j] == ev[i] {
					j++
				}
				if n := j - i; n >= repeatMin {
					fmt.Fprintf(b, "\t%s  (%d times)\n", quoteRuns(ev[i]), n)
				} else {
					for ; i < j; i++ {
						fmt.Fprintf(b, "\t%s\n", quoteRuns(ev[i]))
					}
				}
				i = j
			}
		}
	}
	if len(events) <= bodyHead+bodyTail+1 {
		show(events)
		return
	}
	show(events[:bodyHead])
	fmt.Fprintf(b, "\t... %d more events of the same form ...\n", len(events)-bodyHead-bodyTail)
	show(events[len(events)-bodyTail:])
}

// splitEvents splits a body into events (lines up to and including a blank
// line); each line keeps its line ending.
func splitEvents(body string) [][]string {
	var events [][]string
	var cur []string
	for len(body) > 0 {
		i := strings.IndexAny(body, "\r\n")
		if i < 0 {
			cur = append(cur, body)
			break
		}
		end := i + 1
		if body[i] == '\r' && end < len(body) && body[end] == '\n' {
			end++
		}
		line := body[:end]
		body = body[end:]
		cur = append(cur, line)
		if i == 0 { // a blank line ends the event
			events = append(events, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		events = append(events, cur)
	}
	return events
}

// quoteRuns quotes s as Go string literals, with runs of runMin or more
// identical bytes shown as n × "c", joined with " + ".
func quoteRuns(s string) string {
	var parts []string
	lit := 0 // start of the pending literal
	for i := 0; i < len(s); {
		j := i + 1
		for j < len(s) && s[j] == s[i] {
			j++
		}
		if j-i >= runMin && s[i] < 0x80 {
			if lit < i {
				parts = append(parts, strconv.Quote(s[lit:i]))
			}
			parts = append(parts, fmt.Sprintf("%d × %s", j-i, strconv.Quote(s[i:i+1])))
			lit = j
		}
		i = j
	}
	if lit < len(s) || len(parts) == 0 {
		parts = append(parts, strconv.Quote(s[lit:]))
	}
	return strings.Join(parts, " + ")
}

// plural returns "1 event", "2 events".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
