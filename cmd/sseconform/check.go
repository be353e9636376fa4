package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssekit/ssekit/client"
)

// status is the verdict of one check of check mode.
type status string

const (
	pass status = "PASS" // conforms
	fail status = "FAIL" // breaks clients, or the standard
	warn status = "WARN" // works with most clients, but is risky
	skip status = "SKIP" // nothing to judge
)

// checkResult is one line of check mode's report.
type checkResult struct {
	Name   string `json:"name"`
	Status status `json:"status"`
	Detail string `json:"detail"`
}

// checkNames lists the checks in report order.
var checkNames = []string{
	"status", "content-type", "cache-control", "x-accel-buffering", "content-length", "hop-by-hop",
	"headers-prompt", "framing", "line-endings", "bom", "utf8", "fields", "dispatch", "parse", "end", "flush", "heartbeat", "reconnect",
}

// endEvent is the type of the event that declares the end of a stream, in
// Danet's model (and ssekit's): clients close on it instead of reconnecting.
const endEvent = "close"

// checkConfig is what check mode checks, and how.
type checkConfig struct {
	url      string
	header   http.Header   // extra request headers
	timeout  time.Duration // bound on connecting and on the response headers
	idle     time.Duration // longest silence allowed
	duration time.Duration // longest observation
	wantEnd  bool          // the stream must end by itself, with a close event last
	want     int           // the number of events the stream must deliver; -1: any
}

// Heuristics of check mode.
const (
	together  = 20 * time.Millisecond  // bytes arriving this close arrived together
	heldAfter = 250 * time.Millisecond // a response this slow to start held its headers
	slowStart = time.Second            // headers this slow are reported
	tooQuick  = 250 * time.Millisecond // a response shorter than this cannot show buffering
	maxTimes  = 100_000                // event arrival times kept
)

// runCheck is mode 2: check one event-stream URL.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on connecting and on the response headers")
	idle := fs.Duration("idle", 30*time.Second, "longest silence allowed")
	duration := fs.Duration("duration", 0, "how long to watch the stream at most")
	asJSON := fs.Bool("json", false, "print JSON")
	wantEnd := fs.Bool("want-end", false, "the stream must end by itself, its last event a close event")
	wantEvents := fs.Int("want-events", -1, "the number of events the stream must deliver before it ends")
	hdr := headerFlag{http.Header{}}
	fs.Var(hdr, "H", "extra request header")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(stdout, stderr, err)
	}
	switch {
	case len(pos) == 0:
		return usageError(stdout, stderr, errors.New("check: missing URL"))
	case len(pos) > 1:
		return usageError(stdout, stderr, fmt.Errorf("check: want one URL; got %q", pos))
	case *timeout <= 0 || *idle <= 0 || *duration < 0:
		return usageError(stdout, stderr, errors.New("check: -timeout and -idle must be positive, -duration not negative"))
	case *wantEvents < -1:
		return usageError(stdout, stderr, errors.New("check: -want-events must not be negative"))
	}
	u, err := parseURL(pos[0])
	if err != nil {
		return usageError(stdout, stderr, err)
	}
	if *duration == 0 {
		*duration = *idle + 5*time.Second
	}
	c := checkConfig{url: u.String(), header: hdr.h, timeout: *timeout, idle: *idle, duration: *duration, wantEnd: *wantEnd, want: *wantEvents}
	rep := checkURL(ctx, c)
	code := exitOK
	for _, r := range rep.checks {
		if r.Status == fail {
			code = exitFail
		}
	}
	if *asJSON {
		rep.writeJSON(stdout, code)
	} else {
		rep.writeText(stdout)
	}
	return code
}

// headerFlag collects -H "Name: value" flags.
type headerFlag struct{ h http.Header }

func (f headerFlag) String() string { return "" }

func (f headerFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	name = strings.TrimSpace(name)
	if !ok || !isToken(name) {
		return fmt.Errorf("want \"Name: value\"; got %q", v)
	}
	f.h.Add(name, strings.TrimSpace(value))
	return nil
}

// isToken reports whether s is a valid header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			return false
		}
	}
	return true
}

