package chattest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssekit/ssekit/examples/chat"
)

// heapAfterGC returns the live heap, after a full collection.
func heapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// testFlood: 3000 POSTs of 2000 '<' each, to 8 rooms, leave the chat
// holding no more than its caps allow (MaxRooms × RoomLog frames, plus the
// frames of rooms aged out that the backend drops at its next sweep, every
// 1024 publishes), measured as the live heap after GC before and after.
// Once the rooms are taken, the others are refused with 503.
func testFlood(t *testing.T, fw chat.Framework) {
	const (
		posts   = 3000
		workers = 8
		rooms   = 8
	)
	l := chat.Limits{MaxRooms: 4, RoomLog: 16, Rate: 1e9, Burst: 1e9}
	// The derived bound, and a wide margin for what the servers, the
	// clients and the runtime allocate on their own.
	bound := uint64((l.MaxRooms*l.RoomLog + 1024) * chat.MaxFrame)
	const slack = 6 << 20
	text := strings.Repeat("<", chat.MaxText) // 2000 bytes, a 12 KB frame with HTML escaping
	body, _ := json.Marshal(message{"flood", text})
	base := startWith(t, fw, nil, l)
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: workers}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	do(t, hc, http.MethodGet, base+"/", "") // warm the server up
	before := heapAfterGC()

	var mu sync.Mutex
	counts := map[int]int{}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				status := postRaw(hc, fmt.Sprintf("%s/rooms/r%d/messages", base, i%rooms), body)
				mu.Lock()
				counts[status]++
				mu.Unlock()
			}
		})
	}
	for i := range posts {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	after := heapAfterGC()

	grew := int64(after) - int64(before)
	t.Logf("%s: heap after GC %.1f MB before, %.1f MB after %d POSTs (%+.1f MB; bound %.1f MB + %.1f MB slack); answers %v",
		fw.Name, mb(before), mb(after), posts, float64(grew)/1e6, mb(bound), mb(slack), counts)
	if counts[http.StatusCreated] == 0 || counts[http.StatusServiceUnavailable] == 0 || counts[http.StatusCreated]+counts[http.StatusServiceUnavailable] != posts {
		t.Errorf("answers %v; want only 201 (the first %d rooms) and 503 (the others)", counts, l.MaxRooms)
	}
	if grew > int64(bound+slack) {
		t.Errorf("the heap grew by %.1f MB; want at most %.1f MB (the caps' bound) + %.1f MB", float64(grew)/1e6, mb(bound), mb(slack))
	}
}

func mb(n uint64) float64 { return float64(n) / 1e6 }

