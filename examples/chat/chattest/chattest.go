// Package chattest holds the tests of the chat example that every framework
// runs: each framework's module calls Run from its own test.
package chattest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ssekit/ssekit/broker"
	redisbroker "github.com/ssekit/ssekit/broker/redis"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/examples/chat"
)

// Run runs every test of the chat on fw, as subtests. The Redis tests need
// a Redis server (see newRedis).
func Run(t *testing.T, fw chat.Framework) {
	for _, c := range []struct {
		name string
		test func(*testing.T, chat.Framework)
	}{
		{"Messages", testMessages},
		{"Resume", testResume},
		{"BadInput", testBadInput},
		{"PrivateRoom", testPrivateRoom},
		{"Page", testPage},
		{"MetricsAndPresence", testMetricsAndPresence},
		{"Shutdown", testShutdown},
		{"RedisSharedRoom", testRedisSharedRoom},
		{"RedisUnreachable", testRedisUnreachable},
		{"Flood", testFlood},
		{"NoEscapeBlowup", testNoEscapeBlowup},
		{"RoomsCap", testRoomsCap},
		{"RateLimit", testRateLimit},
		{"PostGuards", testPostGuards},
		{"GetNeverPublishes", testGetNeverPublishes},
		{"SlowHeaders", testSlowHeaders},
		{"IdleKeepAlive", testIdleKeepAlive},
		{"SlowBody", testSlowBody},
		{"StreamsOutliveTimeouts", testStreamsOutliveTimeouts},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, fw) })
	}
}

// What the routes take and answer, as a client sees them: the tests check
// the JSON on the wire with their own types.
type (
	// message is the body of POST /rooms/{room}/messages and the data of
	// a "message" event.
	message struct {
		User string `json:"user"`
		Text string `json:"text"`
	}
	// notice is the data of a "system" event.
	notice struct {
		Kind string `json:"kind"`
		User string `json:"user"`
		Text string `json:"text"`
	}
	// posted is the answer to a POST.
	posted struct {
		ID string `json:"id"`
	}
	// joining is the body of POST /rooms/{room}/join.
	joining struct {
		User string `json:"user"`
	}
)

// testToken is the token of private rooms in the tests.
const testToken = "s3cret-token"

// wait bounds every wait for the server.
const wait = 10 * time.Second

// start serves the chat on fw on a loopback port with backend (nil: in
// memory) and returns its base URL. The server and the broker stop, as main
// stops them on a signal, when the test ends. Its rate limit is lifted
// (tests post faster than people); every other limit is the default.
func start(t *testing.T, fw chat.Framework, backend broker.Backend) string {
	t.Helper()
	return startWith(t, fw, backend, chat.Limits{Rate: 1e6, Burst: 1e6})
}

// startWith is start with limits l.
func startWith(t *testing.T, fw chat.Framework, backend broker.Backend, l chat.Limits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := chat.New(chat.Options{Backend: backend, BackendName: "test backend", Token: testToken, Limits: l})
	stop := fw.Serve(ln, c)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := stop(ctx); err != nil {
			t.Errorf("stopping the %s server: %v", fw.Name, err)
		}
		if n := c.Broker().Len(); n != 0 {
			t.Errorf("%d subscriptions left after shutdown", n)
		}
	})
	return "http://" + ln.Addr().String()
}