// report is check mode's findings.
type report struct {
	url     string
	watched time.Duration
	how     string
	checks  []checkResult
}

func (r *report) add(name string, st status, format string, args ...any) {
	r.checks = append(r.checks, checkResult{Name: name, Status: st, Detail: fmt.Sprintf(format, args...)})
}

// skipRest reports every check not reported yet as skipped.
func (r *report) skipRest(why string) {
	done := map[string]bool{}
	for _, c := range r.checks {
		done[c.Name] = true
	}
	for _, n := range checkNames {
		if !done[n] {
			r.add(n, skip, "%s", why)
		}
	}
}

func (r *report) writeText(w io.Writer) {
	fmt.Fprintf(w, "sseconform check %s\n", r.url)
	if r.how != "" {
		fmt.Fprintf(w, "watched the stream for %v: %s\n", rd(r.watched), r.how)
	}
	fmt.Fprintln(w)
	counts := map[status]int{}
	for _, c := range r.checks {
		counts[c.Status]++
		fmt.Fprintf(w, "%-4s  %-17s  %s\n", c.Status, c.Name, c.Detail)
	}
	fmt.Fprintf(w, "\n%d checks: %d passed, %d failed, %s, %d skipped.\n",
		len(r.checks), counts[pass], counts[fail], plural(counts[warn], "warning"), counts[skip])
}

func (r *report) writeJSON(w io.Writer, code int) {
	counts := map[status]int{pass: 0, fail: 0, warn: 0, skip: 0}
	for _, c := range r.checks {
		counts[c.Status]++
	}
	out := struct {
		URL       string         `json:"url"`
		WatchedMS int64          `json:"watched_ms"`
		Ended     string         `json:"ended,omitempty"`
		Checks    []checkResult  `json:"checks"`
		Counts    map[status]int `json:"counts"`
		Exit      int            `json:"exit"`
	}{r.url, r.watched.Milliseconds(), r.how, r.checks, counts, code}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}

// newCheckClient returns the HTTP client of check mode: no proxy, no
// redirect followed, no compression asked for, HTTP/2 where TLS offers it.
func newCheckClient(c checkConfig) (*http.Client, func()) {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: c.timeout}).DialContext,
		TLSHandshakeTimeout: c.timeout,
		ForceAttemptHTTP2:   true,
		DisableCompression:  true,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     c.timeout,
	}
	cl := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return cl, tr.CloseIdleConnections
}

// newStreamRequest returns a GET request for c.url as EventSource sends it.
func newStreamRequest(ctx context.Context, c checkConfig) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	for k, v := range c.header {
		req.Header[k] = v
	}
	return req, nil
}

// How an observation ended.
const (
	endEOF         = "the response ended"
	endIdle        = "the stream was silent for -idle"
	endDuration    = "-duration passed"
	endInterrupted = "interrupted"
	endBroken      = "the connection failed"
)

// observation is what watching the stream showed.
type observation struct {
	err       error // no response, why
	resp      *http.Response
	errBody   string // the start of a non-200 body
	sent      time.Time
	headersAt time.Time
	wait      time.Duration // from the request written to the first response byte, one round trip less

	bodyFirst time.Time // first body byte
	lastRead  time.Time
	longest   time.Duration // longest silence, from the headers on
	end       time.Time
	how       string
	readErr   error
	events    []time.Time // arrival of the first maxTimes events
	nEvents   int
	types     map[string]int
	comments  int
	retry     time.Duration
	lastID    string
	ids       []string // the ids of the events, each once, in order (the first maxTimes)
	firstID   int      // the number of the first event with an id (1 for the first event)
	last      client.Event
	closeAt   int // the number of events before the first close event; -1: none
	frame     *framing
}

// timing records request timing from httptrace callbacks, which run on the
// transport's goroutines.
type timing struct {
	mu                         sync.Mutex
	connStart, connDone, wrote time.Time
	firstByte                  time.Time
}

func (t *timing) set(p *time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	*p = time.Now()
}

