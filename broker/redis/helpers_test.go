package redisbroker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssekit/ssekit/internal/brokertest"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// redisAddr is the Redis server the tests use.
func redisAddr() string {
	if a := os.Getenv("SSEKIT_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// newClient connects to the test Redis through addr (the server itself when
// empty), failing the test with instructions when it is unreachable. The
// client is closed when the test ends.
func newClient(t testing.TB, addr string) *goredis.Client {
	t.Helper()
	if addr == "" {
		addr = redisAddr()
	}
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		t.Fatalf("Redis is not reachable at %s: %v\n"+
			"The Redis tests need a real server on loopback. Start one with\n"+
			"  redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes\n"+
			"or point SSEKIT_REDIS_ADDR at one (host:port).", redisAddr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testPrefix returns a key prefix unique to this test run; its keys are
// deleted when the test ends (after the brokers made later shut down).
func testPrefix(t testing.TB) string {
	t.Helper()
	var r [6]byte
	_, _ = rand.Read(r[:])
	p := "ssekit-test:" + strings.ReplaceAll(t.Name(), "/", ":") + ":" + hex.EncodeToString(r[:])
	c := newClient(t, "")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		keys, err := c.Keys(ctx, "{"+p+"}:*").Result()
		if err == nil && len(keys) > 0 {
			err = c.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("deleting the test keys: %v", err)
		}
	})
	return p
}

// newBroker returns a broker on the Redis backend through c, shut down when
// the test ends.
func newBroker(t testing.TB, c goredis.UniversalClient, o broker.Options, ro Options) *broker.Broker {
	t.Helper()
	o.Backend = New(c, ro)
	b := broker.New(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return b
}

func subscribe(t testing.TB, b *broker.Broker, topics []string, last string) *broker.Subscription {
	t.Helper()
	s, err := b.Subscribe(context.Background(), topics, last)
	if err != nil {
		t.Fatalf("Subscribe(%q, %q): %v", topics, last, err)
	}
	t.Cleanup(func() { s.Stop(nil) })
	return s
}

func publish(t testing.TB, b *broker.Broker, topic string, m core.Message) string {
	t.Helper()
	id, err := b.Publish(context.Background(), topic, m)
	if err != nil {
		t.Fatalf("Publish(%q): %v", topic, err)
	}
	return id
}

// collect drains s until it holds n events (or its stream ends), failing
// after a deadline; it returns the events and whether the end was reported.
func collect(t testing.TB, s *broker.Subscription, n int) ([]client.Event, bool) {
	t.Helper()
	return collectUntil(t, s, func(ev []client.Event) bool { return len(ev) >= n })
}

// collectUntil drains s until done holds for all the events taken so far
// (or the stream ends), failing after a deadline.
func collectUntil(t testing.TB, s *broker.Subscription, done func([]client.Event) bool) ([]client.Event, bool) {
	t.Helper()
	var buf []byte
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for {
		var end bool
		buf, end = s.Drain(buf)
		ev := client.ParseAll(buf)
		if end || done(ev) {
			return ev, end
		}
		select {
		case <-s.Ready():
		case <-deadline.C:
			t.Fatalf("got %d events, the last %+v; want more", len(ev), ev[max(len(ev)-1, 0):])
		}
	}
}

// idsOf lists the events' ids ("reset" for the signal), marking repeats.
func idsOf(events []client.Event) []string { return brokertest.IDs(events, broker.ResetEvent) }

func increasing(t testing.TB, ids []string) {
	t.Helper()
	for i := 1; i < len(ids); i++ {
		a, err1 := broker.ParseID(ids[i-1])
		b, err2 := broker.ParseID(ids[i])
		if err1 != nil || err2 != nil || a.Compare(b) >= 0 {
			t.Fatalf("ids not strictly increasing at %d: %s then %s", i, ids[i-1], ids[i])
		}
	}
}

func newRecorder() *brokertest.Recorder { return brokertest.NewRecorder() }

func newStalled() *brokertest.Stalled { return brokertest.NewStalled() }

var (
	run   = brokertest.Run
	datas = brokertest.Datas
	equal = brokertest.Equal
)

func wait[T any](t testing.TB, c <-chan T, what string) T {
	t.Helper()
	return brokertest.Wait(t, c, what)
}

// proxy forwards loopback TCP connections to a Redis server, as a network
// would. It can cut them all, refuse new ones until it is up again (down),
// and swallow what Redis answers (hold). A new connection waits (up to 10 s)
// for Redis to listen, so that a client reconnecting while Redis restarts
// reaches the restarted one.
type proxy struct {
	ln     net.Listener
	target string
	hold   atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
	isDown bool
	closed bool
	wg     sync.WaitGroup
}

// newProxy returns a proxy to the shared test Redis.
func newProxy(t testing.TB) *proxy { return newProxyTo(t, redisAddr()) }

// newProxyTo returns a proxy to the Redis server at target.
func newProxyTo(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.isDown || p.closed
		if !refuse {
			p.conns = append(p.conns, c)
			p.wg.Add(1)
		}
		p.mu.Unlock()
		if refuse {
			c.Close()
			continue
		}
		go p.forward(c)
	}
}

// forward copies between client c and a new connection to the target.
func (p *proxy) forward(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	var s net.Conn
	for i := 0; i < 500 && s == nil; i++ { // 10 s
		var err error
		if s, err = net.Dial("tcp", p.target); err != nil {
			s = nil
			time.Sleep(20 * time.Millisecond)
		}
	}
	if s == nil {
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		s.Close()
		return
	}
	p.conns = append(p.conns, s)
	p.mu.Unlock()
	defer s.Close()
	p.wg.Add(1)
	go func() { defer p.wg.Done(); _, _ = io.Copy(s, c); s.Close() }()
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
}

// cut closes every connection made so far.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// down cuts every connection and refuses new ones until up: whatever go-redis
// does next (a blocking XREAD sent again on a fresh connection), it fails.
func (p *proxy) down() {
	p.mu.Lock()
	p.isDown = true
	p.mu.Unlock()
	p.cut()
}

// up accepts connections again after down.
func (p *proxy) up() {
	p.mu.Lock()
	p.isDown = false
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}
