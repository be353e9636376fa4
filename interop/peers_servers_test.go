package interop

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	fiberv2 "github.com/gofiber/fiber/v2"
	echov4 "github.com/labstack/echo/v4"
	r3sse "github.com/r3labs/sse/v2"
	gosse "github.com/tmaxmax/go-sse"
	"github.com/valyala/fasthttp"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

// peerEvent is one event every peer is asked to send: the same as
// interop/node/peers-events.mjs and sseconform serve's /demo.
type peerEvent struct{ id, event, data string }

var peerEvents = []peerEvent{
	{"1", "", "plain"},
	{"2", "", "lf\nin data"},
	{"3", "", "cr\rin data"},
	{"4", "", "crlf\r\nin data"},
	{"5", "", " leading space"},
	{"6", "", ""},
	{"7", "named", "n"},
	{"8", "named", ""},
	{"9", "close", "bye"},
}

// peerPace is the time between two events of a peer's stream.
const peerPace = 20 * time.Millisecond

// eventsAfter returns the events after the Last-Event-ID (all without one),
// as each handler-level peer resumes.
func eventsAfter(lastID string) []peerEvent {
	n, err := strconv.Atoi(lastID)
	if err != nil {
		return peerEvents
	}
	var out []peerEvent
	for _, e := range peerEvents {
		if id, _ := strconv.Atoi(e.id); id > n {
			out = append(out, e)
		}
	}
	return out
}

// pace waits peerPace, or returns false when ctx ends first.
func pace(ctx context.Context) bool {
	t := time.NewTimer(peerPace)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// servePeer serves h on a loopback httptest server and returns the URL of
// path; the test's cleanup stops it.
func servePeer(t *testing.T, h http.Handler, path string) string {
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL + path
}

// startSSEKit: ssekit's net/http adapter, the control.
func startSSEKit(t *testing.T) string {
	return servePeer(t, nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		ctx := r.Context()
		evs := eventsAfter(nethttpsse.LastEventID(r))
		return core.FromSeq(func(yield func(core.Message) bool) {
			for _, e := range evs {
				if !pace(ctx) || !yield(core.Message{ID: e.id, Event: e.event, Data: e.data}) {
					return
				}
			}
		}), nil
	}), "/sse")
}

// startGoSSE: tmaxmax/go-sse's Session (sse.Upgrade, Send, Flush), each
// event an sse.Message with ID, Type and AppendData; it resumes after
// Session.LastEventID.
func startGoSSE(t *testing.T) string {
	return servePeer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := gosse.Upgrade(w, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for _, e := range eventsAfter(sess.LastEventID.String()) {
			if !pace(r.Context()) {
				return
			}
			m := &gosse.Message{ID: gosse.ID(e.id)}
			if e.event != "" {
				m.Type = gosse.Type(e.event)
			}
			m.AppendData(e.data)
			if sess.Send(m) != nil || sess.Flush() != nil {
				return
			}
		}
	}), "/sse")
}

// startR3labs: r3labs/sse/v2's Server as its README sets it up (New,
// CreateStream, Publish; AutoReplay on, its default, replays the event log
// to a client that sends Last-Event-ID). The events are published once the
// first client has subscribed; r3labs numbers them itself, from 0.
func startR3labs(t *testing.T) string {
	srv := r3sse.New()
	var once sync.Once
	done := make(chan struct{})
	srv.OnSubscribe = func(string, *r3sse.Subscriber) {
		once.Do(func() {
			go func() {
				defer close(done)
				for _, e := range peerEvents {
					timer := time.NewTimer(peerPace)
					<-timer.C
					srv.Publish("peer", &r3sse.Event{Event: []byte(e.event), Data: []byte(e.data)})
				}
			}()
		})
	}
	srv.CreateStream("peer")
	mux := http.NewServeMux()
	mux.HandleFunc("/sse", srv.ServeHTTP)
	url := servePeer(t, mux, "/sse?stream=peer")
	t.Cleanup(func() {
		once.Do(func() { close(done) })
		<-done
		srv.Close()
	})
	return url
}

// startGin: Gin's c.SSEvent(name, data) and c.Writer.Flush(), as its
// documentation streams (c.SSEvent has no id parameter: the events carry
// none, so there is no resume to check).
func startGin(t *testing.T) string {
	r := gin.New()
	r.GET("/sse", func(c *gin.Context) {
		for _, e := range eventsAfter(c.GetHeader("Last-Event-ID")) {
			if !pace(c.Request.Context()) {
				return
			}
			name := e.event
			if name == "" {
				name = "message"
			}
			c.SSEvent(name, e.data)
			c.Writer.Flush()
		}
	})
	return servePeer(t, r, "/sse")
}

// echoEvent and MarshalTo are Echo's cookbook recipe "Server-Sent-Events"
// (echo.labstack.com/docs/cookbook/sse), as written there.
type echoEvent struct {
	ID      []byte
	Data    []byte
	Event   []byte
	Retry   []byte
	Comment []byte
}