// observe sends the request and watches the stream.
func observe(ctx context.Context, cl *http.Client, c checkConfig) *observation {
	o := &observation{types: map[string]int{}, frame: newFraming(), closeAt: -1}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var tm timing
	trace := &httptrace.ClientTrace{
		ConnectStart:         func(string, string) { tm.set(&tm.connStart) },
		ConnectDone:          func(string, string, error) { tm.set(&tm.connDone) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { tm.set(&tm.wrote) },
		GotFirstResponseByte: func() { tm.set(&tm.firstByte) },
	}
	req, err := newStreamRequest(httptrace.WithClientTrace(rctx, trace), c)
	if err != nil {
		o.err = err
		return o
	}
	headerTimer := time.AfterFunc(c.timeout, cancel)
	o.sent = time.Now()
	resp, err := cl.Do(req)
	inTime := headerTimer.Stop()
	o.headersAt = time.Now()
	if err != nil {
		switch {
		case ctx.Err() != nil:
			o.err = fmt.Errorf("interrupted: %w", ctx.Err())
		case !inTime:
			o.err = fmt.Errorf("no response headers within -timeout (%v)", c.timeout)
		default:
			o.err = err
		}
		return o
	}
	defer resp.Body.Close()
	o.resp = resp
	tm.mu.Lock()
	o.wait = o.headersAt.Sub(o.sent)
	if !tm.wrote.IsZero() && !tm.firstByte.IsZero() {
		o.wait = max(0, tm.firstByte.Sub(tm.wrote)-tm.connDone.Sub(tm.connStart)) // a TCP handshake is one round trip
	}
	tm.mu.Unlock()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		o.errBody = string(b)
		return o
	}

	var idleHit, durationHit atomic.Bool
	idleTimer := time.AfterFunc(c.idle, func() { idleHit.Store(true); cancel() })
	defer idleTimer.Stop()
	durationTimer := time.AfterFunc(c.duration, func() { durationHit.Store(true); cancel() })
	defer durationTimer.Stop()
	o.lastRead = o.headersAt
	body := &timedReader{r: resp.Body, read: func(p []byte, at time.Time) {
		o.frame.feed(p, at)
		o.longest = max(o.longest, at.Sub(o.lastRead))
		if o.bodyFirst.IsZero() {
			o.bodyFirst = at
		}
		o.lastRead = at
		idleTimer.Reset(c.idle)
	}}
	p := client.NewParser(body)
	p.OnComment = func(string) { o.comments++ }
	p.OnRetry = func(d time.Duration) { o.retry = d }
	prevID := ""
	for {
		ev, err := p.Next()
		if err != nil {
			o.readErr = err
			break
		}
		if ev.Type == endEvent && o.closeAt < 0 {
			o.closeAt = o.nEvents
		}
		if ev.LastEventID != prevID && ev.LastEventID != "" && len(o.ids) < maxTimes {
			o.ids = append(o.ids, ev.LastEventID)
			if o.firstID == 0 {
				o.firstID = o.nEvents + 1
			}
		}
		prevID = ev.LastEventID
		o.last = ev
		o.nEvents++
		o.types[ev.Type]++
		if len(o.events) < maxTimes {
			o.events = append(o.events, time.Now())
		}
	}
	o.end = time.Now()
	o.longest = max(o.longest, o.end.Sub(o.lastRead))
	o.lastID = p.LastEventID()
	switch {
	case o.readErr == io.EOF:
		o.how = endEOF
	case idleHit.Load():
		o.how = endIdle
	case durationHit.Load():
		o.how = endDuration
	case ctx.Err() != nil:
		o.how = endInterrupted
	default:
		o.how = endBroken
	}
	return o
}

// timedReader calls read with every chunk it reads, and the time.
type timedReader struct {
	r    io.Reader
	read func(p []byte, at time.Time)
}

func (t *timedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.read(p[:n], time.Now())
	}
	return n, err
}