// postRaw posts body as JSON to url and returns the status, or -1 when the
// request failed; it may run on any goroutine.
func postRaw(hc *http.Client, url string, body []byte) int {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return -1
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// testNoEscapeBlowup: a message of 2000 '<', '>' and '&' reaches the
// stream as itself, not as 6-byte \u003c escapes.
func testNoEscapeBlowup(t *testing.T, fw chat.Framework) {
	text := strings.Repeat("<>&", chat.MaxText/3)
	want := `{"user":"ann","text":"` + text + `"}`
	hc := httpClient(t)
	base := start(t, fw, nil)
	s := openStream(t, hc, base+"/rooms/lobby/events", "", nil)
	post(t, hc, base, "lobby", message{"ann", text})
	if ev := s.next(t); ev.Data != want {
		t.Fatalf("data of %d bytes (%.40q...); want the %d bytes of the message as is", len(ev.Data), ev.Data, len(want))
	}
}

// testRoomsCap: once MaxRooms rooms hold messages, a message to another
// room is refused with 503; the rooms that count still take messages.
func testRoomsCap(t *testing.T, fw chat.Framework) {
	hc := httpClient(t)
	base := startWith(t, fw, nil, chat.Limits{MaxRooms: 3, Rate: 1e6, Burst: 1e6})
	for _, r := range []string{"one", "two", "three"} {
		post(t, hc, base, r, message{"ann", "hi " + r})
	}
	for _, path := range []string{"/rooms/four/messages", "/rooms/four/join"} {
		status, body := do(t, hc, http.MethodPost, base+path, `{"user":"ann","text":"hi four"}`)
		if path == "/rooms/four/join" {
			status, body = do(t, hc, http.MethodPost, base+path, `{"user":"ann"}`)
		}
		if status != http.StatusServiceUnavailable || !strings.Contains(body, "too many active rooms") {
			t.Errorf("POST %s: %d %q; want 503 too many active rooms", path, status, body)
		}
	}
	post(t, hc, base, "two", message{"ann", "two still works"})
	join(t, hc, base, "one", "bob")
}

// testRateLimit: a client posts Burst messages at once; the next one, and
// a join, answer 429 and publish nothing.
func testRateLimit(t *testing.T, fw chat.Framework) {
	hc := httpClient(t)
	// One token every 1000 s: nothing refills during the test.
	base := startWith(t, fw, nil, chat.Limits{Rate: 0.001, Burst: 3})
	s := openStream(t, hc, base+"/rooms/lobby/events", "", nil)
	var ids []string
	for i := range 3 {
		ids = append(ids, post(t, hc, base, "lobby", message{"ann", fmt.Sprint("burst ", i)}))
	}
	status, body := do(t, hc, http.MethodPost, base+"/rooms/lobby/messages", `{"user":"ann","text":"one too many"}`)
	if status != http.StatusTooManyRequests {
		t.Errorf("POST after the burst: %d %q; want 429", status, body)
	}
	status, body = do(t, hc, http.MethodPost, base+"/rooms/lobby/join", `{"user":"ann"}`)
	if status != http.StatusTooManyRequests {
		t.Errorf("POST join after the burst: %d %q; want 429", status, body)
	}
	// Another client (another loopback address) has a bucket of
	// its own; its message is the next event: nothing refused
	// came before it.
	other := httpClientFrom(t, "127.0.0.2")
	marker := message{"bob", "another client"}
	markerID := post(t, other, base, "lobby", marker)
	for i, id := range ids {
		s.expectMessage(t, id, message{"ann", fmt.Sprint("burst ", i)})
	}
	s.expectMessage(t, markerID, marker)
}

// httpClientFrom is httpClient with connections from the local address ip.
func httpClientFrom(t *testing.T, ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: wait}
	tr := &http.Transport{DisableCompression: true, DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// testPostGuards: a POST whose body is not application/json answers 415,
// one from another origin 403, and neither publishes; a POST from the
// page's own origin, as a browser sends it, goes through.
func testPostGuards(t *testing.T, fw chat.Framework) {
	const m = `{"user":"eve","text":"from elsewhere"}`
	hc := httpClient(t)
	base := start(t, fw, nil)
	s := openStream(t, hc, base+"/rooms/lobby/events", "", nil)
	for _, c := range []struct {
		path   string
		hdr    []string
		status int
	}{
		{"messages", []string{"Content-Type", "text/plain"}, 415},
		{"messages", []string{"Content-Type", "text/plain;charset=UTF-8"}, 415},
		{"messages", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415},
		{"messages", []string{"Content-Type", "multipart/form-data; boundary=x"}, 415},
		{"messages", []string{"Content-Type", ""}, 415},
		{"join", []string{"Content-Type", "text/plain"}, 415},
		{"messages", []string{"Origin", "http://evil.example"}, 403},
		{"messages", []string{"Origin", "null"}, 403},
		{"messages", []string{"Origin", "http://evil.example", "Content-Type", "text/plain"}, 403},
		{"messages", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"messages", []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"join", []string{"Origin", "https://evil.example"}, 403},
	} {
		body := m
		if c.path == "join" {
			body = `{"user":"eve"}`
		}
		status, answer := do(t, hc, http.MethodPost, base+"/rooms/lobby/"+c.path, body, c.hdr...)
		if status != c.status {
			t.Errorf("POST %s with %q: %d %q; want %d", c.path, c.hdr, status, answer, c.status)
		}
	}
	// The page's own POST, as Chromium sends it.
	good := message{"ann", "same origin"}
	id := post(t, hc, base, "lobby", good, "Origin", base, "Sec-Fetch-Site", "same-origin",
		"Content-Type", "application/json; charset=utf-8")
	s.expectMessage(t, id, good) // and nothing refused before it
}

// testGetNeverPublishes: a GET of the events route with ?user= (which
// announced the user before) publishes nothing: any page, <img> or link
// can make a browser send a GET.
func testGetNeverPublishes(t *testing.T, fw chat.Framework) {
	hc := httpClient(t)
	base := start(t, fw, nil)
	s := openStream(t, hc, base+"/rooms/lobby/events", "", nil)
	openStream(t, hc, base+"/rooms/lobby/events?user=mallory", "", nil)
	openStream(t, hc, base+"/rooms/lobby/events?user=mallory&since=0", "", nil)
	m := message{"ann", "after the GETs"}
	s.expectMessage(t, post(t, hc, base, "lobby", m), m) // and no join notice before it
}

// shortLimits are the connection limits of the timeout tests.
var shortLimits = chat.Limits{ReadHeaderTimeout: 300 * time.Millisecond, BodyTimeout: 600 * time.Millisecond,
	IdleTimeout: 600 * time.Millisecond, Rate: 1e6, Burst: 1e6}

// margin is how much later than its timeout the server may close a
// connection on a loaded machine.
const margin = 4 * time.Second

// dial connects to base's server.
func dial(t *testing.T, base string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// expectClosed reads r (whatever answer the server sends first) until the
// server closes the connection, and fails unless that happens within
// limit of start.
func expectClosed(t *testing.T, conn net.Conn, r io.Reader, start time.Time, limit time.Duration) {
	t.Helper()
	conn.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v", limit)
	}
	t.Logf("closed after %v (%v)", time.Since(start).Round(time.Millisecond), err)
}

// testSlowHeaders: a connection that sends part of a request line and of
// its headers, then nothing, is closed by the server within its header
// timeout (net/http, Gin, Echo: ReadHeaderTimeout; Fiber: ReadTimeout).
func testSlowHeaders(t *testing.T, fw chat.Framework) {
	base := startWith(t, fw, nil, shortLimits)
	for _, partial := range []string{"GET /rooms/lo", "GET /rooms/lobby/events HTTP/1.1\r\nHost: x\r\nX-Slow: "} {
		conn := dial(t, base)
		start := time.Now()
		if _, err := io.WriteString(conn, partial); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, conn, conn, start, max(shortLimits.ReadHeaderTimeout, shortLimits.BodyTimeout)+margin)
	}
}

// testIdleKeepAlive: a keep-alive connection that sends no further request
// is closed by the server after its IdleTimeout.
func testIdleKeepAlive(t *testing.T, fw chat.Framework) {
	base := startWith(t, fw, nil, shortLimits)
	conn := dial(t, base)
	conn.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("GET /: %d, close %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
	}
	expectClosed(t, conn, br, time.Now(), shortLimits.IdleTimeout+margin)
}

// testSlowBody: a request whose body stops arriving is answered (408 where
// the framework answers) and its connection closed within BodyTimeout: a
// POST to the messages route, which reads the body; a POST to no route and
// a GET of the page with a body, whose bodies net/http reads after the
// handler to keep the connection.
func testSlowBody(t *testing.T, fw chat.Framework) {
	base := startWith(t, fw, nil, shortLimits)
	for _, head := range []string{"POST /rooms/lobby/messages", "POST /nowhere", "GET /", "GET /rooms/lobby/events"} {
		conn := dial(t, base)
		start := time.Now()
		if _, err := io.WriteString(conn, head+" HTTP/1.1\r\nHost: x\r\n"+
			"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user\":"); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, conn, conn, start, shortLimits.ReadHeaderTimeout+shortLimits.BodyTimeout+margin)
	}
}

// testStreamsOutliveTimeouts: an event stream stays open, and delivers,
// long after the body and idle timeouts: they never apply to it.
func testStreamsOutliveTimeouts(t *testing.T, fw chat.Framework) {
	hc := httpClient(t)
	base := startWith(t, fw, nil, shortLimits)
	s := openStream(t, hc, base+"/rooms/lobby/events", "", nil)
	// Let every timeout pass (nothing to wait for but the clock).
	time.Sleep(2 * max(shortLimits.BodyTimeout, shortLimits.IdleTimeout, shortLimits.ReadHeaderTimeout))
	m := message{"ann", "still there?"}
	s.expectMessage(t, post(t, hc, base, "lobby", m), m)
}
