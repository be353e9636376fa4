package remote

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/conformance"
	"github.com/ssekit/ssekit/conformance/internal/expect"
	"github.com/ssekit/ssekit/core"
)

// Form says how much of a scenario a remote run (over HTTP only,
// against a server in any language) checks.
type Form int

const (
	// None: the scenario cannot be checked from outside the server's
	// process (it checks the producer's side, or needs a hook such as
	// core.Group.Shutdown).
	None Form = iota
	// Weaker: a weaker form of the scenario runs; [Scenario.Note]
	// says what it leaves out.
	Weaker
	// Full: the remote run makes every check the in-process run makes.
	Full
)

// String returns "none", "weaker" or "full".
func (f Form) String() string {
	switch f {
	case Full:
		return "full"
	case Weaker:
		return "weaker"
	case None:
		return "none"
	}
	return "Form(" + strconv.Itoa(int(f)) + ")"
}

// Request is one request of a remote scenario and what a spec-exact
// client must see in its response.
type Request struct {
	// Path is the request path under the base URL, such as "/ids".
	Path string
	// Method is the request method, never empty.
	Method string
	// Header holds the request headers the scenario sends besides
	// "Accept: text/event-stream", which requests for streams always carry.
	Header http.Header
	// Body is the request body.
	Body string
	// WantStatus is the response status: 200 for an event stream.
	WantStatus int
	// Want lists the events a spec-exact client must see, in order (for a
	// stream that does not end, the first ones).
	Want []client.Event
	// WantEnd says that the response ends by itself right after Want.
	WantEnd bool
	// WantRetry, when non-zero, is the last retry value the client must have
	// seen by the end of Want.
	WantRetry time.Duration
}

// Scenario is the remote form of a [Scenario]: what a server in any
// language answers at the scenario's path for [Check] to check it over
// HTTP (the scenario protocol, see the package documentation), and the
// reference handler that answers it.
type Scenario struct {
	// Name is the scenario's name; its route is "/" + Name.
	Name string
	// Doc is the scenario's Doc.
	Doc string
	// Form says how much of the scenario the remote run checks.
	Form Form
	// Note says what a weaker form leaves out, or why a scenario cannot be
	// checked remotely.
	Note string
	// Server says what the server does on the route beyond sending its
	// bytes at once (pauses, pacing, how the stream ends), when it does.
	Server string
	// Options are the adapter options the reference serves the route with
	// (heartbeat, write timeout).
	Options []core.Option
	// Handler is the reference handler of the route; nil when Form is
	// None.
	Handler conformance.Handler
	// Requests are the requests the remote run sends, the first to Path().
	Requests []Request
	// Serial scenarios run one at a time, before the others (disconnects,
	// stalled clients, timing).
	Serial bool

	check func(t testing.TB, env *conformance.Env) // the remote run
	wire  conformance.Handler                      // drained for [Protocol]; Handler when nil
}

// Path is the scenario's route under the base URL: "/" and its name.
func (s Scenario) Path() string { return "/" + s.Name }

// Scenarios returns the remote form of every scenario of [Scenarios],
// in the same order, including those that cannot be checked remotely (Form
// None). A scenario added to the suite without a remote form of its own
// is checked remotely in full when it is data only (no Run), and is otherwise
// reported as not checkable.
func Scenarios() []Scenario {
	scenarios := conformance.Scenarios()
	out := make([]Scenario, 0, len(scenarios))
	for _, s := range scenarios {
		out = append(out, remoteScenario(s))
	}
	return out
}

// Timing of the remote forms of the timing scenarios.
const (
	remoteHeartbeatIdle = time.Second             // heartbeat: idle time before the event
	remoteFlushEvery    = 100 * time.Millisecond  // flush-per-event: time between events
	remoteStall         = 1500 * time.Millisecond // stalled-reader: how long the client does not read
	remoteDrain         = 5 * time.Second         // stalled-reader: bound on reading the rest
	remoteDrainLimit    = 256 << 20               // stalled-reader: bytes read before giving up
	remoteDisconnectN   = 10                      // client-disconnect: events read per connection
	protocolSample      = 3                       // events of an endless stream Protocol shows
	pacedLimit          = 10_000_000              // bound on the events of an endless paced producer
)