func (ev *echoEvent) MarshalTo(w io.Writer) error {
	// Marshalling part is taken from: https://github.com/r3labs/sse/blob/c6d5381ee3ca63828b321c16baa008fd6c0b4564/http.go#L16
	if len(ev.Data) == 0 && len(ev.Comment) == 0 {
		return nil
	}
	if len(ev.Data) > 0 {
		if _, err := fmt.Fprintf(w, "id: %s\n", ev.ID); err != nil {
			return err
		}
		sd := bytes.Split(ev.Data, []byte("\n"))
		for i := range sd {
			if _, err := fmt.Fprintf(w, "data: %s\n", sd[i]); err != nil {
				return err
			}
		}
		if len(ev.Event) > 0 {
			if _, err := fmt.Fprintf(w, "event: %s\n", ev.Event); err != nil {
				return err
			}
		}
		if len(ev.Retry) > 0 {
			if _, err := fmt.Fprintf(w, "retry: %s\n", ev.Retry); err != nil {
				return err
			}
		}
	}
	if len(ev.Comment) > 0 {
		if _, err := fmt.Fprintf(w, ": %s\n", ev.Comment); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprint(w, "\n"); err != nil {
		return err
	}
	return nil
}

// startEcho: the cookbook's handler (its headers, MarshalTo, w.Flush), with
// our events instead of its ticker's, resuming after Last-Event-ID.
func startEcho(t *testing.T) string {
	e := echov4.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/sse", func(c echov4.Context) error {
		w := c.Response()
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Connection", "keep-alive")
		for _, ev := range eventsAfter(c.Request().Header.Get("Last-Event-ID")) {
			if !pace(c.Request().Context()) {
				return nil
			}
			event := echoEvent{ID: []byte(ev.id), Event: []byte(ev.event), Data: []byte(ev.data)}
			if err := event.MarshalTo(w); err != nil {
				return err
			}
			w.Flush()
		}
		return nil
	})
	return servePeer(t, e, "/sse")
}

// startFiber: Fiber's recipe (gofiber/recipes "sse": its headers,
// SetBodyStreamWriter, fmt.Fprintf(w, "data: ...\n\n"), w.Flush()), with an
// id line and, for named events, an event line before the data.
func startFiber(t *testing.T) string {
	app := fiberv2.New(fiberv2.Config{DisableStartupMessage: true})
	app.Get("/sse", func(c *fiberv2.Ctx) error {
		c.Set("Content-Type", "text/event-stream")
		c.Set("Cache-Control", "no-cache")
		c.Set("Connection", "keep-alive")
		c.Set("Transfer-Encoding", "chunked")
		evs := eventsAfter(c.Get("Last-Event-ID"))
		c.Context().SetBodyStreamWriter(fasthttp.StreamWriter(func(w *bufio.Writer) {
			for _, e := range evs {
				time.Sleep(peerPace)
				fmt.Fprintf(w, "id: %s\n", e.id)
				if e.event != "" {
					fmt.Fprintf(w, "event: %s\n", e.event)
				}
				fmt.Fprintf(w, "data: %s\n\n", e.data)
				if err := w.Flush(); err != nil {
					return
				}
			}
		}))
		return nil
	})
	// The worker pool's cleaner sleeps this long between rounds, even after
	// a shutdown (10s by default): short, so goleak finds it gone.
	app.Server().MaxIdleWorkerDuration = 50 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		app.ShutdownWithContext(ctx)
		<-served
	})
	return "http://" + ln.Addr().String() + "/sse"
}

// portRE matches the line a Node peer prints once it listens.
var portRE = regexp.MustCompile(`^PORT (\d+)$`)

// startNode runs node/peer-<name>.mjs and returns its /sse URL; the test's
// cleanup kills it.
func startNode(name string) func(t *testing.T) string {
	return func(t *testing.T) string {
		node, err := nodeBinary()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(node, "peer-"+name+".mjs")
		cmd.Dir = nodeDir
		cmd.Env = append(cmd.Environ(), "NODE_NO_WARNINGS=1")
		stderr := new(logBuffer)
		cmd.Stderr = stderr
		cmd.WaitDelay = 5 * time.Second
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
		port := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if m := portRE.FindStringSubmatch(strings.TrimSpace(sc.Text())); m != nil {
					port <- m[1]
				}
			}
			close(port)
		}()
		timer := time.NewTimer(30 * time.Second)
		defer timer.Stop()
		select {
		case p, ok := <-port:
			if !ok {
				t.Fatalf("node peer-%s.mjs exited before it listened; stderr: %s", name, stderr)
			}
			return "http://127.0.0.1:" + p + "/sse"
		case <-timer.C:
			t.Fatalf("node peer-%s.mjs did not print its port within 30s; stderr: %s", name, stderr)
		}
		return ""
	}
}

// rawStream is what one request to a peer returned, byte for byte.
type rawStream struct {
	header http.Header
	body   []byte
}

// fetchRaw sends one GET (with Last-Event-ID when lastID is not empty) and
// reads the body until it ends, or for at most d.
func fetchRaw(t *testing.T, url, lastID string, d time.Duration) rawStream {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body) // ends with the response, or the deadline
	return rawStream{resp.Header, body}
}