// checkURL runs every check of check mode on c.url.
func checkURL(ctx context.Context, c checkConfig) *report {
	r := &report{url: c.url}
	cl, closeIdle := newCheckClient(c)
	defer closeIdle()
	o := observe(ctx, cl, c)
	if o.err != nil {
		r.add("status", fail, "no response: %v", o.err)
		r.skipRest("no response")
		return r
	}
	resp := o.resp
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		r.add("status", pass, "200 OK (%s)", resp.Proto)
	case code == http.StatusNoContent:
		r.add("status", fail, "204 No Content: clients stop, for good, without a stream")
	case code >= 300 && code < 400:
		r.add("status", fail, "%d redirect to %q: EventSource follows it; check the final URL instead", code, resp.Header.Get("Location"))
	default:
		r.add("status", fail, "%s (body %q): EventSource fails the connection for good", resp.Status, shorten(o.errBody, 120))
	}
	if resp.StatusCode != http.StatusOK {
		r.skipRest(fmt.Sprintf("no stream (status %d)", resp.StatusCode))
		return r
	}
	r.watched, r.how = o.end.Sub(o.headersAt), o.how
	checkHeaders(r, o)
	checkBody(r, o, c)
	checkReconnect(ctx, r, o, cl, c)
	return r
}

// checkHeaders checks the response headers, and how promptly they came.
func checkHeaders(r *report, o *observation) {
	h := o.resp.Header
	switch ct := h.Values("Content-Type"); {
	case len(ct) == 0:
		r.add("content-type", fail, "no Content-Type: clients require text/event-stream")
	case len(ct) > 1:
		r.add("content-type", fail, "%d Content-Type headers %q; want one, text/event-stream", len(ct), ct)
	case ct[0] == "text/event-stream":
		r.add("content-type", pass, "%q", ct[0])
	default:
		mt, _, err := mime.ParseMediaType(ct[0])
		switch {
		case err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter), mt != "text/event-stream":
			r.add("content-type", fail, "%q is not text/event-stream: EventSource fails the connection", ct[0])
		case !strings.HasPrefix(ct[0], "text/event-stream"):
			r.add("content-type", fail, "%q: media types are case-insensitive, but some clients compare it with \"text/event-stream\" exactly and reject it", ct[0])
		default:
			r.add("content-type", warn, "%q: parameters are allowed and browsers accept them, but some clients compare the whole header with \"text/event-stream\"", ct[0])
		}
	}

	cc := strings.Join(h.Values("Cache-Control"), ", ")
	directives := map[string]bool{}
	for _, d := range strings.Split(cc, ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(d), "=")
		directives[strings.ToLower(name)] = true
	}
	switch {
	case directives["no-cache"]:
		r.add("cache-control", pass, "%q", cc)
	case directives["no-store"]:
		r.add("cache-control", pass, "%q (no-store: nothing is cached either)", cc)
	case cc == "":
		r.add("cache-control", fail, "no Cache-Control: a cache on the way may keep or buffer the stream; send \"no-cache\"")
	default:
		r.add("cache-control", fail, "%q lets caches keep the stream; send \"no-cache\"", cc)
	}

	switch xab := h.Get("X-Accel-Buffering"); {
	case strings.EqualFold(xab, "no"):
		r.add("x-accel-buffering", pass, "%q", xab)
	case xab == "":
		r.add("x-accel-buffering", warn, "absent: nginx in front buffers the stream unless it says \"no\" (harmless without nginx)")
	default:
		r.add("x-accel-buffering", warn, "%q: nginx in front buffers the stream unless it says \"no\"", xab)
	}

	if cl := h.Values("Content-Length"); len(cl) > 0 || o.resp.ContentLength >= 0 {
		r.add("content-length", fail, "Content-Length %d: a stream has no length (usually a response buffered whole, then sent)", o.resp.ContentLength)
	} else {
		r.add("content-length", pass, "absent")
	}

	var hop []string
	for _, name := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Upgrade", "Te"} {
		for _, v := range h.Values(name) {
			hop = append(hop, fmt.Sprintf("%s: %s", name, v))
		}
	}
	switch {
	case len(hop) == 0:
		r.add("hop-by-hop", pass, "none")
	case o.resp.ProtoMajor >= 2:
		r.add("hop-by-hop", fail, "%q over %s: connection-specific headers are malformed in HTTP/2", hop, o.resp.Proto)
	default:
		r.add("hop-by-hop", warn, "%q: fine over HTTP/1.1 when the server adds them itself, but set by the application they break HTTP/2 clients", hop)
	}

	withBody := !o.bodyFirst.IsZero() && o.bodyFirst.Sub(o.headersAt) < together
	wait := rd(o.headersAt.Sub(o.sent))
	switch {
	case withBody && o.wait > heldAfter:
		r.add("headers-prompt", warn, "the headers came %v after the request, together with the first bytes: they seem held until the first event; send them at once (EventSource opens on them)", wait)
	case o.wait > slowStart:
		r.add("headers-prompt", warn, "the headers came %v after the request", wait)
	case o.bodyFirst.IsZero():
		r.add("headers-prompt", pass, "headers %v after the request, before any byte of the stream", wait)
	default:
		r.add("headers-prompt", pass, "headers %v after the request; the first bytes %v after them", wait, rd(o.bodyFirst.Sub(o.headersAt)))
	}
}

