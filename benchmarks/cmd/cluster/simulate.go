package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ssekit/ssekit/benchmarks/internal/childproc"
	"github.com/ssekit/ssekit/benchmarks/internal/machine"
)

// measure runs the simulation on every topology of cfg (or the ceiling).
func measure(cfg config) *Output {
	start := time.Now()
	o := &Output{Machine: machine.Read(), LoadStart: loadAvg(), Config: ConfigOut{
		Adapter: cfg.Adapter, Instances: cfg.Instances, Subscribers: cfg.Subscribers, ClientProcs: cfg.ClientProcs, Topics: cfg.Topics,
		Rate: cfg.Rate, SteadyS: cfg.Steady.Seconds(), KillPhaseS: cfg.KillPhase.Seconds(), RedisPhaseS: cfg.RedisPhase.Seconds(),
	}}
	cfg.Log("load average at the start: %s (other work on this machine shares its %d CPUs)", o.LoadStart, o.Machine.NProc)
	if len(cfg.Ceiling) > 0 {
		o.ceilingRun = true
		o.Config.CeilingS, o.Config.CeilingWorkers = cfg.CeilingTime.Seconds(), cfg.CeilingWorkers
		o.Ceiling = runCeiling(cfg)
	} else {
		for _, mode := range cfg.Topologies {
			t0 := time.Now()
			r := runTopology(cfg, mode)
			if r.Error != "" {
				cfg.Log("%s: %s", mode, r.Error)
			}
			cfg.Log("%s: done in %.0fs", mode, time.Since(t0).Seconds())
			o.Runs = append(o.Runs, r)
		}
	}
	o.LoadEnd = loadAvg()
	o.Seconds = time.Since(start).Seconds()
	return o
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

// cpuMark is every process's CPU time at one moment.
type cpuMark struct {
	servers, clients, parent int64
	redis                    redisSample
	received                 []int64
	reconnects               int64
	resets                   int
	acked                    int
}

func (d *deployment) mark(p *publisher) (cpuMark, error) {
	m := cpuMark{parent: childproc.CPUTime(), redis: d.topo.sample()}
	ss, err := d.serverStats()
	if err != nil {
		return m, err
	}
	cs, err := d.clientStats()
	if err != nil {
		return m, err
	}
	m.servers, m.clients, m.received, m.reconnects, m.resets = ss.CPUNs, cs.CPUNs, cs.Received, cs.Reconnects, cs.Resets
	_, m.acked, _ = p.snapshot()
	return m, nil
}

// runTopology runs the three phases on Redis in mode.
func runTopology(cfg config, mode string) (r TopoResult) {
	r.Topology = mode
	d, err := startDeployment(cfg, mode)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer d.close()
	pb, closeBroker := newBroker(mode, d.topo.addrs(), prefix)
	defer closeBroker()
	pub := newPublisher(pb, cfg.Topics, 1, 0)
	fail := func(err error) TopoResult {
		r.Error = err.Error()
		return r
	}

	m0, err := d.serverStats()
	if err != nil {
		return fail(err)
	}
	t0 := time.Now()
	cfg.Log("%s: connecting %d subscribers over %d client processes", mode, cfg.Subscribers, cfg.ClientProcs)
	if err := d.startClients(cfg.Subscribers, cfg.Topics, cfg.ClientProcs); err != nil {
		return fail(err)
	}
	r.ConnectSeconds = time.Since(t0).Seconds()
	m1, err := d.serverStats()
	if err != nil {
		return fail(err)
	}
	r.MemPerSub = float64(m1.HeapInuse+m1.StackInuse-m0.HeapInuse-m0.StackInuse) / float64(cfg.Subscribers)
	cfg.Log("%s: %d subscribers connected in %.1fs (%d served); instances hold %.1f KiB per subscriber",
		mode, cfg.Subscribers, r.ConnectSeconds, m1.Handlers, r.MemPerSub/1024)
	topics := make([]int, cfg.Topics)
	for i := range topics {
		topics[i] = i
	}
	var phases []PhaseResult

	// 1. Steady.
	ph := PhaseResult{Name: "steady"}
	c0, err := d.mark(pub)
	if err != nil {
		return fail(err)
	}
	t0 = time.Now()
	pub.phase.Store(1)
	cfg.Log("%s: steady: %.0f events/s over %d topics for %v", mode, cfg.Rate, cfg.Topics, cfg.Steady)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Steady)
	pub.steady(ctx, topics, cfg.Rate, cfg.Workers)
	cancel()
	if ph.Waiting, err = d.drain(pub.lastAcked(), 60*time.Second); err != nil {
		return fail(err)
	}
	ph.Seconds = time.Since(t0).Seconds()
	c1, err := d.mark(pub)
	if err != nil {
		return fail(err)
	}
	events := float64(c1.acked - c0.acked)
	r.Deliveries = c1.received[1] - c0.received[1]
	if r.Deliveries > 0 && events > 0 {
		r.ServerUSPerDelivery = float64(c1.servers-c0.servers) / 1e3 / float64(r.Deliveries)
		r.ClientUSPerDelivery = float64(c1.clients-c0.clients) / 1e3 / float64(r.Deliveries)
		r.RedisUSPerEvent = float64(c1.redis.cpuNs-c0.redis.cpuNs) / 1e3 / events
		r.PublisherUSPerEvent = float64(c1.parent-c0.parent) / 1e3 / events
		r.RedisCmds = map[string]float64{}
		var all int64
		for k, n := range commandsDelta(c0.redis, c1.redis) {
			r.RedisCmds[k] = float64(n) / events
			all += n
		}
		r.RedisCmdsPerEvent = float64(all) / events
	}
	ph.Reconnects, ph.Resets = c1.reconnects-c0.reconnects, c1.resets-c0.resets
	cfg.Log("%s: steady: %d deliveries; CPU per delivery: instances %.1f µs, clients %.1f µs; Redis %.0f µs and %.1f commands per event",
		mode, r.Deliveries, r.ServerUSPerDelivery, r.ClientUSPerDelivery, r.RedisUSPerEvent, r.RedisCmdsPerEvent)
	phases = append(phases, ph)

	// 2. An instance SIGKILLed.
	if !cfg.NoKill && cfg.Instances > 1 {
		ph, err := d.instanceKill(pub, topics, c1)
		phases = append(phases, ph)
		if err != nil {
			return finish(d, pub, &r, phases, err)
		}
	}

	// 3. The Redis primary SIGKILLed.
	if !cfg.NoRedisKill {
		ph, err := d.redisKill(pub, topics)
		phases = append(phases, ph)
		if err != nil {
			return finish(d, pub, &r, phases, err)
		}
	}
	return finish(d, pub, &r, phases, nil)
}

