package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// prefix is the backend's key prefix in every process of a run.
const prefix = "ssekit-cluster"

// deployment is one run's processes: Redis, the server instances and the
// client processes.
type deployment struct {
	cfg     config
	base    string
	topo    *topology
	servers []*child // nil once killed
	addrs   []string
	clients []*child
}

// startDeployment starts Redis in mode and cfg.Instances server instances.
func startDeployment(cfg config, mode string) (*deployment, error) {
	base, err := os.MkdirTemp("", "ssekit-cluster-")
	if err != nil {
		return nil, err
	}
	d := &deployment{cfg: cfg, base: base}
	if d.topo, err = startTopology(mode, base, cfg.Log); err != nil {
		os.RemoveAll(base)
		return nil, err
	}
	addrs := strings.Join(d.topo.addrs(), ",")
	for i := range cfg.Instances {
		c, err := spawn("server "+strconv.Itoa(i), "-role", "server", "-adapter", cfg.Adapter, "-redis-mode", mode, "-redis-addrs", addrs, "-prefix", prefix)
		if err != nil {
			d.close()
			return nil, err
		}
		d.servers = append(d.servers, c)
		hello, err := c.Read(30 * time.Second)
		if err != nil {
			d.close()
			return nil, err
		}
		d.addrs = append(d.addrs, hello.Addr)
	}
	cfg.Log("%s: Redis at %s; %d instances at %s", mode, addrs, cfg.Instances, strings.Join(d.addrs, " "))
	return d, nil
}

// close stops every process and removes Redis's directories.
func (d *deployment) close() {
	d.stopClients()
	var wg sync.WaitGroup
	for _, s := range d.servers {
		if s != nil {
			wg.Go(func() { s.Stop(20 * time.Second) })
		}
	}
	wg.Wait()
	d.servers = nil
	if d.topo != nil {
		d.topo.stop()
	}
	os.RemoveAll(d.base)
}

// stopClients stops the client processes.
func (d *deployment) stopClients() {
	var wg sync.WaitGroup
	for _, c := range d.clients {
		wg.Go(func() { c.Stop(20 * time.Second) })
	}
	wg.Wait()
	d.clients = nil
}

// eachClient calls f on every client process at once and returns the
// first error.
func (d *deployment) eachClient(f func(i int, c *child) error) error {
	errs := make([]error, len(d.clients))
	var wg sync.WaitGroup
	for i, c := range d.clients {
		wg.Go(func() { errs[i] = f(i, c) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// startClients starts n subscribers of topics over procs client processes
// and waits until every one has its 200 response.
func (d *deployment) startClients(n, topics, procs int) error {
	procs = min(procs, n)
	for i := range procs {
		c, err := spawn("clients "+strconv.Itoa(i), "-role", "clients")
		if err != nil {
			return err
		}
		d.clients = append(d.clients, c)
	}
	timeout := time.Duration(float64(n)/d.cfg.ConnRate*float64(time.Second)) + 90*time.Second
	return d.eachClient(func(i int, c *child) error {
		first, end := n*i/procs, n*(i+1)/procs
		_, err := c.Call(request{Op: "connect", Addrs: d.addrs, First: first, N: end - first, Topics: topics,
			Rate: d.cfg.ConnRate / float64(procs), Srcs: d.cfg.Srcs, TimeoutMs: timeout.Milliseconds()}, timeout+30*time.Second)
		return err
	})
}

// clientStats sums the client processes' stats up.
func (d *deployment) clientStats() (stats, error) {
	var mu sync.Mutex
	var sum stats
	err := d.eachClient(func(_ int, c *child) error {
		r, err := c.Call(request{Op: "stats"}, 30*time.Second)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		addStats(&sum, r.Stats)
		return nil
	})
	return sum, err
}

func addStats(sum, s *stats) {
	sum.CPUNs += s.CPUNs
	sum.Streams += s.Streams
	sum.Open += s.Open
	sum.Waiting += s.Waiting
	sum.Reconnects += s.Reconnects
	sum.Resets += s.Resets
	sum.Dead += s.Dead
	if s.LastErr != "" {
		sum.LastErr = s.LastErr
	}
	for i, n := range s.Received {
		for len(sum.Received) <= i {
			sum.Received = append(sum.Received, 0)
		}
		sum.Received[i] += n
	}
}

// serverStats sums the live instances' stats up.
func (d *deployment) serverStats() (stats, error) {
	var sum stats
	for _, s := range d.servers {
		if s == nil {
			continue
		}
		r, err := s.Call(request{Op: "stats"}, 30*time.Second)
		if err != nil {
			return sum, err
		}
		sum.CPUNs += r.Stats.CPUNs
		sum.HeapInuse += r.Stats.HeapInuse
		sum.StackInuse += r.Stats.StackInuse
		sum.Handlers += r.Stats.Handlers
		sum.Goroutines += r.Stats.Goroutines
	}
	return sum, nil
}

// drain waits until every subscriber has received its topic's last
// acknowledged event (last, per topic), or timeout; it returns how many
// are still short.
func (d *deployment) drain(last []int, timeout time.Duration) (int, error) {
	var mu sync.Mutex
	waiting := 0
	err := d.eachClient(func(_ int, c *child) error {
		r, err := c.Call(request{Op: "wait", Last: last, TimeoutMs: timeout.Milliseconds()}, timeout+30*time.Second)
		if err != nil {
			return err
		}
		mu.Lock()
		waiting += r.Stats.Waiting
		mu.Unlock()
		return nil
	})
	return waiting, err
}

// verify sends every topic's publishes to the client processes and sums
// their findings up.
func (d *deployment) verify(pub []published) (verifyResult, error) {
	var mu sync.Mutex
	var sum verifyResult
	for i := range sum.Hist {
		sum.Hist[i] = histCounts{}
	}
	err := d.eachClient(func(_ int, c *child) error {
		r, err := c.Call(request{Op: "verify", Published: pub}, 120*time.Second)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		v := r.Verify
		for i := range maxPhases {
			sum.Tally[i].addTally(v.Tally[i])
			sum.Hist[i].merge(v.Hist[i])
		}
		sum.Misrouted += v.Misrouted
		sum.Resets += v.Resets
		sum.Dead += v.Dead
		sum.Reconnects += v.Reconnects
		return nil
	})
	return sum, err
}

// waitOpen polls until every subscriber has an open stream again, up to
// timeout; it returns when that happened.
func (d *deployment) waitOpen(n int, timeout time.Duration) (time.Time, error) {
	end := time.Now().Add(timeout)
	lastLog := time.Now()
	for i := 0; ; i++ {
		st, err := d.clientStats()
		if err != nil {
			return time.Time{}, err
		}
		if st.Open >= n {
			return time.Now(), nil
		}
		if time.Now().After(end) || i > 100000 {
			return time.Time{}, fmt.Errorf("%d of %d streams open after %v (last error: %s)", st.Open, n, timeout, st.LastErr)
		}
		if time.Since(lastLog) > 3*time.Second {
			lastLog = time.Now()
			d.cfg.Log("%d of %d streams open, %d reconnections so far", st.Open, n, st.Reconnects)
		}
		sleep(100 * time.Millisecond)
	}
}