// checkBody checks the stream the observation read.
func checkBody(r *report, o *observation, c checkConfig) {
	ended := o.how == endEOF
	f := o.frame
	st, why := f.checkFraming(o.end, ended)
	r.add("framing", st, "%s", why)
	st, why = f.checkLineEndings()
	r.add("line-endings", st, "%s", why)
	st, why = f.checkBOM()
	r.add("bom", st, "%s", why)
	st, why = f.checkUTF8()
	r.add("utf8", st, "%s", why)
	st, why = f.checkFields()
	r.add("fields", st, "%s", why)
	st, why = f.checkDispatch(o.nEvents, ended && o.readErr == io.EOF)
	r.add("dispatch", st, "%s", why)

	watched := rd(o.end.Sub(o.headersAt))
	switch {
	case o.how == endBroken:
		r.add("parse", fail, "the stream broke after %s and %s: %v", plural(o.nEvents, "event"), plural(o.comments, "comment"), o.readErr)
	case o.nEvents == 0 && o.comments == 0:
		r.add("parse", fail, "no event and no comment in %v (%s)", watched, o.how)
	default:
		r.add("parse", pass, "%s", describeStream(o))
	}
	st, why = checkEnd(o, c)
	r.add("end", st, "%s", why)

	checkFlush(r, o)

	switch {
	case o.how == endIdle:
		r.add("heartbeat", fail, "nothing (no event, no comment) for %v after %v of stream: send a comment line (\":\\n\") whenever the stream idles, well within -idle, or proxies close it",
			c.idle, rd(watched-c.idle))
	case o.longest > c.idle:
		r.add("heartbeat", fail, "silent for %v (-idle %v)", rd(o.longest), c.idle)
	case watched < c.idle && ended:
		r.add("heartbeat", skip, "the response ended after %v, before -idle (%v) passed (longest silence %v)", watched, c.idle, rd(o.longest))
	case watched < c.idle:
		r.add("heartbeat", skip, "watched %v only (%s), less than -idle (%v)", watched, o.how, c.idle)
	default:
		r.add("heartbeat", pass, "longest silence %v (-idle %v); %s", rd(o.longest), c.idle, plural(o.comments, "comment"))
	}
}

// describeStream summarizes what the parser read.
func describeStream(o *observation) string {
	var types []string
	for _, t := range slices.Sorted(maps.Keys(o.types)) {
		types = append(types, fmt.Sprintf("%d %q", o.types[t], t))
	}
	s := plural(o.nEvents, "event")
	if len(types) > 0 {
		s += " (" + strings.Join(types, ", ") + ")"
	}
	s += ", " + plural(o.comments, "comment")
	if o.lastID != "" {
		s += fmt.Sprintf(", last event ID %q", o.lastID)
	}
	if o.retry != 0 {
		s += fmt.Sprintf(", retry %v", o.retry)
	}
	return s
}