// httpClient returns a client whose idle connections are closed when the
// test ends. It has no Timeout, which would cut streams: requests carry a
// context instead.
func httpClient(t *testing.T) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// stream is an open event stream read by a client.EventSource.
type stream struct {
	events chan client.Event
	errc   chan error // the EventSource's terminal error
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// openStream connects a client.EventSource to url (starting after lastID,
// sent as Last-Event-ID, when not empty) and returns once the server has
// answered 200 with an event stream: the subscription exists then, since
// Subscribe is synchronous and the headers leave after it. The stream is
// closed when the test ends.
func openStream(t *testing.T, hc *http.Client, url, lastID string, hdr http.Header) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &stream{events: make(chan client.Event, 100), errc: make(chan error, 1), cancel: cancel, done: make(chan struct{})}
	opened := make(chan struct{}, 1)
	es := client.NewEventSource(url, client.Options{
		Client:      hc,
		Header:      hdr,
		LastEventID: lastID,
		OnOpen: func(*http.Response) {
			select {
			case opened <- struct{}{}:
			default:
			}
		},
	})
	go func() {
		defer close(s.done)
		for ev, err := range es.Events(ctx) {
			if err != nil {
				s.errc <- err
				return
			}
			select {
			case s.events <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { s.close(t) })
	select {
	case <-opened:
	case err := <-s.errc:
		t.Fatalf("GET %s: %v", url, err)
	case <-time.After(wait):
		t.Fatalf("GET %s: no stream after %v", url, wait)
	}
	return s
}

// close ends the stream (the client goes away) and waits for its reader.
func (s *stream) close(t *testing.T) {
	s.once.Do(func() {
		s.cancel()
		select {
		case <-s.done:
		case <-time.After(wait):
			t.Errorf("the stream's reader did not stop within %v", wait)
		}
	})
}

// next returns the stream's next event.
func (s *stream) next(t *testing.T) client.Event {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case err := <-s.errc:
		t.Fatalf("the stream ended: %v", err)
	case <-time.After(wait):
		t.Fatalf("no event within %v", wait)
	}
	return client.Event{}
}

// expectMessage reads the next event and checks that it is the message m
// with id.
func (s *stream) expectMessage(t *testing.T, id string, m message) {
	t.Helper()
	ev := s.next(t)
	if ev.Type != "message" || ev.LastEventID != id {
		t.Fatalf("got event %q id %q data %q; want a message with id %q", ev.Type, ev.LastEventID, ev.Data, id)
	}
	var got message
	if err := json.Unmarshal([]byte(ev.Data), &got); err != nil || got != m {
		t.Fatalf("message %s: data %q; want the JSON of %+v (%v)", id, ev.Data, m, err)
	}
}

// do sends a request with a bounded wait and returns the status and body.
func do(t *testing.T, hc *http.Client, method, url, body string, hdr ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return resp.StatusCode, string(b)
}

// post posts m to room and returns the id of its event.
func post(t *testing.T, hc *http.Client, base, room string, m message, hdr ...string) string {
	t.Helper()
	return postURL(t, hc, base+"/rooms/"+room+"/messages", m, hdr...)
}

// postURL posts m to url and returns the id of its event.
func postURL(t *testing.T, hc *http.Client, url string, m message, hdr ...string) string {
	t.Helper()
	b, _ := json.Marshal(m)
	status, body := do(t, hc, http.MethodPost, url, string(b), hdr...)
	if status != http.StatusCreated {
		t.Fatalf("POST %+v to %s: %d %s; want 201", m, url, status, body)
	}
	var p posted
	if err := json.Unmarshal([]byte(body), &p); err != nil || p.ID == "" {
		t.Fatalf("POST %+v to %s: answer %q; want {\"id\": ...} (%v)", m, url, body, err)
	}
	return p.ID
}

// increasing checks that broker ids grow.
func increasing(t *testing.T, ids ...string) {
	t.Helper()
	for i := 1; i < len(ids); i++ {
		a, err1 := broker.ParseID(ids[i-1])
		b, err2 := broker.ParseID(ids[i])
		if err1 != nil || err2 != nil || a.Compare(b) >= 0 {
			t.Fatalf("ids %q: not increasing broker ids (%v, %v)", ids, err1, err2)
		}
	}
}

// join announces user in room and returns the id of its event.
func join(t *testing.T, hc *http.Client, base, room, user string) string {
	t.Helper()
	b, _ := json.Marshal(joining{User: user})
	status, body := do(t, hc, http.MethodPost, base+"/rooms/"+room+"/join", string(b))
	var p posted
	if status != http.StatusCreated || json.Unmarshal([]byte(body), &p) != nil || p.ID == "" {
		t.Fatalf("POST join %q to %s: %d %s; want 201 {\"id\": ...}", user, room, status, body)
	}
	return p.ID
}

// testMessages: two messages posted to a room reach its stream in order,
// with their ids; a message to another room does not; a newcomer who posts
// to the join route is announced to the room.
func testMessages(t *testing.T, fw chat.Framework) {
	hc := httpClient(t)
	base := start(t, fw, nil)
	s := openStream(t, hc, base+"/rooms/lobby/events", "", nil)

	m1, m2 := message{"ann", "hello, room"}, message{"bob", "hi ann\nhow are you? ☕ 👩\u200d💻\tok"}
	id1 := post(t, hc, base, "lobby", m1)
	id2 := post(t, hc, base, "lobby", m2)
	increasing(t, id1, id2)
	s.expectMessage(t, id1, m1)
	s.expectMessage(t, id2, m2)

	post(t, hc, base, "elsewhere", message{"eve", "not for the lobby"})
	m3 := message{"ann", "still here"}
	id3 := post(t, hc, base, "lobby", m3)
	s.expectMessage(t, id3, m3) // and not the other room's message

	// A newcomer opens the room, then announces itself: both
	// streams get the notice.
	s2 := openStream(t, hc, base+"/rooms/lobby/events", "", nil)
	id4 := join(t, hc, base, "lobby", "carol")
	for _, st := range []*stream{s, s2} {
		ev := st.next(t)
		var n notice
		if ev.Type != "system" || ev.LastEventID != id4 || json.Unmarshal([]byte(ev.Data), &n) != nil || n != (notice{"join", "carol", "carol joined"}) {
			t.Fatalf("got event %q id %q data %q; want carol's join notice %s", ev.Type, ev.LastEventID, ev.Data, id4)
		}
		increasing(t, id3, ev.LastEventID)
	}
}

// testResume: a client that reconnects with Last-Event-ID gets exactly the
// messages it missed, then live ones; ?since=0 on a first connection gets
// the whole log after the reset signal.
func testResume(t *testing.T, fw chat.Framework) {
	hc := httpClient(t)
	base := start(t, fw, nil)
	url := base + "/rooms/lobby/events"
	s := openStream(t, hc, url, "", nil)
	ms := []message{{"ann", "one"}, {"bob", "two"}, {"ann", "three"}, {"bob", "four"}, {"ann", "five"}}
	ids := make([]string, len(ms))
	for i := range 2 {
		ids[i] = post(t, hc, base, "lobby", ms[i])
		s.expectMessage(t, ids[i], ms[i])
	}
	s.close(t) // the client goes away
	for i := 2; i < 4; i++ {
		ids[i] = post(t, hc, base, "lobby", ms[i])
	}

	// The Last-Event-ID header wins over ?since=0.
	r := openStream(t, hc, url+"?since=0", ids[1], nil)
	r.expectMessage(t, ids[2], ms[2])
	r.expectMessage(t, ids[3], ms[3])
	ids[4] = post(t, hc, base, "lobby", ms[4])
	r.expectMessage(t, ids[4], ms[4]) // nothing else came in between
	increasing(t, ids...)

	// A first connection with ?since=0: the reset signal (the log
	// does not reach back to 0), then the whole log.
	all := openStream(t, hc, url+"?since=0", "", nil)
	if ev := all.next(t); ev.Type != broker.ResetEvent || ev.Data != "" {
		t.Fatalf("got event %q data %q; want the %s signal first", ev.Type, ev.Data, broker.ResetEvent)
	}
	for i := range ms {
		all.expectMessage(t, ids[i], ms[i])
	}
}

// testBadInput: invalid messages, rooms and parameters answer 400 (413 for
// a body too large) with a message saying what is wrong.
func testBadInput(t *testing.T, fw chat.Framework) {
	posts := []struct {
		room, body string
		status     int
		want       string
	}{
		{"lobby", `{"user":"ann","text":""}`, 400, "text is empty"},
		{"lobby", `{"user":"ann","text":"  \n "}`, 400, "text is empty"},
		{"lobby", `{"user":"","text":"hi"}`, 400, "user is empty"},
		{"lobby", `{"text":"hi"}`, 400, "user is empty"},
		{"lobby", `{"user":"` + strings.Repeat("a", 33) + `","text":"hi"}`, 400, "user is too long: at most 32 characters"},
		{"lobby", `{"user":"ann","text":"` + strings.Repeat("é", 2001) + `"}`, 400, "text is too long: at most 2000 characters"},
		{"lobby", `{"user":"a\u0007b","text":"hi"}`, 400, "user has a control or format character (U+7)"},
		{"lobby", `{"user":"ann\u202Eevil","text":"hi"}`, 400, "user has a control or format character (U+202E)"},
		{"lobby", `{"user":"ann` + "\u202e" + `evil","text":"hi"}`, 400, "user has a control or format character (U+202E)"},
		{"lobby", `{"user":"ann","text":"abc\u2066def"}`, 400, "text has a control or format character (U+2066)"},
		{"lobby", `{"user":"ann","text":"abc\u200Fdef"}`, 400, "text has a control or format character (U+200F)"},
		{"lobby", `{"user":"ann","text":"a\u2028b"}`, 400, "text has a control or format character (U+2028)"},
		{"lobby", `{"user":"ann","text":"a\u0000b"}`, 400, "text has a control or format character (U+0)"},
		{"lobby", `{"user":"ann","text":"bad \ud800 surrogate"}`, 400, "text has a control or format character (U+FFFD)"},
		{"lobby", `{"user":"ann\u200d","text":"hi"}`, 400, "user has a control or format character (U+200D)"},
		{"lobby", `not json`, 400, "body must be a JSON object"},
		{"lobby", ``, 400, "body must be a JSON object"},
		{"lobby", `{"user":"ann","text":"hi","room":"x"}`, 400, "unknown field"},
		{"lobby", `{"user":"ann","text":"hi"}{"user":"ann","text":"again"}`, 400, "one JSON object"},
		{"lobby", `{"user":"ann","text":"` + strings.Repeat("x", 20<<10) + `"}`, 413, "body too large"},
		{"no.dots", `{"user":"ann","text":"hi"}`, 400, "bad room name"},
		{strings.Repeat("r", 41), `{"user":"ann","text":"hi"}`, 400, "bad room name"},
	}
	gets := []struct {
		path, want string
	}{
		{"/rooms/no.dots/events", "bad room name"},
		{"/rooms/-dash-first/events", "bad room name"},
		{"/rooms/lobby/events?since=" + strings.Repeat("1", 65), "since is too long"},
	}
	hc := httpClient(t)
	base := start(t, fw, nil)
	s := openStream(t, hc, base+"/rooms/lobby/events", "", nil)
	for _, p := range posts {
		status, body := do(t, hc, http.MethodPost, base+"/rooms/"+p.room+"/messages", p.body)
		if status != p.status || !strings.Contains(body, p.want) {
			t.Errorf("POST %.60q to %s: %d %q; want %d with %q", p.body, p.room, status, body, p.status, p.want)
		}
	}
	for _, p := range []struct{ body, want string }{
		{`{"user":"\u202Eevil"}`, "user has a control or format character (U+202E)"},
		{`{"user":""}`, "user is empty"},
		{`{"user":"ann","text":"hi"}`, "unknown field"},
	} {
		status, body := do(t, hc, http.MethodPost, base+"/rooms/lobby/join", p.body)
		if status != http.StatusBadRequest || !strings.Contains(body, p.want) {
			t.Errorf("POST join %.60q: %d %q; want 400 with %q", p.body, status, body, p.want)
		}
	}
	for _, g := range gets {
		status, body := do(t, hc, http.MethodGet, base+g.path, "")
		if status != http.StatusBadRequest || !strings.Contains(body, g.want) {
			t.Errorf("GET %.60s: %d %q; want 400 with %q", g.path, status, body, g.want)
		}
	}
	// Nothing bad was published: the next event is the next good one.
	m := message{"ann", "valid at last"}
	s.expectMessage(t, post(t, hc, base, "lobby", m), m)
}

// testPrivateRoom: a private-* room needs the token to read it (the
// broker's Authorize hook) and to post to it; without it, 403.
func testPrivateRoom(t *testing.T, fw chat.Framework) {
	const room = "private-team"
	hc := httpClient(t)
	base := start(t, fw, nil)
	url := base + "/rooms/" + room + "/events"
	for _, c := range []struct {
		path string
		hdr  []string
		want string
	}{
		{url, nil, "room private-team is private: send its token in the X-Chat-Token header or the token query parameter"},
		{url + "?token=wrong", nil, "room private-team is private: wrong token"},
		{url, []string{chat.TokenHeader, "wrong"}, "wrong token"},
	} {
		status, body := do(t, hc, http.MethodGet, c.path, "", c.hdr...)
		if status != http.StatusForbidden || !strings.Contains(body, c.want) {
			t.Errorf("GET %s %q: %d %q; want 403 with %q", c.path, c.hdr, status, body, c.want)
		}
	}
	status, body := do(t, hc, http.MethodPost, base+"/rooms/"+room+"/messages", `{"user":"eve","text":"let me in"}`)
	if status != http.StatusForbidden || !strings.Contains(body, "is private") {
		t.Errorf("POST without the token: %d %q; want 403", status, body)
	}

	// With the token: in the query (as a browser's EventSource
	// sends it), in the header (as other clients may).
	byQuery := openStream(t, hc, url+"?token="+testToken, "", nil)
	byHeader := openStream(t, hc, url, "", http.Header{chat.TokenHeader: {testToken}})
	m := message{"ann", "for the team only"}
	id := post(t, hc, base, room, m, chat.TokenHeader, testToken)
	byQuery.expectMessage(t, id, m)
	byHeader.expectMessage(t, id, m)
	m2 := message{"bob", "token in the query"}
	id2 := postURL(t, hc, base+"/rooms/"+room+"/messages?token="+testToken, m2)
	byQuery.expectMessage(t, id2, m2)
	byHeader.expectMessage(t, id2, m2)
}

// testPage: GET / serves the page, which names the framework and reads the
// rooms with EventSource.
func testPage(t *testing.T, fw chat.Framework) {
	hc := httpClient(t)
	base := start(t, fw, nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	page := string(b)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"Chat served by <span class=\"fw\" id=\"framework\">" + fw.Name + "</span>", "test backend", "new EventSource("} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "{{") || strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("the page has an unfilled placeholder or an external asset")
	}
}

