package benchmarks

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/ssekit/benchmarks/internal/subjects"
	"github.com/ssekit/ssekit/benchmarks/internal/wire"
	"github.com/ssekit/ssekit/core"
)

// epoch is the shared clock of the latency benchmark: the producer stamps
// each event with the monotonic time since epoch, the client subtracts.
var epoch = time.Now()

func since() int64 { return int64(time.Since(epoch)) }

// burst reads one /burst stream of n events and returns the wall time from
// the request to the n-th event terminator, and the number counted.
func burst(srv *subjects.Server, n int, timeout time.Duration) (time.Duration, int, error) {
	deadline := time.Now().Add(timeout)
	start := time.Now()
	c, err := wire.Dial(srv.Addr, "/burst?n="+strconv.Itoa(n), deadline)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	if c.Status != 200 {
		return 0, 0, fmt.Errorf("status %d", c.Status)
	}
	_ = c.SetDeadline(deadline)
	got, err := c.Count(n)
	return time.Since(start), got, err
}

// BenchmarkBurst measures events per second on one stream fed as fast as the
// server goes; b.N is the number of events (use -benchtime=200000x).
func BenchmarkBurst(b *testing.B) {
	for _, s := range subjects.All {
		b.Run(s.ID, func(b *testing.B) {
			srv, err := s.Start()
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			b.ResetTimer()
			d, got, err := burst(srv, b.N, 2*time.Minute)
			b.StopTimer()
			if err != nil || got != b.N {
				b.Fatalf("counted %d of %d events: %v", got, b.N, err)
			}
			b.ReportMetric(float64(b.N)/d.Seconds(), "events/s")
		})
	}
}

// lone sends n events gap apart on one /lone stream and returns each event's
// delivery latency, measured by the client.
func lone(srv *subjects.Server, n int, gap, timeout time.Duration) ([]time.Duration, error) {
	lat, err := loneAll([]*subjects.Server{srv}, n, gap, timeout)
	if err != nil {
		return nil, err
	}
	return lat[0], nil
}

// loneStream is one /lone stream under measurement: a client reading it on
// its own goroutine, and the sender that feeds it.
type loneStream struct {
	c    *wire.Conn
	snd  subjects.Sender
	lat  []time.Duration // written by the reader until read delivers
	read chan error
}

// openLone opens a /lone stream on srv and starts reading n events from it.
func openLone(srv *subjects.Server, n int, deadline time.Time) (*loneStream, error) {
	c, err := wire.Dial(srv.Addr, "/lone", deadline)
	if err != nil {
		return nil, err
	}
	snd, err := srv.NextLone(time.Until(deadline))
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(deadline)
	l := &loneStream{c: c, snd: snd, lat: make([]time.Duration, 0, n), read: make(chan error, 1)}
	go func() {
		evs := wire.Events{On: func(ev []byte) error {
			now := since()
			v, ok := wire.Field(ev, "data")
			if !ok {
				return nil // a comment
			}
			ts, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return fmt.Errorf("bad data %q", v)
			}
			l.lat = append(l.lat, time.Duration(now-ts))
			if len(l.lat) == n {
				return wire.ErrStop
			}
			return nil
		}}
		l.read <- c.Body(evs.Feed)
	}()
	return l, nil
}

// loneAll measures lone events on one stream per server at once: n events
// per stream, each stream's events gap apart, the streams taking turns so
// that every server meets the same load, GC pauses and noise from the rest
// of the machine. Each round takes them in a new random order (the same
// sequence in every run): with a fixed order every stream would follow the
// same one, and the work that one leaves behind (a slow baseline's write
// still under way gap/k later) would count against its successor only. It
// returns each stream's latencies.
func loneAll(srvs []*subjects.Server, n int, gap, timeout time.Duration) ([][]time.Duration, error) {
	deadline := time.Now().Add(timeout)
	streams := make([]*loneStream, 0, len(srvs))
	defer func() {
		for _, l := range streams {
			l.c.Close()
		}
	}()
	for _, srv := range srvs {
		l, err := openLone(srv, n, deadline)
		if err != nil {
			return nil, err
		}
		streams = append(streams, l)
	}
	k := len(streams)
	tick := time.NewTicker(gap / time.Duration(k))
	defer tick.Stop()
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]int, k)
	for i := 0; i < n*k; i++ {
		if i > 0 {
			<-tick.C
		}
		if i%k == 0 {
			for j := range order {
				order[j] = j
			}
			rng.Shuffle(k, func(a, b int) { order[a], order[b] = order[b], order[a] })
		}
		j := order[i%k]
		if err := streams[j].snd.Send(since()); err != nil {
			return nil, fmt.Errorf("stream %d: sending event %d: %v", j, i/k, err)
		}
	}
	out := make([][]time.Duration, k)
	for j, l := range streams {
		err := <-l.read
		l.snd.Close()
		if err == nil && len(l.lat) != n {
			err = fmt.Errorf("received %d of %d events", len(l.lat), n)
		}
		if err != nil {
			return nil, fmt.Errorf("stream %d: %v", j, err)
		}
		out[j] = l.lat
	}
	return out, nil
}