// checkFlush judges whether events arrived as they were sent.
func checkFlush(r *report, o *observation) {
	n := len(o.events)
	if n < 2 {
		r.add("flush", skip, "%s: need two to judge", plural(n, "event"))
		return
	}
	first, last := o.events[0], o.events[n-1]
	gaps := make([]time.Duration, 0, n-1)
	for i := 1; i < n; i++ {
		gaps = append(gaps, o.events[i].Sub(o.events[i-1]))
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	stats := fmt.Sprintf("between events: min %v, median %v, max %v",
		rd(gaps[0]), rd(gaps[len(gaps)/2]), rd(gaps[len(gaps)-1]))
	atEnd := o.how == endEOF && o.end.Sub(first) < together
	switch {
	case atEnd && o.end.Sub(o.sent) < tooQuick:
		r.add("flush", skip, "all %d events arrived at once, %v after the request, with the end of the response: too quick to tell flushing from buffering",
			n, rd(first.Sub(o.sent)))
	case atEnd && first.Sub(o.headersAt) < together:
		r.add("flush", fail, "all %d events arrived together with the headers and the end of the response, %v after the request: the server buffers the stream instead of flushing each event",
			n, rd(first.Sub(o.sent)))
	case atEnd:
		r.add("flush", warn, "all %d events arrived together with the end of the response, %v after the headers: sent at once, or buffered",
			n, rd(first.Sub(o.headersAt)))
	default:
		r.add("flush", pass, "%d events over %v; %s", o.nEvents, rd(last.Sub(first)), stats)
	}
}

// checkReconnect reconnects with the last event ID, as a browser would,
// and reads the resumed stream up to its first event that carries an id:
// that event must come after the one the client last saw, never the same
// one again nor one before it.
func checkReconnect(ctx context.Context, r *report, o *observation, cl *http.Client, c checkConfig) {
	if o.lastID == "" {
		r.add("reconnect", skip, "the stream carried no id")
		return
	}
	if ctx.Err() != nil {
		r.add("reconnect", skip, "interrupted")
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := newStreamRequest(rctx, c)
	if err != nil {
		r.add("reconnect", fail, "%v", err)
		return
	}
	req.Header.Set("Last-Event-ID", o.lastID)
	headerTimer := time.AfterFunc(c.timeout, cancel)
	resp, err := cl.Do(req)
	inTime := headerTimer.Stop()
	if err != nil {
		if !inTime {
			err = fmt.Errorf("no response headers within -timeout (%v)", c.timeout)
		}
		r.add("reconnect", fail, "reconnecting with Last-Event-ID %q: %v", o.lastID, err)
		return
	}
	defer resp.Body.Close()
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case resp.StatusCode == http.StatusOK && mt == "text/event-stream":
	case resp.StatusCode == http.StatusOK:
		r.add("reconnect", fail, "with Last-Event-ID %q: 200 but Content-Type %q", o.lastID, resp.Header.Get("Content-Type"))
		return
	case resp.StatusCode == http.StatusNoContent:
		r.add("reconnect", warn, "with Last-Event-ID %q: 204 No Content, which tells clients to stop reconnecting", o.lastID)
		return
	default:
		r.add("reconnect", fail, "with Last-Event-ID %q: %s; a browser reconnects with it after the stream ends", o.lastID, resp.Status)
		return
	}

	// Read up to the first event with an id, within the limits of the
	// first observation.
	idleTimer := time.AfterFunc(c.idle, cancel)
	defer idleTimer.Stop()
	durationTimer := time.AfterFunc(c.duration, cancel)
	defer durationTimer.Stop()
	p := client.NewParser(&timedReader{r: resp.Body, read: func([]byte, time.Time) { idleTimer.Reset(c.idle) }})
	n := 0
	var ev client.Event
	for ev.LastEventID == "" {
		ev, err = p.Next()
		if err != nil {
			break
		}
		n++
	}
	head := fmt.Sprintf("with Last-Event-ID %q: 200, an event stream", o.lastID)
	if err != nil {
		how := "the response ended"
		if err != io.EOF {
			how = "the watch stopped (-idle or -duration)"
		}
		r.add("reconnect", pass, "%s; %s, none with an id to compare with, before %s", head, plural(n, "event"), how)
		return
	}
	id := ev.LastEventID
	at := slices.Index(o.ids, id)
	switch {
	case at == 0 && n == o.firstID:
		r.add("reconnect", warn, "%s, but it starts over, as a new connection does (event %d, the first with an id, is %q again): Last-Event-ID is ignored, and a browser that reconnects sees every event again (resume after the id; a stream that is done sends a close event, or answers 204)",
			head, n, id)
	case id == o.lastID:
		r.add("reconnect", fail, "%s, but its first event with an id (event %d, type %q, data %q) is the event %q again: a client that resumes sees it twice; resume after it",
			head, n, ev.Type, shorten(ev.Data, 40), id)
	case at >= 0:
		r.add("reconnect", fail, "%s, but it resumes with id %q, which came before %q (event %d of %d with an id): a client that resumes sees those events twice",
			head, id, o.lastID, at+1, len(o.ids))
	case precedes(o.ids, id, o.lastID):
		r.add("reconnect", fail, "%s, but it resumes with id %q, below %q in the increasing numeric ids of the stream: it replays what the client has seen", head, id, o.lastID)
	default:
		r.add("reconnect", pass, "%s, resuming with id %q (event %d)", head, id, n)
	}
}

// precedes reports whether ids are all decimal integers, increasing, and
// id, one too, is no greater than last.
func precedes(ids []string, id, last string) bool {
	prev := int64(-1) << 62
	for _, s := range append(slices.Clip(ids), last) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= prev && s != last {
			return false
		}
		prev = n
	}
	n, err := strconv.ParseInt(id, 10, 64)
	l, _ := strconv.ParseInt(last, 10, 64)
	return err == nil && n <= l
}

