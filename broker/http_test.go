package broker

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// stream is one client connection read with the spec parser.
type stream struct {
	resp   *http.Response
	p      *client.Parser
	cancel context.CancelFunc
}

func connect(t *testing.T, url, lastEventID string) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	p := client.NewParser(resp.Body)
	p.SetLastEventID(lastEventID)
	s := &stream{resp, p, cancel}
	t.Cleanup(s.close)
	return s
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
}

func (s *stream) next(t *testing.T, n int) []client.Event {
	t.Helper()
	var out []client.Event
	for range n {
		ev, err := s.p.Next()
		if err != nil {
			t.Fatalf("after %d events: %v", len(out), err)
		}
		out = append(out, ev)
	}
	return out
}

// A subscription served by the net/http adapter end to end: live events, a
// disconnect, a reconnect with Last-Event-ID that loses and repeats nothing,
// the close event, and a refused topic answered 403.
func TestBrokerHTTP(t *testing.T) {
	t.Parallel()
	b := New(Options{Authorize: func(_ context.Context, topic string) error {
		if topic == "secret" {
			return errors.New("no")
		}
		return nil
	}})
	ended := make(chan error, 10)
	srv := httptest.NewServer(nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return b.Subscribe(r.Context(), strings.Split(r.URL.Query().Get("topics"), ","), nethttpsse.LastEventID(r))
	}, core.WithHeartbeat(-1), core.WithOnEnd(func(err error) { ended <- err })))
	defer srv.Close() // after the broker's shutdown below ended every stream
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()
	url := srv.URL + "/events?topics=news,sport"

	s := connect(t, url, "")
	if ct := s.resp.Header.Get("Content-Type"); s.resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("got %d %q; want 200 text/event-stream", s.resp.StatusCode, ct)
	}
	// The response has started, so the subscription is registered: nothing
	// published from now on is missed.
	for i := range 10 {
		topic := []string{"news", "sport"}[i%2]
		publish(t, b, topic, core.Message{Event: topic, Data: strconv.Itoa(i)})
	}
	first := s.next(t, 4)
	s.close()
	if err := wait(t, ended, "the server to see the client leave"); !errors.Is(err, core.ErrClientGone) {
		t.Fatalf("stream ended with %v; want ErrClientGone", err)
	}
	for i := 10; i < 15; i++ {
		publish(t, b, "news", core.Message{Event: "news", Data: strconv.Itoa(i)})
	}

	s = connect(t, url, s.p.LastEventID())
	second := s.next(t, 11) // 4..9 missed while away, then 10..14
	var got []string
	for _, e := range append(first, second...) {
		got = append(got, e.Data)
	}
	equal(t, "events across the reconnect", got, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14"})
	if second[0].Type != "news" || second[1].Type != "sport" {
		t.Fatalf("event types %q, %q; want news, sport", second[0].Type, second[1].Type)
	}

	publish(t, b, "sport", core.Message{Event: CloseEvent, Data: "bye"})
	if ev := s.next(t, 1); ev[0].Type != "close" {
		t.Fatalf("got %+v; want the close event", ev[0])
	}
	if _, err := s.p.Next(); err != io.EOF {
		t.Fatalf("after the close event: %v; want the end of the stream", err)
	}
	if err := wait(t, ended, "the stream to end"); err != nil {
		t.Fatalf("stream ended with %v; want nil", err)
	}

	resp, err := http.Get(srv.URL + "/events?topics=news,secret")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.TrimSpace(string(body)) != "ssekit: forbidden" {
		t.Fatalf("refused topic: got %d %q; want 403 ssekit: forbidden", resp.StatusCode, body)
	}
	if b.Len() != 0 {
		t.Fatalf("Len: %d; want 0", b.Len())
	}
}

// Shutdown ends every stream served over HTTP after writing what was queued.
func TestBrokerHTTPShutdown(t *testing.T) {
	t.Parallel()
	serve := func(b *Broker) *httptest.Server {
		return httptest.NewServer(nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
			return b.Subscribe(r.Context(), []string{"t"}, nethttpsse.LastEventID(r))
		}, core.WithHeartbeat(-1)))
	}
	b := New(Options{})
	srv := serve(b)
	defer srv.Close()
	var clients []*stream
	for range 3 {
		clients = append(clients, connect(t, srv.URL, ""))
	}
	for i := range 5 {
		publish(t, b, "t", core.Message{Data: strconv.Itoa(i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for i, c := range clients {
		ev := c.next(t, 5) // what was queued is written before the end
		if _, err := c.p.Next(); err != io.EOF {
			t.Fatalf("client %d: %v; want the end of the stream", i, err)
		}
		if ev[4].Data != "4" {
			t.Fatalf("client %d: last event %+v", i, ev[4])
		}
	}
}
