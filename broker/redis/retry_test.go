package redisbroker

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/core"
)

// A Publish whose first copy ran on a Redis that then lost its data (killed
// and restarted empty) must not be appended again by go-redis's retry of the
// same script: subscribers that received the first copy live would get the
// event twice when they resume. The retry is refused (ErrHistoryChanged);
// the subscriber gets the reset signal, then only later events.
func TestRedisRetryAcrossRestartAppendsNothing(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "redis")
	px := newReplyProxy(t, srv.addr())
	// go-redis as a production client would use it: retries on (the
	// script is sent again when the connection breaks before the reply).
	rc := goredis.NewClient(&goredis.Options{Addr: px.addr(), MaxRetries: 3, DialTimeout: 10 * time.Second,
		ReadTimeout: 10 * time.Second, MinRetryBackoff: 50 * time.Millisecond, MaxRetryBackoff: 100 * time.Millisecond})
	t.Cleanup(func() { rc.Close() })
	ro := Options{Prefix: "p", Block: 200 * time.Millisecond}
	pub := newBroker(t, rc, broker.Options{}, ro)
	// Another instance, on its own connections, with a live subscriber.
	watcher := newBroker(t, srv.client(&goredis.Options{MaxRetries: -1, DialTimeout: time.Second}), broker.Options{}, ro)
	live := subscribe(t, watcher, []string{"t"}, "")
	publish(t, pub, "t", core.Message{Data: "warm-up"})
	if ev, _ := collect(t, live, 1); len(ev) != 1 {
		t.Fatalf("the live subscriber got %d events; want the warm-up", len(ev))
	}

	// The next reply never reaches go-redis: Redis appends the event, the
	// live subscriber gets it, and Redis dies before the reply is read.
	px.hold.Store(true)
	type result struct {
		id  string
		err error
	}
	res := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		id, err := pub.Publish(ctx, "t", core.Message{Data: "once"})
		res <- result{id, err}
	}()
	ev, _ := collect(t, live, 1)
	if len(ev) != 1 || ev[0].Data != "once" {
		t.Fatalf("the live subscriber got %+v; want once", ev)
	}
	onceID := ev[0].LastEventID
	srv.kill() // the proxy closes go-redis's connection: go-redis sends the script again
	px.hold.Store(false)
	srv.start() // empty: no persistence
	r := <-res

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	entries, err := srv.client(nil).XRange(ctx, "{p}:t:t", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if b, _ := e.Values["b"].(string); strings.Contains(b, "once") {
			t.Errorf("the restarted Redis holds the event again, as %s (Publish returned %q, %v): a resuming subscriber gets it twice", e.ID, r.id, r.err)
		}
	}
	if r.err == nil {
		t.Fatalf("Publish returned %s, nil; want an error matching ErrHistoryChanged", r.id)
	}
	if !errors.Is(r.err, ErrHistoryChanged) {
		t.Fatalf("Publish returned %v; want an error matching ErrHistoryChanged", r.err)
	}
	t.Logf("Publish: %v", r.err)

	// The subscriber that saw "once" resumes: the reset, then what comes next.
	next := publishAfterLoss(t, pub, "t", core.Message{Data: "after"})
	resumed := subscribe(t, watcher, []string{"t"}, onceID)
	ev, _ = collect(t, resumed, 2)
	equal(t, "the resumed subscriber", idsOf(ev), []string{"reset", next})
}

// publishAfterLoss publishes m on an instance that may not know yet that
// Redis lost events: Redis refuses its first publishes, not appended, each
// time the instance finds its generation stale (at most once per instance
// that finds the loss; 4 in all here). It returns the id of the first one
// appended.
func publishAfterLoss(t testing.TB, b *broker.Broker, topic string, m core.Message) string {
	t.Helper()
	for range 4 {
		id, err := b.Publish(context.Background(), topic, m)
		if err == nil {
			return id
		}
		if !errors.Is(err, ErrHistoryChanged) {
			t.Fatalf("Publish(%q): %v", topic, err)
		}
		t.Logf("Publish(%q) after the loss: %v", topic, err)
	}
	t.Fatalf("Publish(%q): refused 4 times", topic)
	return ""
}

// replyProxy forwards loopback connections to a Redis server. While hold is
// set it swallows what Redis answers, and when Redis goes away it closes the
// client's side, as a network would; a new connection waits (up to 10 s) for
// Redis to listen again.
type replyProxy struct {
	ln     net.Listener
	target string
	hold   atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

func newReplyProxy(t testing.TB, target string) *replyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &replyProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *replyProxy) addr() string { return p.ln.Addr().String() }

func (p *replyProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			var s net.Conn
			for i := 0; i < 500; i++ { // 10 s
				if s, err = net.Dial("tcp", p.target); err == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if s == nil || !p.track(s) {
				return
			}
			defer s.Close()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			buf := make([]byte, 32<<10)
			for {
				n, err := s.Read(buf)
				if n > 0 && !p.hold.Load() {
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// track records c to be closed by close; false once closed.
func (p *replyProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

func (p *replyProxy) close() {
	p.mu.Lock()
	p.closed = true
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}