// finish verifies every phase's deliveries and fills r.
func finish(d *deployment, pub *publisher, r *TopoResult, phases []PhaseResult, runErr error) TopoResult {
	all, _, _ := pub.snapshot()
	for i := range phases {
		for _, p := range all {
			for _, a := range p.Acked {
				if a[1] == i+1 {
					phases[i].Published++
				}
			}
			for _, f := range p.Failed {
				if f[1] == i+1 {
					phases[i].PublishFailed++
				}
			}
		}
	}
	d.cfg.Log("%s: verifying every subscriber's events", r.Topology)
	v, err := d.verify(all)
	if err != nil {
		runErr = joinErr(runErr, err)
	} else {
		for i := range phases {
			// Phases are numbered from 1 in the events; phase 2 is the
			// instance kill only when it ran.
			n := phaseNumber(phases[i].Name)
			phaseOf(&phases[i], v, n)
			p := phases[i]
			d.cfg.Log("%s %s: %d/%d received, lost %d silently and %d after a reset signal, %d duplicated, %d delivered with a failed Publish; p50 %.1f ms, p99 %.1f ms, max %.0f ms",
				r.Topology, p.Name, p.Received, p.Expected, p.LostSilent, p.LostSignalled, p.Duplicates, p.Unacked, p.P50MS, p.P99MS, p.MaxMS)
		}
		r.Misrouted, r.Dead = v.Misrouted, v.Dead
	}
	r.Phases = phases
	if runErr != nil {
		r.Error = runErr.Error()
	}
	return *r
}

func joinErr(a, b error) error {
	if a == nil {
		return b
	}
	return fmt.Errorf("%w; %w", a, b)
}

// phaseNumber is the number events of the named phase carry.
func phaseNumber(name string) int {
	switch name {
	case "steady":
		return 1
	case "instance-kill":
		return 2
	case "redis-kill":
		return 3
	}
	return 0
}

// instanceKill publishes through the phase and SIGKILLs instance 0 a third
// in; its subscribers reconnect to the others with Last-Event-ID.
func (d *deployment) instanceKill(pub *publisher, topics []int, before cpuMark) (PhaseResult, error) {
	cfg := d.cfg
	ph := PhaseResult{Name: "instance-kill", Killed: "server instance 0 (SIGKILL)"}
	pub.phase.Store(2)
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.KillPhase)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { pub.steady(ctx, topics, cfg.Rate, cfg.Workers) })
	sleep(cfg.KillPhase / 3)
	st, _ := d.servers[0].Call(request{Op: "stats"}, 30*time.Second)
	victims := 0
	if st.Stats != nil {
		victims = st.Stats.Handlers
	}
	cfg.Log("instance-kill: SIGKILL server instance 0 (%d subscribers on it)", victims)
	d.servers[0].Kill()
	d.servers[0] = nil
	killed := time.Now()
	at, err := d.waitOpen(cfg.Subscribers, cfg.KillPhase+120*time.Second)
	if err != nil {
		cancel()
		wg.Wait()
		return ph, err
	}
	ph.Recovery = at.Sub(killed).Seconds()
	cfg.Log("instance-kill: every subscriber has a stream again %.2fs after the kill", ph.Recovery)
	wg.Wait()
	if ph.Waiting, err = d.drain(pub.lastAcked(), 90*time.Second); err != nil {
		return ph, err
	}
	ph.Seconds = time.Since(t0).Seconds()
	after, err := d.mark(pub)
	if err != nil {
		return ph, err
	}
	ph.Reconnects, ph.Resets = after.reconnects-before.reconnects, after.resets-before.resets
	return ph, nil
}

