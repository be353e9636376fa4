package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	r3sse "github.com/r3labs/sse/v2"
	goredis "github.com/redis/go-redis/v9"
	gosse "github.com/tmaxmax/go-sse"

	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
	"github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/benchmarks/internal/childproc"
	"github.com/ssekit/ssekit/benchmarks/internal/subjects"
	"github.com/ssekit/ssekit/broker"
	redisbroker "github.com/ssekit/ssekit/broker/redis"
	"github.com/ssekit/ssekit/core"
)

// topic is the one topic (stream) every subscriber reads.
const topic = "fanout"

// impl is one way of fanning events out, served over net/http (or, for
// ssekit-nbio, nbhttp).
type impl struct {
	ID   string
	Name string
	Ours bool
	// start builds the subject: its handler, the path clients request, a
	// function publishing one event's data to every subscriber, and one
	// releasing it.
	start func() (*subject, error)
}

// subject is a started impl.
type subject struct {
	handler http.Handler
	path    string
	publish func(data []byte) error
	close   func()
	// serve, when set, serves h on ln instead of net/http, until stop.
	serve func(ln net.Listener, h http.Handler) (stop func() error)
	// streams, when set, counts the streams open: its handlers return
	// before their streams end.
	streams func() int
}

// impls lists every subject, in table order.
var impls = []impl{
	{ID: "ssekit", Name: "ssekit broker (memory) + net/http", Ours: true, start: startMemory},
	{ID: "ssekit-redis", Name: "ssekit broker (Redis) + net/http", Ours: true, start: startRedis},
	{ID: "ssekit-nbio", Name: "ssekit broker (memory) + nbio (event loop)", Ours: true, start: startNbio},
	{ID: "gosse", Name: "go-sse v0.12.0 Server (Joe)", start: startGoSSE},
	{ID: "r3labs", Name: "r3labs/sse/v2 v2.10.0 Server", start: startR3labs},
	{ID: "hand", Name: "hand-written broadcast (goroutine + chan per subscriber)", start: startHand},
}

func lookupImpl(id string) (impl, bool) {
	for _, im := range impls {
		if im.ID == id {
			return im, true
		}
	}
	return impl{}, false
}

// redisAddr is where the Redis subject connects.
func redisAddr() string {
	if a := os.Getenv("SSEKIT_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// ssekit serves b's topic through the net/http adapter.
func ssekit(b *broker.Broker, cleanup func()) *subject {
	h := nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return b.Subscribe(r.Context(), []string{topic}, nethttpsse.LastEventID(r))
	})
	return &subject{
		handler: h,
		path:    "/events",
		publish: func(data []byte) error {
			_, err := b.Publish(context.Background(), topic, core.Message{Data: string(data)})
			return err
		},
		close: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = b.Shutdown(ctx)
			if cleanup != nil {
				cleanup()
			}
		},
	}
}

func startMemory() (*subject, error) {
	return ssekit(broker.New(broker.Options{}), nil), nil
}

// startNbio serves the in-memory broker through the nbio adapter on an
// nbhttp engine: no goroutine per subscriber.
func startNbio() (*subject, error) {
	b := broker.New(broker.Options{})
	var open atomic.Int64
	h := nbiosse.Handle(func(r *http.Request) (core.EventTarget, error) {
		open.Add(1) // OnEnd hears of every request once
		return b.Subscribe(context.Background(), []string{topic}, nbiosse.LastEventID(r))
	}, core.WithOnEnd(func(error) { open.Add(-1) }))
	s := ssekit(b, nil)
	s.handler = h
	s.serve = subjects.ServeNbio
	s.streams = func() int { return int(open.Load()) }
	return s, nil
}

func startRedis() (*subject, error) {
	rdb := goredis.NewClient(&goredis.Options{Addr: redisAddr()})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis at %s (set SSEKIT_REDIS_ADDR): %w", redisAddr(), err)
	}
	// A prefix of this process's own, deleted at the end.
	prefix := "ssekit-fanout-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	b := broker.New(broker.Options{Backend: redisbroker.New(rdb, redisbroker.Options{Prefix: prefix})})
	return ssekit(b, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var keys []string
		it := rdb.Scan(ctx, 0, "{"+prefix+"}:*", 100).Iterator()
		for i := 0; i < 10000 && it.Next(ctx); i++ {
			keys = append(keys, it.Val())
		}
		if len(keys) > 0 {
			_ = rdb.Del(ctx, keys...).Err()
		}
		_ = rdb.Close()
	}), nil
}

func startGoSSE() (*subject, error) {
	s := &gosse.Server{} // the default provider: Joe, without replay
	return &subject{
		handler: s,
		path:    "/events",
		publish: func(data []byte) error {
			m := &gosse.Message{}
			m.AppendData(string(data))
			return s.Publish(m)
		},
		close: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.Shutdown(ctx)
		},
	}, nil
}

func startR3labs() (*subject, error) {
	s := r3sse.New()
	s.AutoReplay = false // live events only, as the others
	s.CreateStream(topic)
	return &subject{
		handler: s,
		path:    "/events?stream=" + topic,
		publish: func(data []byte) error {
			s.Publish(topic, &r3sse.Event{Data: bytes.Clone(data)}) // it keeps the slice
			return nil
		},
		close: s.Close,
	}, nil
}

