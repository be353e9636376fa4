// Package subjects starts the servers the benchmarks measure: each ssekit
// adapter, and the hand-written baselines it is compared with, on a loopback
// listener, all serving the same three routes:
//
//	/burst?n=N  N events as fast as the server can write them, then the end
//	/lone       events sent one at a time by the benchmark through a [Sender]
//	/idle       headers, then nothing until the client leaves
//	/idle-sub   the same, from a broker subscription (adapters only)
package subjects

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/core"
)

// Payload is the data of every burst event.
const Payload = "0123456789abcdefghijklmnopqrstuv"

// EventName is the event type of every event.
const EventName = "tick"

// burstMessage is the burst event for the adapters.
var burstMessage = core.Message{Event: EventName, Data: Payload}

// Subject is one server implementation under test.
type Subject struct {
	// ID names the subject in benchmark names and command lines.
	ID string
	// Name describes the subject in reports.
	Name string
	// Framework is the HTTP stack it runs on; an adapter's idle cost is
	// compared with the baseline of the same framework.
	Framework string
	// Adapter is true for ssekit adapters, false for baselines.
	Adapter bool
	// start serves the routes on ln until the server is closed.
	start func(ln net.Listener, s *Server, opts []core.Option) (stop func() error)
}

// All lists every subject, adapters first.
var All = []Subject{
	{ID: "nethttp", Name: "ssekit nethttp", Framework: "net/http", Adapter: true, start: startNetHTTPAdapter},
	{ID: "gin", Name: "ssekit gin", Framework: "gin", Adapter: true, start: startGinAdapter},
	{ID: "echo", Name: "ssekit echo", Framework: "echo", Adapter: true, start: startEchoAdapter},
	{ID: "fiber", Name: "ssekit fiber", Framework: "fiber", Adapter: true, start: startFiberAdapter},
	{ID: "nbio", Name: "ssekit nbio (event loop)", Framework: "nbio", Adapter: true, start: startNbioAdapter},
	{ID: "base-nethttp", Name: "net/http handler (Fprintf+Flush)", Framework: "net/http", start: startNetHTTPBaseline},
	{ID: "base-direct", Name: "net/http, written by the producer (no hand-off)", Framework: "net/http", start: startDirectBaseline},
	{ID: "base-gin", Name: "gin c.Render(sse.Event)+Flush", Framework: "gin", start: startGinBaseline},
	{ID: "base-echo", Name: "echo handler (Fprintf+Flush)", Framework: "echo", start: startEchoBaseline},
	{ID: "base-gosse", Name: "go-sse Session.Send+Flush", Framework: "net/http", start: startGoSSEBaseline},
	{ID: "base-fasthttp", Name: "fasthttp SetBodyStreamWriter (fiber)", Framework: "fiber", start: startFiberBaseline},
}

// Adapters returns the ssekit adapters.
func Adapters() []Subject {
	var out []Subject
	for _, s := range All {
		if s.Adapter {
			out = append(out, s)
		}
	}
	return out
}

// Lookup returns the subject with the given ID.
func Lookup(id string) (Subject, bool) {
	for _, s := range All {
		if s.ID == id {
			return s, true
		}
	}
	return Subject{}, false
}

// IdleBaseline returns the baseline an adapter's idle cost is compared with:
// the hand-written idle stream of the same framework.
func IdleBaseline(adapter Subject) Subject {
	name := map[string]string{
		"net/http": "base-nethttp",
		"gin":      "base-gin",
		"echo":     "base-echo",
		"fiber":    "base-fasthttp",
		// No hand-written nbhttp stream: a handler that keeps its stream
		// holds one of nbhttp's pool goroutines, which is net/http's cost
		// again. The event-loop adapter is held to the net/http adapter.
		"nbio": "nethttp",
	}[adapter.Framework]
	s, _ := Lookup(name)
	return s
}

// Server is a running subject.
type Server struct {
	// Addr is the listening address, 127.0.0.1:port.
	Addr string

	lone chan Sender
	quit chan struct{} // closed when the server stops: baselines end their streams
	opts []core.Option
	stop func() error
	once sync.Once
	err  error

	brokerOnce sync.Once
	b          *broker.Broker

	// Open counts streams whose handler is running (or, for adapters, whose
	// target has not stopped yet).
	mu   sync.Mutex
	open int
}

// Start serves subject s on a new 127.0.0.1 listener. opts configure the
// adapters' stream loop (baselines ignore them).
func (s Subject) Start(opts ...core.Option) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &Server{
		Addr: ln.Addr().String(),
		lone: make(chan Sender, 64),
		quit: make(chan struct{}),
		opts: opts,
	}
	srv.stop = s.start(ln, srv, opts)
	return srv, nil
}

// Close stops the server, ending every stream.
func (s *Server) Close() error {
	s.once.Do(func() {
		close(s.quit)
		s.err = s.stop()
	})
	return s.err
}

// Open returns how many streams are open on the server.
func (s *Server) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}

func (s *Server) enter() {
	s.mu.Lock()
	s.open++
	s.mu.Unlock()
}

func (s *Server) leave() {
	s.mu.Lock()
	s.open--
	s.mu.Unlock()
}

// broker returns the server's broker (memory backend), made on first use:
// the /idle-sub route subscribes to its topic "idle".
func (s *Server) broker() *broker.Broker {
	s.brokerOnce.Do(func() { s.b = broker.New(broker.Options{}) })
	return s.b
}

// NextLone waits for the next /lone stream to start and returns its sender.
func (s *Server) NextLone(timeout time.Duration) (Sender, error) {
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	select {
	case snd := <-s.lone:
		return snd, nil
	case <-tm.C:
		return nil, errors.New("subjects: no /lone stream started in time")
	}
}