// stalledEvent is the data of the events stalled-reader streams: 64 KiB.
var stalledEvent = strings.Repeat("s", 64<<10)

// message is an event of type "message".
func message(data, id string) client.Event {
	return client.Event{Type: "message", Data: data, LastEventID: id}
}

// remoteScenario returns the remote form of s.
func remoteScenario(s conformance.Scenario) Scenario {
	method := s.Method
	if method == "" {
		method = http.MethodGet
	}
	status := s.WantStatus
	if status == 0 {
		status = http.StatusOK
	}
	r := Scenario{
		Name:    s.Name,
		Doc:     s.Doc,
		Options: s.Options,
		Handler: s.Handler,
		Serial:  s.Serial,
		Requests: []Request{{
			Path: s.Path(), Method: method, Header: s.Header, Body: s.Body,
			WantStatus: status, Want: s.Want, WantEnd: s.WantEnd, WantRetry: s.WantRetry,
		}},
	}
	full := func(check func(t testing.TB, env *conformance.Env)) {
		r.Form, r.check = Full, check
	}
	weaker := func(note string, check func(t testing.TB, env *conformance.Env)) {
		r.Form, r.Note, r.check = Weaker, note, check
	}
	none := func(note string) {
		r.Form, r.Note, r.Handler, r.Requests = None, note, nil, nil
	}
	switch s.Name {
	// Scenarios whose own Run only looks at what the client receives: they
	// run as they are.
	case "retry", "comments", "headers":
		full(s.Run)
	case "handler-error":
		full(s.Run)
		r.Server = `The body must contain "nope".`
	case "handler-panic":
		full(s.Run)
		r.Requests = append(r.Requests, Request{
			Path: s.Path() + "/ok", Method: http.MethodGet, WantStatus: http.StatusOK,
			Want: []client.Event{message("still serving", "")}, WantEnd: true,
		})
		r.Server = `The body must not contain the panic's text ("` + expect.Secret + `"). Any path under the
route answers the same, except those ending in "/ok", which stream normally.`
	case "heartbeat":
		// The in-process producer waits until the client has seen a
		// heartbeat; a remote server waits a fixed time instead, ten
		// heartbeats long, and the client checks that the first heartbeat
		// came well before the event (so it was flushed on its own).
		p := paced{delay: remoteHeartbeatIdle, n: 1, msg: func(int) core.Message { return core.Message{Data: "after heartbeat"} }}
		r.Handler, r.wire = p.handler(), p.instant().handler()
		r.Server = fmt.Sprintf("Sends nothing for %v but heartbeats, then the event, then ends.", remoteHeartbeatIdle)
		full(r.checkHeartbeat)

	// Weaker forms: the in-process checks of the producer's side are left out.
	case "close-event":
		weaker(`It leaves out the producer's side: that a Dispatch after the close event fails with
core.ErrClosed and that the target ends without an error.`, func(t testing.TB, env *conformance.Env) { s.Check(t, env) })
	case "flush-per-event":
		p := paced{every: remoteFlushEvery, n: len(s.Want), msg: func(i int) core.Message {
			return core.Message{ID: strconv.Itoa(i), Data: "event " + strconv.Itoa(i)}
		}}
		r.Handler, r.wire = p.handler(), p.instant().handler()
		r.Server = fmt.Sprintf("Sends the events %v apart, each as soon as it is dispatched, then ends.", remoteFlushEvery)
		weaker(fmt.Sprintf(`In process, the producer dispatches each event only once the client has read
the previous one. Remotely, the server paces them %v apart instead, and the client checks that they
arrive spread out (over at least a quarter of the time they were sent in), not together at the end.`, remoteFlushEvery), r.checkFlushPaced)
	case "headers-before-first-event":
		p := paced{delay: 2 * time.Second, n: 1, msg: func(int) core.Message { return core.Message{Data: "late"} }}
		r.Handler, r.wire = p.handler(), p.instant().handler()
		r.Server = "Sends the headers at once, then nothing for 2s, then the event, then ends."
		weaker(`It leaves out that the target's Done closes once the client leaves: the client checks that
the headers arrive within 1s, then leaves.`, r.checkHeadersFirst)
	case "handler-error-plain":
		r.Server = `The body must not contain the error's text ("` + expect.Secret + `").`
		weaker(`It leaves out that a target returned beside the error is stopped.`, r.checkPlainError)
	case "client-disconnect":
		p := paced{endless: true, msg: func(i int) core.Message { return core.Message{ID: strconv.Itoa(i), Data: "traffic"} }}
		r.Handler, r.wire = p.handler(), p.instant().handler()
		r.Requests[0].Want = p.want(remoteDisconnectN)
		r.Server = "Streams events as fast as the client takes them, until it leaves."
		weaker(`It leaves out the producer's side (Done closes within 1s, Dispatch returns core.ErrClosed, no
goroutine is left). Remotely: after a client reading a busy stream leaves, the server still serves a
new one.`, r.checkDisconnect)
	case "client-disconnect-idle":
		p := paced{n: 1, open: true, msg: func(int) core.Message { return core.Message{Data: "ready"} }}
		r.Handler, r.wire = p.handler(), p.instant().handler()
		r.Server = `Sends the event, then keeps the stream open (heartbeats only) until the client leaves.`
		r.Requests[0].Want = p.want(1)
		weaker(`It leaves out the producer's side (Done closes within 1s). Remotely: after a client leaves an
idle stream, the server still serves a new one.`, r.checkDisconnect)
	case "stalled-reader":
		p := paced{endless: true, msg: func(int) core.Message { return core.Message{Data: stalledEvent} }}
		r.Handler, r.wire = p.handler(), p.instant().handler()
		r.Server = `Streams 64 KiB events as fast as the client takes them, until it leaves or a write blocks for
longer than the write timeout, which ends the stream and closes the connection.`
		weaker(fmt.Sprintf(`It leaves out the producer's side (Done closes, Dispatch returns core.ErrClosed).
Remotely: the client sends its request, reads the status line, then nothing for %v; when it then reads, the connection
must end within %v (the server gave up on it), not go on streaming.`, remoteStall, remoteDrain), r.checkStalled)

	case "shutdown":
		none(`Needs core.Group.Shutdown called in the server's process, and checks the target's side.`)
	case "producer-after-disconnect":
		none(`Checks what the producer's Dispatch returns after the client left, which only the server's
process sees (client-disconnect checks the remote side of a disconnect).`)
	case "refused-after-shutdown":
		none(`Needs a core.Group shut down in the server's process before the request.`)
	case "on-end-every-request":
		none(`Checks the calls of core.WithOnEnd, which only the server's process sees.`)

	default:
		if s.Run == nil && s.Handler != nil {
			full(func(t testing.TB, env *conformance.Env) { s.Check(t, env) })
		} else {
			none(`Its check runs in the server's process and has no remote form yet.`)
		}
	}
	return r
}