// hand is the hand-written broadcast: each subscriber's handler goroutine
// reads its own buffered channel and writes and flushes each event; the
// publisher encodes an event once and sends it to every channel, waiting
// for room (it never drops) unless the subscriber has gone.
type hand struct {
	mu   sync.RWMutex
	subs map[*handSub]struct{}
}

type handSub struct {
	ch   chan []byte
	gone chan struct{}
}

// handQueue is each subscriber's channel capacity.
const handQueue = 16

func (h *hand) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	s := &handSub{ch: make(chan []byte, handQueue), gone: make(chan struct{})}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	defer func() {
		close(s.gone) // first: a publisher waiting on s moves on
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	for {
		select {
		case b := <-s.ch:
			if _, err := w.Write(b); err != nil {
				return
			}
			fl.Flush()
		case <-r.Context().Done():
			return
		}
	}
}

func (h *hand) publish(data []byte) error {
	b := make([]byte, 0, len(data)+8)
	b = append(append(append(b, "data: "...), data...), "\n\n"...)
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.subs {
		select {
		case s.ch <- b:
		case <-s.gone:
		}
	}
	return nil
}

func startHand() (*subject, error) {
	h := &hand{subs: map[*handSub]struct{}{}}
	return &subject{handler: h, path: "/events", publish: h.publish, close: func() {}}, nil
}

// serverRole is the server process: it serves one impl on a loopback port,
// writes {"addr","path"} on out, then answers the parent's requests.
func serverRole(id, profile, memprofile string, in io.Reader, out io.Writer) error {
	childproc.RaiseNoFile()
	if memprofile != "" {
		runtime.MemProfileRate = 1
	}
	hello := func(r reply) error { return childproc.WriteReply(out, r) }
	im, ok := lookupImpl(id)
	if !ok {
		_ = hello(reply{Error: "unknown impl " + id})
		return fmt.Errorf("unknown impl %q", id)
	}
	subj, err := im.start()
	if err != nil {
		_ = hello(reply{Error: err.Error()})
		return err
	}
	var handlers atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Add(-1)
		subj.handler.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		subj.close()
		_ = hello(reply{Error: err.Error()})
		return err
	}
	if subj.serve != nil {
		stop := subj.serve(ln, mux)
		defer func() {
			subj.close()
			_ = stop()
		}()
	} else {
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second, ErrorLog: log.New(os.Stderr, "fanout server: ", 0)}
		served := make(chan struct{})
		go func() {
			defer close(served)
			_ = srv.Serve(ln)
		}()
		defer func() {
			subj.close()
			_ = srv.Close()
			<-served
		}()
	}
	open := func() int { return int(handlers.Load()) }
	if subj.streams != nil {
		open = subj.streams
	}
	if err := hello(reply{Addr: ln.Addr().String(), Path: subj.path}); err != nil {
		return err
	}

	var prof *os.File
	defer func() {
		if prof != nil {
			pprof.StopCPUProfile()
			_ = prof.Close()
		}
	}()
	return childproc.Serve(in, out, 0, func(q request) reply {
		switch q.Op {
		case "stats":
			runtime.GC()
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if memprofile != "" && q.On {
				if err := writeHeapProfile(memprofile); err != nil {
					return reply{Error: err.Error()}
				}
			}
			return reply{Stats: &stats{
				HeapInuse: m.HeapInuse, StackInuse: m.StackInuse, HeapAlloc: m.HeapAlloc,
				Goroutines: runtime.NumGoroutine(), Handlers: open(), CPUNs: childproc.CPUTime(),
			}}
		case "count":
			return reply{Handlers: open(), Stats: &stats{CPUNs: childproc.CPUTime()}}
		case "publish":
			return publish(subj, q)
		case "profile":
			switch {
			case profile == "":
			case q.On && prof == nil:
				f, err := os.Create(profile)
				if err != nil {
					return reply{Error: err.Error()}
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					_ = f.Close()
					return reply{Error: err.Error()}
				}
				prof = f
			case !q.On && prof != nil:
				pprof.StopCPUProfile()
				err := prof.Close()
				prof = nil
				if err != nil {
					return reply{Error: err.Error()}
				}
			}
			return reply{}
		case "quit":
			return reply{}
		}
		return reply{Error: "unknown op " + q.Op}
	})
}

// publish publishes q.Count events, q.IntervalNs apart (as fast as possible
// when zero), each with the data "phase seq stamp": stamp is the wall clock
// in Unix nanoseconds just before the publish call.
func publish(s *subject, q request) reply {
	interval := time.Duration(q.IntervalNs)
	var lag time.Duration
	start := time.Now()
	buf := make([]byte, 0, 64)
	for i := range q.Count {
		if interval > 0 && i > 0 {
			at := start.Add(time.Duration(i) * interval)
			if d := time.Until(at); d > 0 {
				tm := time.NewTimer(d)
				<-tm.C
			} else {
				lag = max(lag, -d)
			}
		}
		buf = strconv.AppendInt(buf[:0], int64(q.Phase), 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, int64(q.Seq+i), 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, time.Now().UnixNano(), 10)
		if err := s.publish(buf); err != nil {
			return reply{Error: fmt.Sprintf("publish %d: %v", q.Seq+i, err)}
		}
	}
	return reply{StartNs: start.UnixNano(), EndNs: time.Now().UnixNano(), LagNs: int64(lag)}
}

// writeHeapProfile writes the live heap's profile to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