// Sender sends lone events on one /lone stream.
type Sender interface {
	// Send sends one event whose data is ts, in decimal.
	Send(ts int64) error
	// Close ends the stream.
	Close()
}

// burstCount reads n from /burst?n=.
func burstCount(q string) int {
	n, err := strconv.Atoi(q)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// ---- adapters ----

// targetSender sends lone events through a core.Target.
type targetSender struct {
	t   *core.Target
	buf [24]byte
}

func (s *targetSender) Send(ts int64) error {
	return s.t.Dispatch(core.Message{Event: EventName, Data: strconv.AppendInt(s.buf[:0], ts, 10)})
}

func (s *targetSender) Close() { s.t.Close() }

// adapterRoute is the handler logic every adapter shares: it returns the
// target for a path.
func (s *Server) adapterRoute(path, n string) (core.EventTarget, error) {
	switch path {
	case "/burst":
		t := s.counted(core.NewTarget())
		count := burstCount(n)
		go func() {
			for range count {
				if t.Dispatch(burstMessage) != nil {
					return
				}
			}
			t.Close()
		}()
		return t, nil
	case "/lone":
		t := s.counted(core.NewTarget())
		s.lone <- &targetSender{t: t}
		return t, nil
	case "/idle":
		return s.counted(core.NewTarget()), nil
	case "/idle-sub":
		sub, err := s.broker().Subscribe(context.Background(), []string{"idle"}, "")
		if err != nil {
			return nil, err
		}
		s.enter()
		return sub, nil
	}
	return nil, core.Error(http.StatusNotFound, "no such route")
}

// counted counts the stream as open; the stream loop's OnEnd (see
// adapterOptions) counts it closed. No goroutine is added per stream.
func (s *Server) counted(t *core.Target) *core.Target {
	s.enter()
	return t
}

// adapterOptions are the options every adapter is served with: the caller's,
// plus the OnEnd that keeps Open right.
func (s *Server) adapterOptions() []core.Option {
	return append(append([]core.Option(nil), s.opts...), core.WithOnEnd(func(error) { s.leave() }))
}

// ---- baselines: hand-written streams ----

// chanSender sends lone events to a hand-written handler's loop.
type chanSender struct {
	ch   chan int64
	done chan struct{} // closed when the handler returns
	once sync.Once
	end  chan struct{}
}

func newChanSender() *chanSender {
	return &chanSender{ch: make(chan int64), done: make(chan struct{}), end: make(chan struct{})}
}

func (s *chanSender) Send(ts int64) error {
	select {
	case s.ch <- ts:
		return nil
	case <-s.done:
		return core.ErrClosed
	}
}

func (s *chanSender) Close() { s.once.Do(func() { close(s.end) }) }

// loop runs a hand-written lone stream: write(ts) per event until the sender
// is closed, the client leaves (gone) or the server stops.
func (s *chanSender) loop(gone <-chan struct{}, quit <-chan struct{}, write func(ts int64) error) {
	defer close(s.done)
	for {
		select {
		case ts := <-s.ch:
			if write(ts) != nil {
				return
			}
		case <-s.end:
			return
		case <-gone:
			return
		case <-quit:
			return
		}
	}
}

// directSender writes each lone event on the goroutine that calls Send (the
// producer's), with no hand-off to the handler's goroutine: the floor of
// lone-event latency. The handler only waits for the end.
type directSender struct {
	mu    sync.Mutex
	write func(ts int64) error // nil once the handler returns
	end   chan struct{}
	once  sync.Once
}

func (s *directSender) Send(ts int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.write == nil {
		return core.ErrClosed
	}
	return s.write(ts)
}

func (s *directSender) Close() { s.once.Do(func() { close(s.end) }) }

// wait returns when the sender is closed, the client leaves (gone) or the
// server stops, after which Send writes nothing.
func (s *directSender) wait(gone, quit <-chan struct{}) {
	select {
	case <-s.end:
	case <-gone:
	case <-quit:
	}
	s.mu.Lock()
	s.write = nil
	s.mu.Unlock()
}

// baselineHTTP is the hand-written net/http stream, shared by the net/http,
// gin and echo baselines (each passes its own writer and flush).
func (s *Server) baselineHTTP(ctx context.Context, path, n string, w http.ResponseWriter, flush func() error,
	write func(ts int64) error, writeBurst func() error) {
	s.enter()
	defer s.leave()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if flush() != nil {
		return
	}
	switch path {
	case "/burst":
		for range burstCount(n) {
			if writeBurst() != nil || flush() != nil {
				return
			}
		}
	case "/lone":
		snd := newChanSender()
		s.lone <- snd
		snd.loop(ctx.Done(), s.quit, func(ts int64) error {
			if err := write(ts); err != nil {
				return err
			}
			return flush()
		})
	case "/idle":
		select {
		case <-ctx.Done():
		case <-s.quit:
		}
	}
}

// writeTick is the hand-written encoding of a lone event.
func writeTick(w interface{ Write([]byte) (int, error) }, ts int64) error {
	_, err := fmt.Fprintf(w, "event: %s\ndata: %d\n\n", EventName, ts)
	return err
}

// writeBurstEvent is the hand-written encoding of a burst event.
func writeBurstEvent(w interface{ Write([]byte) (int, error) }) error {
	_, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", EventName, Payload)
	return err
}

// serveHTTP serves h with net/http on ln; stop closes every connection.
func serveHTTP(ln net.Listener, h http.Handler) func() error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return func() error {
		err := srv.Close()
		<-done
		return err
	}
}