// percentile returns the p-th percentile (0 < p <= 1) of sorted d.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(float64(len(d))*p+0.5) - 1
	return d[max(0, min(i, len(d)-1))]
}

// LoneGap is the time between two lone events of a stream.
const LoneGap = 2 * time.Millisecond

// BenchmarkLatency measures the delivery latency of lone events, LoneGap
// apart on each stream, on every subject at once (see loneAll): the figures
// of one run are paired, so their ratios hold on a busy machine. b.N is the
// number of events per stream (use -benchtime=500x), taken from -benchtime
// for the shared run; ns/op means nothing; read p50-ns, p99-ns and p99.9-ns.
// Compare the adapters with base-direct, the floor (the producer writes each
// event itself), and with base-nethttp (the producer hands each event to the
// handler's goroutine through a channel, as most handlers do).
func BenchmarkLatency(b *testing.B) {
	n := 500
	if f := flag.Lookup("test.benchtime"); f != nil {
		if v, ok := strings.CutSuffix(f.Value.String(), "x"); ok {
			if i, err := strconv.Atoi(v); err == nil && i > 0 {
				n = i
			}
		}
	}
	all := latencySubjects(b)
	srvs := make([]*subjects.Server, len(all))
	for i, s := range all {
		srv, err := s.Start()
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Close()
		srvs[i] = srv
	}
	lat, err := loneAll(srvs, n, LoneGap, time.Minute+time.Duration(n)*LoneGap*2)
	if err != nil {
		b.Fatal(err)
	}
	for i, s := range all {
		slices.Sort(lat[i])
		b.Run(s.ID, func(b *testing.B) {
			b.ReportMetric(float64(percentile(lat[i], 0.5)), "p50-ns")
			b.ReportMetric(float64(percentile(lat[i], 0.99)), "p99-ns")
			b.ReportMetric(float64(percentile(lat[i], 0.999)), "p99.9-ns")
		})
	}
}

// latencySubjects returns the subjects BenchmarkLatency measures: every one,
// or those listed, in that order, in SSEKIT_LATENCY_SUBJECTS (IDs separated
// by commas), to look at a few of them without the others' load.
func latencySubjects(b *testing.B) []subjects.Subject {
	list := os.Getenv("SSEKIT_LATENCY_SUBJECTS")
	if list == "" {
		return subjects.All
	}
	var out []subjects.Subject
	for _, id := range strings.Split(list, ",") {
		s, ok := subjects.Lookup(strings.TrimSpace(id))
		if !ok {
			b.Fatalf("SSEKIT_LATENCY_SUBJECTS: no subject %q", id)
		}
		out = append(out, s)
	}
	return out
}

// TestStreams runs the burst and lone workloads briefly on every subject and
// checks that every event sent is counted, and that a burst stream ends
// cleanly after its events.
func TestStreams(t *testing.T) {
	for _, s := range subjects.All {
		t.Run(s.ID, func(t *testing.T) {
			srv, err := s.Start(core.WithHeartbeat(50 * time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			// Count to the end of the body: exactly n events, then the end.
			const n = 100
			c, err := wire.Dial(srv.Addr, "/burst?n="+strconv.Itoa(n), time.Now().Add(10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			got, err := c.Count(1 << 30)
			c.Close()
			if err != nil || got != n {
				t.Fatalf("burst: counted %d of %d events: %v", got, n, err)
			}
			if _, got, err := burst(srv, n, 10*time.Second); err != nil || got != n {
				t.Fatalf("burst: counted %d of %d events: %v", got, n, err)
			}
			lat, err := lone(srv, 10, time.Millisecond, 10*time.Second)
			if err != nil {
				t.Fatalf("lone: %v", err)
			}
			for _, l := range lat {
				if l <= 0 || l > 10*time.Second {
					t.Fatalf("lone: latency %v", l)
				}
			}
			if err := srv.Close(); err != nil && !errors.Is(err, core.ErrShutdown) {
				t.Fatalf("close: %v", err)
			}
		})
	}
}

// TestCounter checks terminator counting across arbitrary splits.
func TestCounter(t *testing.T) {
	stream := []byte("event: a\ndata: 1\n\n:\ndata: 2\n\ndata: x\ndata: y\n\n")
	for cut1 := 0; cut1 <= len(stream); cut1++ {
		for cut2 := cut1; cut2 <= len(stream); cut2++ {
			var c wire.Counter
			c.Feed(stream[:cut1])
			c.Feed(stream[cut1:cut2])
			c.Feed(stream[cut2:])
			if c.N != 3 {
				t.Fatalf("cuts %d,%d: counted %d", cut1, cut2, c.N)
			}
		}
	}
}
