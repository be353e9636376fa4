package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	nbiosse "github.com/ssekit/ssekit/adapters/nbio"
	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/benchmarks/internal/childproc"
	"github.com/ssekit/ssekit/benchmarks/internal/subjects"
	"github.com/ssekit/ssekit/broker"
	redisbroker "github.com/ssekit/ssekit/broker/redis"
	"github.com/ssekit/ssekit/core"
)

// backendOptions are the Redis backend's options every process uses: on a
// cluster Publish WAITs for the primary's replica (Options.Replicas 1), so
// that an acknowledged event survives the primary's failover.
func backendOptions(mode, prefix string) redisbroker.Options {
	o := redisbroker.Options{Prefix: prefix, Block: 2 * time.Second, MaxLen: 100000, MaxAge: 10 * time.Minute}
	if mode == "cluster" {
		o.Replicas, o.ReplicaTimeout = 1, 2*time.Second
	}
	return o
}

// newBroker returns a broker on the Redis deployment mode at addrs, and a
// function that shuts it down and closes its Redis client.
func newBroker(mode string, addrs []string, prefix string) (*broker.Broker, func()) {
	rdb := newClient(mode, addrs)
	b := broker.New(broker.Options{Backend: redisbroker.New(rdb, backendOptions(mode, prefix))})
	return b, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Shutdown(ctx)
		_ = rdb.Close()
	}
}

// serverRole is one server instance: the broker on Redis served through the
// net/http adapter, or the nbio adapter when adapterName is "nbio", on a
// loopback port (GET /events?topic=t3, resuming from Last-Event-ID); it
// writes {"addr"} on out, then answers the parent.
func serverRole(adapterName, mode, addrs, prefix string, in io.Reader, out io.Writer) error {
	childproc.RaiseNoFile()
	enc := func(r reply) error { return childproc.WriteReply(out, r) }
	b, closeBroker := newBroker(mode, strings.Split(addrs, ","), prefix)
	var handlers atomic.Int64
	var h http.Handler
	switch adapterName {
	case "nethttp":
		h = nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
			return b.Subscribe(r.Context(), []string{r.URL.Query().Get("topic")}, nethttpsse.LastEventID(r))
		})
	case "nbio":
		// nbhttp's request context does not end with the client: the
		// subscription ends with its stream instead.
		h = nbiosse.Handle(func(r *http.Request) (core.EventTarget, error) {
			return b.Subscribe(context.Background(), []string{r.URL.Query().Get("topic")}, nbiosse.LastEventID(r))
		})
	default:
		closeBroker()
		err := fmt.Errorf("unknown adapter %q (nethttp or nbio)", adapterName)
		_ = enc(reply{Error: err.Error()})
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Add(-1)
		h.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = enc(reply{Error: err.Error()})
		return err
	}
	var stop func() error
	if adapterName == "nbio" {
		stop = subjects.ServeNbio(ln, mux)
	} else {
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second, ErrorLog: log.New(os.Stderr, "cluster server: ", 0)}
		served := make(chan struct{})
		go func() {
			defer close(served)
			_ = srv.Serve(ln)
		}()
		stop = func() error {
			err := srv.Close()
			<-served
			return err
		}
	}
	defer func() {
		closeBroker()
		_ = stop()
	}()
	if err := enc(reply{Addr: ln.Addr().String()}); err != nil {
		return err
	}
	return childproc.Serve(in, out, maxRequest, func(q request) reply {
		switch q.Op {
		case "stats":
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return reply{Stats: &stats{CPUNs: childproc.CPUTime(), Goroutines: runtime.NumGoroutine(),
				HeapInuse: int64(m.HeapInuse), StackInuse: int64(m.StackInuse), Handlers: int(handlers.Load())}}
		case "publish":
			s := q.Pub
			if s == nil || len(s.Topics) == 0 || s.Workers < 1 || s.Stride < 1 {
				return reply{Error: "publish: need topics, workers and a stride"}
			}
			p := newPublisher(b, s.NTopics, s.Stride, s.Offset)
			p.phase.Store(int32(s.Phase))
			start := time.Now()
			p.flat(s.Topics, time.Duration(s.Seconds*float64(time.Second)), s.Workers)
			end := time.Now()
			pub, acked, failed := p.snapshot()
			return reply{Pub: &pubResult{Published: pub, Acked: acked, Failed: failed,
				StartNs: start.UnixNano(), EndNs: end.UnixNano(), LastErr: p.lastErr}}
		case "quit":
			return reply{}
		}
		return reply{Error: "unknown op " + q.Op}
	})
}

// pubSpec asks a server instance to publish as fast as it can.
type pubSpec struct {
	Phase   int     `json:"phase"`
	NTopics int     `json:"ntopics"` // topics in all
	Topics  []int   `json:"topics"`  // the topics to publish to, round-robin
	Seconds float64 `json:"seconds"`
	Workers int     `json:"workers"` // concurrent publishers
	Stride  int     `json:"stride"`  // sequence numbers offset + k*stride
	Offset  int     `json:"offset"`
}

// pubResult is what a server instance published.
type pubResult struct {
	Published []published `json:"published"` // per topic
	Acked     int         `json:"acked"`
	Failed    int         `json:"failed"`
	StartNs   int64       `json:"start_ns"`
	EndNs     int64       `json:"end_ns"`
	LastErr   string      `json:"last_err,omitempty"`
}
