package benchmarks

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/ssekit/ssekit/adapter"
	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/benchmarks/internal/subjects"
	"github.com/ssekit/ssekit/benchmarks/internal/wire"
	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/metrics/otelsse"
	"github.com/ssekit/ssekit/metrics/promsse"
)

// observer is what a metrics module installs: on streams and on the broker.
type observer interface {
	core.Observer
	broker.Observer
}

// metricsModes are the configurations BenchmarkMetrics compares: no
// observer (the hot paths' nil checks only), and each metrics module.
var metricsModes = []struct {
	name string
	make func(b *testing.B) observer // nil: metrics off
}{
	{"off", nil},
	{"prom", func(b *testing.B) observer { return promsse.New(promsse.Options{}) }},
	{"otel", func(b *testing.B) observer {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		m, err := otelsse.New(mp, otelsse.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = m.Close() })
		return m
	}},
}

// BenchmarkMetrics measures what the metrics cost on the hot paths: a burst
// on one stream (b.N events; use -benchtime 1000000x) on the net/http and
// Fiber adapters, and a fan-out of b.N events to 100 subscribers of the
// broker served through net/http (use -benchtime 2000x), each with metrics
// off, with promsse and with otelsse.
func BenchmarkMetrics(b *testing.B) {
	for _, id := range []string{"nethttp", "fiber"} {
		s, _ := subjects.Lookup(id)
		for _, mode := range metricsModes {
			b.Run("burst/"+id+"/"+mode.name, func(b *testing.B) {
				var opts []core.Option
				if mode.make != nil {
					opts = append(opts, core.WithObserver(mode.make(b)))
				}
				srv, err := s.Start(opts...)
				if err != nil {
					b.Fatal(err)
				}
				defer srv.Close()
				b.ResetTimer()
				cpu := cpuTime()
				d, got, err := burst(srv, b.N, 2*time.Minute)
				cpu = cpuTime() - cpu
				b.StopTimer()
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
				if err != nil || got != b.N {
					b.Fatalf("counted %d of %d events: %v", got, b.N, err)
				}
				b.ReportMetric(float64(b.N)/d.Seconds(), "events/s")
			})
		}
	}
	for _, mode := range metricsModes {
		b.Run("fanout100/"+mode.name, func(b *testing.B) {
			var obs observer
			if mode.make != nil {
				obs = mode.make(b)
			}
			fanout(b, 100, obs)
		})
	}
}

// fanout publishes b.N events to n subscribers of a broker, each a stream
// of the net/http adapter read by a raw loopback client, and reports the
// time until every client has every event.
func fanout(b *testing.B, n int, obs observer) {
	bo := broker.Options{QueueEvents: -1} // measuring throughput: no subscriber is dropped
	var opts []core.Option
	if obs != nil {
		bo.Observer = obs
		opts = append(opts, core.WithObserver(obs))
	}
	br := broker.New(bo)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = br.Shutdown(ctx)
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return br.Subscribe(r.Context(), []string{"t"}, "")
	}, opts...)}
	go srv.Serve(ln)
	defer srv.Close()
	deadline := time.Now().Add(2 * time.Minute)
	done := make(chan error, n)
	for i := 0; i < n; i++ {
		c, err := wire.Dial(ln.Addr().String(), "/events", deadline)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(deadline)
		go func() {
			got, err := c.Count(b.N)
			if err == nil && got != b.N {
				err = fmt.Errorf("counted %d of %d events", got, b.N)
			}
			done <- err
		}()
	}
	for i := 0; br.Len() < n; i++ { // every subscription registered, bounded
		if i > 10000 {
			b.Fatalf("%d of %d subscribers after 10 s", br.Len(), n)
		}
		time.Sleep(time.Millisecond)
	}
	data := strings.Repeat("x", 32)
	b.ResetTimer()
	cpu := cpuTime()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := br.Publish(context.Background(), "t", core.Message{Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	d := time.Since(start)
	cpu = cpuTime() - cpu
	b.StopTimer()
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/delivery")
	b.ReportMetric(float64(b.N*n)/d.Seconds(), "deliveries/s")
}

// flushSignal is an adapter writer that keeps nothing and signals every
// flush that carried bytes.
type flushSignal struct {
	n       int
	flushed chan struct{}
}

func (w *flushSignal) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

func (w *flushSignal) Flush() error {
	if w.n > 0 {
		w.n = 0
		w.flushed <- struct{}{}
	}
	return nil
}

// BenchmarkMetricsLoop measures the stream loop's own cost per flush, with
// no network: each op dispatches one event and waits until the loop has
// written and flushed it into a writer that keeps nothing, so an op is one
// full pass of the loop (wake, take, write, flush, observe), the path a
// fan-out takes once per subscriber and event.
func BenchmarkMetricsLoop(b *testing.B) {
	for _, mode := range metricsModes {
		b.Run(mode.name, func(b *testing.B) {
			var opts []core.Option
			if mode.make != nil {
				opts = append(opts, core.WithObserver(mode.make(b)))
			}
			o := core.NewOptions(append(opts, core.WithHeartbeat(-1))...)
			tg := core.NewTarget()
			w := &flushSignal{flushed: make(chan struct{}, 1)}
			done := make(chan error, 1)
			go func() { done <- adapter.Run(context.Background(), w, tg, o) }()
			m := core.Message{Data: strings.Repeat("x", 32)}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				if err := tg.Dispatch(m); err != nil {
					b.Fatal(err)
				}
				<-w.flushed
			}
			cpu = cpuTime() - cpu
			b.StopTimer()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/flush")
			tg.Close()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