// redisKill publishes through the phase and SIGKILLs the Redis primary of
// the broker's slot a quarter in; it restarts it (a single node comes back
// empty; a cluster's old primary rejoins as a replica of the promoted one)
// and publishes until 5 s after the outage ended.
func (d *deployment) redisKill(pub *publisher, topics []int) (PhaseResult, error) {
	cfg := d.cfg
	ph := PhaseResult{Name: "redis-kill"}
	before, err := d.mark(pub)
	if err != nil {
		return ph, err
	}
	pub.phase.Store(3)
	t0 := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { pub.steady(ctx, topics, cfg.Rate, cfg.Workers) })
	sleep(cfg.RedisPhase / 4)
	prim, slot, err := d.topo.primaryOf(prefix)
	if err != nil {
		cancel()
		wg.Wait()
		return ph, err
	}
	ph.Killed = fmt.Sprintf("Redis %s at %s (SIGKILL; slot %d)", prim.name, prim.addr(), slot)
	cfg.Log("redis-kill: SIGKILL %s", ph.Killed)
	prim.kill()
	pub.markKill()
	killed := time.Now()
	restarted := make(chan error, 1)
	go func() {
		// Its supervisor restarts it: a single node a second later (empty:
		// no persistence); a cluster's old primary once its replica has
		// been promoted, so that it rejoins as the new primary's replica
		// (restarted earlier, an empty node would take its slots back).
		sleep(time.Second)
		if d.topo.mode == "cluster" {
			err := waitUntil(60*time.Second, func() bool {
				p, _, err := d.topo.primaryOf(prefix)
				return err == nil && p != prim
			})
			if err != nil {
				cfg.Log("redis-kill: no replica promoted: %v", err)
			} else {
				cfg.Log("redis-kill: replica promoted %.2fs after the kill; restarting %s", time.Since(killed).Seconds(), prim.name)
			}
		}
		restarted <- prim.start()
	}()
	var outage time.Duration
	for i := 0; ; i++ {
		o, ok, fails := pub.outage()
		if ok {
			outage = o
			cfg.Log("redis-kill: publishing back %.2fs after the kill (%d failed publishes in between)", o.Seconds(), fails)
			break
		}
		if i%60 == 59 {
			cfg.Log("redis-kill: %.1fs after the kill, %d publishes failed (the last: %s)", time.Since(killed).Seconds(), fails, pub.lastError())
		}
		if time.Since(killed) > 120*time.Second || i > 10000 {
			cancel()
			wg.Wait()
			return ph, fmt.Errorf("publishing not back 120s after the Redis kill (%d failed; last: %s)", fails, pub.lastError())
		}
		sleep(50 * time.Millisecond)
	}
	ph.OutageMS = float64(outage.Milliseconds())
	if w, ok := pub.writable(); ok {
		ph.WritableMS = float64(w.Milliseconds())
	}
	if err := <-restarted; err != nil {
		cancel()
		wg.Wait()
		return ph, fmt.Errorf("restarting %s: %w", prim.name, err)
	}
	at, err := d.waitOpen(cfg.Subscribers, 120*time.Second)
	if err != nil {
		cancel()
		wg.Wait()
		return ph, err
	}
	ph.Recovery = at.Sub(killed).Seconds()
	cfg.Log("redis-kill: every subscriber has a stream again %.2fs after the kill", ph.Recovery)
	if left := cfg.RedisPhase - time.Since(t0); left > 5*time.Second {
		sleep(left)
	} else {
		sleep(5 * time.Second)
	}
	cancel()
	wg.Wait()
	if ph.Waiting, err = d.drain(pub.lastAcked(), 90*time.Second); err != nil {
		return ph, err
	}
	ph.Seconds = time.Since(t0).Seconds()
	after, err := d.mark(pub)
	if err != nil {
		return ph, err
	}
	ph.Reconnects, ph.Resets = after.reconnects-before.reconnects, after.resets-before.resets
	return ph, nil
}