// checkEnd judges how the stream ended against what was declared: -want-end
// (the stream ends by itself, its last event a close event, after which
// clients do not reconnect) and -want-events N (exactly N events). Without
// them it says how the stream ended and fails nothing.
func checkEnd(o *observation, c checkConfig) (status, string) {
	ended := o.how == endEOF
	lastRead := "no event"
	if o.nEvents > 0 {
		lastRead = fmt.Sprintf("the last event read: type %q, data %q", o.last.Type, shorten(o.last.Data, 40))
	}
	after := o.nEvents - o.closeAt - 1
	switch {
	case c.want >= 0 && o.nEvents < c.want && ended:
		return fail, fmt.Sprintf("the response ended after %d of the %d events expected (-want-events); %s", o.nEvents, c.want, lastRead)
	case c.want >= 0 && o.nEvents < c.want:
		return fail, fmt.Sprintf("%d of the %d events expected (-want-events) before %s; %s", o.nEvents, c.want, o.how, lastRead)
	case c.want >= 0 && o.nEvents > c.want:
		return fail, fmt.Sprintf("%s, %d more than the %d expected (-want-events): an event split in two, or sent twice?", plural(o.nEvents, "event"), o.nEvents-c.want, c.want)
	case c.wantEnd && !ended:
		return fail, fmt.Sprintf("the stream did not end (%s) after %s; %s; -want-end expects it to end after a %q event", o.how, plural(o.nEvents, "event"), lastRead, endEvent)
	case c.wantEnd && o.closeAt < 0:
		return fail, fmt.Sprintf("the response ended after %s without a %q event (%s): it ended early, or a browser reconnects and starts again", plural(o.nEvents, "event"), endEvent, lastRead)
	case c.wantEnd && after > 0:
		return fail, fmt.Sprintf("%s after the %q event: clients close on it and never see them", plural(after, "event"), endEvent)
	case ended && o.closeAt >= 0 && after == 0:
		return pass, fmt.Sprintf("the response ended right after a %q event (%s in all)", endEvent, plural(o.nEvents, "event"))
	case ended:
		return pass, fmt.Sprintf("the response ended after %s (%s); without a final %q event a browser reconnects after retry (-want-end requires one, -want-events N a count)",
			plural(o.nEvents, "event"), lastRead, endEvent)
	case c.want >= 0:
		return pass, fmt.Sprintf("%s, as expected (-want-events), before %s", plural(o.nEvents, "event"), o.how)
	}
	return skip, fmt.Sprintf("the stream was still open (%s): -want-end or -want-events N say what end to expect", o.how)
}

// rd rounds a duration for reports: to the millisecond from 10ms up, to
// the microsecond below.
func rd(d time.Duration) time.Duration {
	if d >= 10*time.Millisecond || d <= -10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// plural returns "1 event", "2 events".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