// testMetricsAndPresence: GET /presence counts the people in each public
// room (private ones are left out), and GET /metrics has the streams and
// the broker's subscribers in Prometheus' format.
func testMetricsAndPresence(t *testing.T, fw chat.Framework) {
	hc := httpClient(t)
	base := start(t, fw, nil)
	openStream(t, hc, base+"/rooms/lobby/events", "", nil)
	openStream(t, hc, base+"/rooms/lobby/events", "", nil)
	openStream(t, hc, base+"/rooms/random/events", "", nil)
	openStream(t, hc, base+"/rooms/private-team/events?token="+testToken, "", nil)
	post(t, hc, base, "lobby", message{"ann", "hello"})

	code, body := do(t, hc, http.MethodGet, base+"/presence", "")
	var p struct{ Rooms map[string]int }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &p) != nil {
		t.Fatalf("GET /presence: %d %q", code, body)
	}
	if len(p.Rooms) != 2 || p.Rooms["lobby"] != 2 || p.Rooms["random"] != 1 {
		t.Fatalf("GET /presence: %q; want lobby 2, random 1 and no private room", body)
	}

	// The streams' figures are recorded when they flush: poll (bounded).
	var metrics string
	deadline := time.Now().Add(wait)
	for {
		code, metrics = do(t, hc, http.MethodGet, base+"/metrics", "")
		if code == http.StatusOK && strings.Contains(metrics, `ssekit_events_written_total{adapter=`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /metrics: %d, no events written after %v:\n%s", code, wait, metrics)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{
		`ssekit_streams_open{adapter=`,
		`ssekit_broker_subscribers{topic="room:lobby"} 2`,
		`ssekit_broker_subscribers{topic="room:private-team"} 1`,
		`ssekit_broker_published_total{result="ok",topic="room:lobby"} 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("GET /metrics lacks %q:\n%s", want, metrics)
		}
	}
	if n := strings.Count(metrics, "ssekit_streams_open{"); n != 1 {
		t.Errorf("GET /metrics: %d series of ssekit_streams_open; want 1 (the events route)", n)
	}
}

// testShutdown: stopping the server as main does on SIGINT ends every open
// stream cleanly, after what was queued, and returns without waiting for its
// deadline (net/http, Gin and Echo: the broker's Shutdown runs as the
// server's OnShutdown hook; Fiber: before the app's).
func testShutdown(t *testing.T, fw chat.Framework) {
	hc := httpClient(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := chat.New(chat.Options{Token: testToken})
	stop := fw.Serve(ln, c)
	base := "http://" + ln.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/rooms/lobby/events", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET events: %d", resp.StatusCode)
	}
	m := message{"ann", "last words"}
	id := post(t, hc, base, "lobby", m)

	stopped := make(chan error, 1)
	began := time.Now()
	go func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		stopped <- stop(sctx)
	}()
	p := client.NewParser(resp.Body)
	ev, err := p.Next()
	if err != nil || ev.Type != "message" || ev.LastEventID != id {
		t.Fatalf("got %+v, %v; want the message %s written before the end", ev, err, id)
	}
	if ev, err := p.Next(); err != io.EOF {
		t.Fatalf("after the last message: %+v, %v; want the stream to end (io.EOF)", ev, err)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("stop: %v", err)
		}
	case <-time.After(wait):
		t.Fatalf("stop did not return within %v", wait)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("stopping took %v: the streams held the server", d)
	}
	if n := c.Broker().Len(); n != 0 {
		t.Errorf("%d subscriptions left after shutdown", n)
	}
}

// redisAddr is the Redis server of the Redis test.
func redisAddr() string {
	if a := os.Getenv("SSEKIT_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// newRedis connects to the test Redis, failing (not skipping) the test when
// it is unreachable. The client is closed when the test ends.
func newRedis(t *testing.T) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: redisAddr(), MaxRetries: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		t.Fatalf("Redis is not reachable at %s (%v): the chat's Redis test needs a real server on loopback.\n"+
			"Run the README's test command (`scripts/with-services` starts one), or point SSEKIT_REDIS_ADDR at one (host:port).", redisAddr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// redisPrefixFor returns a key prefix unique to this test; its keys are
// deleted when the test ends, after the servers using them stopped.
func redisPrefixFor(t *testing.T) string {
	t.Helper()
	var r [6]byte
	_, _ = rand.Read(r[:])
	p := "ssekit-chat-test:" + strings.ReplaceAll(t.Name(), "/", ":") + ":" + hex.EncodeToString(r[:])
	admin := newRedis(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		keys, err := admin.Keys(ctx, "{"+p+"}:*").Result()
		if err == nil && len(keys) > 0 {
			err = admin.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("deleting the test keys: %v", err)
		}
	})
	return p
}

// testRedisSharedRoom: two servers on the Redis backend, fw and net/http,
// share a room: a message posted on either reaches the streams of both, in
// one order, and a client resumes on the other server with Last-Event-ID
// (from fw to net/http, then from net/http to fw).
func testRedisSharedRoom(t *testing.T, fw chat.Framework) {
	for _, pair := range [][2]chat.Framework{{fw, chat.NetHTTP}, {chat.NetHTTP, fw}} {
		fw, other := pair[0], pair[1]
		t.Run(shortName(fw)+"+"+shortName(other), func(t *testing.T) {
			prefix := redisPrefixFor(t)
			rdbA, rdbB := newRedis(t), newRedis(t)
			hc := httpClient(t)
			baseA := start(t, fw, redisbroker.New(rdbA, redisbroker.Options{Prefix: prefix}))
			baseB := start(t, other, redisbroker.New(rdbB, redisbroker.Options{Prefix: prefix}))
			onA := openStream(t, hc, baseA+"/rooms/lobby/events", "", nil)
			onB := openStream(t, hc, baseB+"/rooms/lobby/events", "", nil)

			m1, m2 := message{"ann", "from " + fw.Name}, message{"bob", "from " + other.Name}
			id1 := post(t, hc, baseA, "lobby", m1)
			id2 := post(t, hc, baseB, "lobby", m2)
			increasing(t, id1, id2)
			for _, s := range []*stream{onA, onB} {
				s.expectMessage(t, id1, m1)
				s.expectMessage(t, id2, m2)
			}

			// The client on A goes away and comes back on B.
			onA.close(t)
			m3, m4 := message{"ann", "while you were away"}, message{"bob", "live again"}
			id3 := post(t, hc, baseA, "lobby", m3)
			moved := openStream(t, hc, baseB+"/rooms/lobby/events", id2, nil)
			moved.expectMessage(t, id3, m3)
			id4 := post(t, hc, baseA, "lobby", m4)
			moved.expectMessage(t, id4, m4)
			onB.expectMessage(t, id3, m3)
			onB.expectMessage(t, id4, m4)
		})
	}
}

// shortName is fw's name without slashes, for a subtest's name.
func shortName(fw chat.Framework) string { return strings.ReplaceAll(fw.Name, "/", "") }

// testRedisUnreachable: with the Redis backend down, posting answers 503, with
// a message, and subscribing answers a refusal (200, a retry, the end) instead
// of hanging.
func testRedisUnreachable(t *testing.T, fw chat.Framework) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now
	rdb := goredis.NewClient(&goredis.Options{Addr: dead, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	hc := httpClient(t)
	base := start(t, fw, redisbroker.New(rdb, redisbroker.Options{Prefix: "ssekit-chat-test:dead"}))
	status, body := do(t, hc, http.MethodPost, base+"/rooms/lobby/messages", `{"user":"ann","text":"hi"}`)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "could not be delivered") {
		t.Errorf("POST: %d %q; want 503", status, body)
	}
	// A browser never reconnects after a non-200 answer: the stream is
	// refused with 200, a short retry and the end instead (adapter.Refusal),
	// so the page comes back once Redis does.
	status, body = do(t, hc, http.MethodGet, base+"/rooms/lobby/events", "")
	if status != http.StatusOK || !strings.Contains(body, "\nretry: ") {
		t.Errorf("GET events: %d %q; want 200 with a retry and the end", status, body)
	}
}