// paced is the producer of the remote forms of timing scenarios: it waits
// delay, dispatches n messages every apart (or messages until the client
// leaves when endless), then closes the stream, or leaves it open until the
// client leaves when open is set.
type paced struct {
	delay, every time.Duration
	n            int
	endless      bool
	open         bool
	msg          func(i int) core.Message
}

// handler returns a Handler running p.
func (p paced) handler() conformance.Handler {
	return func(conformance.Request) (core.EventTarget, error) {
		t := core.NewTarget()
		go p.produce(t)
		return t, nil
	}
}

func (p paced) produce(t *core.Target) {
	if !p.open {
		defer t.Close()
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	wait := func(d time.Duration) bool {
		if d <= 0 {
			return true
		}
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-timer.C:
			return true
		case <-t.Done():
			return false
		}
	}
	if !wait(p.delay) {
		return
	}
	n := p.n
	if p.endless {
		n = pacedLimit
	}
	for i := range n {
		if i > 0 && !wait(p.every) {
			return
		}
		if t.Dispatch(p.msg(i)) != nil { // the stream ended
			return
		}
	}
}

// instant is p without pauses, ending after its messages (the first few, for
// an endless p): what [Protocol] drains to show the bytes.
func (p paced) instant() paced {
	if p.endless {
		p.endless, p.n = false, protocolSample
	}
	p.delay, p.every, p.open = 0, 0, false
	return p
}

// want returns the first n events p sends.
func (p paced) want(n int) []client.Event {
	var evs []client.Event
	for i := range n {
		m := p.msg(i)
		evs = append(evs, message(fmt.Sprint(m.Data), m.ID))
	}
	return evs
}

// checkHeartbeat checks that heartbeats arrive on an idle stream, each
// as it is sent: the first well before the event that follows them.
func (s Scenario) checkHeartbeat(t testing.TB, env *conformance.Env) {
	rq := s.Requests[0]
	st := env.Get(t, env.Serve(t, nil)+rq.Path)
	var first time.Time
	st.OnComment = func(string) {
		if first.IsZero() {
			first = time.Now()
		}
	}
	ev, err := st.Next(conformance.EventTimeout)
	switch {
	case first.IsZero() && err != nil:
		t.Fatalf("no heartbeat comment within %v on an idle stream with a %v heartbeat: %v", conformance.EventTimeout, core.NewOptions(s.Options...).Heartbeat, err)
	case first.IsZero():
		t.Fatalf("got event %s before any heartbeat comment", expect.Describe(ev))
	case err != nil:
		t.Fatalf("event 0 (sent after %v of heartbeats): got %s; want %s", remoteHeartbeatIdle, expect.DescribeErr(err), expect.Describe(rq.Want[0]))
	}
	if d := expect.DiffEvent(ev, rq.Want[0]); d != "" {
		t.Fatalf("event 0: %s", d)
	}
	// A server that does not flush heartbeats sends them with the event
	// (microseconds apart); one that flushes them sends the first about
	// remoteHeartbeatIdle earlier. The threshold leaves 90% of that for a
	// loaded machine's scheduling delays.
	if ahead := time.Since(first); ahead < remoteHeartbeatIdle/10 {
		t.Errorf("the first heartbeat arrived only %v before the event the server sends after %v of heartbeats: heartbeats are not flushed as they are sent",
			ahead.Round(time.Millisecond), remoteHeartbeatIdle)
	}
	st.ExpectWithin(t, nil, true, conformance.EventTimeout)
}

// checkFlushPaced reads the paced events of flush-per-event and checks that
// they arrived spread out.
func (s Scenario) checkFlushPaced(t testing.TB, env *conformance.Env) {
	rq := s.Requests[0]
	st := env.Get(t, env.Serve(t, nil)+rq.Path)
	var first time.Time
	for i, w := range rq.Want {
		ev, err := st.Next(conformance.EventTimeout)
		if err != nil {
			t.Fatalf("event %d (the events are sent %v apart): got %s; want %s", i, remoteFlushEvery, expect.DescribeErr(err), expect.Describe(w))
		}
		if d := expect.DiffEvent(ev, w); d != "" {
			t.Fatalf("event %d: %s", i, d)
		}
		if i == 0 {
			first = time.Now()
		}
	}
	spread := time.Since(first)
	st.ExpectWithin(t, nil, true, conformance.EventTimeout)
	sent := time.Duration(len(rq.Want)-1) * remoteFlushEvery
	// Unflushed events arrive together (microseconds apart); the threshold
	// leaves three quarters of the pacing for a loaded machine's delays.
	if spread < sent/4 {
		t.Errorf("the %d events, sent %v apart (over %v), arrived within %v: the server does not flush each event as it is dispatched",
			len(rq.Want), remoteFlushEvery, sent, spread.Round(time.Millisecond))
	}
}

// checkHeadersFirst checks that the headers of a stream idle for 2s arrive
// within 1s, then leaves.
func (s Scenario) checkHeadersFirst(t testing.TB, env *conformance.Env) {
	base := env.Serve(t, nil)
	ctx, cancel := context.WithCancel(env.Context())
	defer cancel()
	timer := time.AfterFunc(time.Second, cancel)
	start := time.Now()
	req := conformance.NewRequest(t, http.MethodGet, base+s.Path(), nil, "")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := env.Client.Do(req.WithContext(ctx))
	if !timer.Stop() {
		t.Fatalf("the response headers did not arrive within 1s (%v after the request: %v)", time.Since(start).Round(time.Millisecond), err)
	}
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	resp.Body.Close() // the client leaves
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %d; want 200", resp.StatusCode)
	}
}

// checkPlainError checks the 500 of handler-error-plain.
func (s Scenario) checkPlainError(t testing.TB, env *conformance.Env) {
	resp := env.Do(t, conformance.NewRequest(t, http.MethodGet, env.Serve(t, nil)+s.Path(), nil, ""))
	body := expect.ReadSome(resp.Body)
	expect.PlainStatus(t, resp, http.StatusInternalServerError)
	if strings.Contains(body, expect.Secret) {
		t.Errorf("body: got %q; want no trace of the internal error", body)
	}
}

// checkDisconnect reads the first events of a stream and leaves, twice: the
// server must go on serving after a client left.
func (s Scenario) checkDisconnect(t testing.TB, env *conformance.Env) {
	rq := s.Requests[0]
	base := env.Serve(t, nil)
	for _, conn := range []string{"first", "second"} {
		st := env.Get(t, base+rq.Path)
		for i, w := range rq.Want {
			ev, err := st.Next(conformance.EventTimeout)
			if err != nil {
				t.Fatalf("%s connection, event %d: got %s; want %s", conn, i, expect.DescribeErr(err), expect.Describe(w))
			}
			if d := expect.DiffEvent(ev, w); d != "" {
				t.Fatalf("%s connection, event %d: %s", conn, i, d)
			}
		}
		st.Close() // the client leaves
	}
}

// checkStalled sends a request, reads its status line, then nothing for
// remoteStall, then checks that the connection ends within remoteDrain once
// the client reads.
func (s Scenario) checkStalled(t testing.TB, env *conformance.Env) {
	u, err := url.Parse(env.Serve(t, nil) + s.Path())
	if err != nil {
		t.Fatalf("bad URL: %v", err)
	}
	conn := dialRemote(t, env.Context(), u)
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", u.RequestURI(), u.Host); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
	// The stall starts once the stream has: on a busy machine the server
	// may take longer than the stall to answer, and a stream that starts
	// after the client resumed reading never meets a stalled client.
	if err := conn.SetReadDeadline(time.Now().Add(remoteDrain)); err != nil {
		t.Fatalf("SetReadDeadline: %v", err)
	}
	br := bufio.NewReaderSize(conn, 512) // reads little of the stream itself
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("no status line within %v: %v", remoteDrain, err)
	}
	if !strings.HasPrefix(line, "HTTP/1.1 200 ") {
		t.Errorf("status line: got %q; want HTTP/1.1 200", strings.TrimSpace(line))
	}
	stall := time.NewTimer(remoteStall)
	defer stall.Stop()
	select {
	case <-stall.C:
	case <-env.Context().Done():
		t.Fatalf("interrupted: %v", env.Context().Err())
	}
	if err := conn.SetReadDeadline(time.Now().Add(remoteDrain)); err != nil {
		t.Fatalf("SetReadDeadline: %v", err)
	}
	n, err := io.Copy(io.Discard, io.LimitReader(br, remoteDrainLimit))
	switch {
	case n == remoteDrainLimit:
		t.Errorf("read %d MiB after resuming: the server goes on streaming to a client that stalled for %v", n>>20, remoteStall)
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Errorf("the connection was still open %v after the client resumed reading (%d bytes read): the server did not give up on a client that stalled for %v",
			remoteDrain, n, remoteStall)
	}
	// Any other end (EOF, a reset) is the server closing the connection.
}

// dialRemote opens a connection to u's host (TLS for https), closed by the
// test's cleanup. Its receive buffer keeps the system's size: a small one
// would make reading what the server sent before it gave up slow.
func dialRemote(t testing.TB, ctx context.Context, u *url.URL) net.Conn {
	t.Helper()
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	d := net.Dialer{Timeout: conformance.DefaultTimeout}
	var conn net.Conn
	raw, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		t.Fatalf("dial %s: %v", host, err)
	}
	conn = raw
	t.Cleanup(func() { raw.Close() })
	if u.Scheme == "https" {
		tc := tls.Client(raw, &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}})
		hctx, cancel := context.WithTimeout(ctx, conformance.DefaultTimeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			t.Fatalf("TLS handshake with %s: %v", host, err)
		}
		conn = tc
	}
	return conn
}
