package main

import (
	"fmt"
	"sync"
	"time"
)

// runCeiling measures, on one Redis node, the publish rate the backend
// sustains at each subscriber count of cfg.Ceiling: every instance
// publishes with cfg.CeilingWorkers concurrent publishers for
// cfg.CeilingTime, to min(subscribers, topics) topics whose subscribers
// spread over the instances.
func runCeiling(cfg config) []CeilingResult {
	var out []CeilingResult
	d, err := startDeployment(cfg, "single")
	if err != nil {
		return []CeilingResult{{Error: err.Error()}}
	}
	defer d.close()
	for _, subs := range cfg.Ceiling {
		r := ceilingLevel(d, subs)
		if r.Error != "" {
			cfg.Log("ceiling %d: %s", subs, r.Error)
		}
		out = append(out, r)
		d.stopClients()
	}
	return out
}

// ceilingLevel measures one subscriber count.
func ceilingLevel(d *deployment, subs int) (r CeilingResult) {
	cfg := d.cfg
	topics := min(subs, cfg.Topics)
	r.Subscribers, r.Topics, r.Publishers = subs, topics, cfg.CeilingWorkers*len(d.servers)
	procs := (subs + perProcess - 1) / perProcess
	cfg.Log("ceiling: %d subscribers over %d topics, %d client processes", subs, topics, procs)
	if err := d.startClients(subs, topics, procs); err != nil {
		r.Error = err.Error()
		return r
	}
	all := make([]int, topics)
	for i := range all {
		all[i] = i
	}
	r0 := d.topo.sample()
	s0, err := d.serverStats()
	if err != nil {
		r.Error = err.Error()
		return r
	}
	cfg.Log("ceiling %d: %d instances publish with %d publishers each for %v", subs, len(d.servers), cfg.CeilingWorkers, cfg.CeilingTime)
	results := make([]*pubResult, len(d.servers))
	errs := make([]error, len(d.servers))
	var wg sync.WaitGroup
	for i, s := range d.servers {
		wg.Go(func() {
			rep, err := s.Call(request{Op: "publish", Pub: &pubSpec{Phase: 1, NTopics: topics, Topics: all,
				Seconds: cfg.CeilingTime.Seconds(), Workers: cfg.CeilingWorkers, Stride: len(d.servers), Offset: i}},
				cfg.CeilingTime+60*time.Second)
			results[i], errs[i] = rep.Pub, err
		})
	}
	wg.Wait()
	r1 := d.topo.sample()
	pub := make([]published, topics)
	var start, end int64
	for i, p := range results {
		if errs[i] != nil {
			r.Error = errs[i].Error()
			return r
		}
		r.Published += p.Acked
		r.PublishFailed += p.Failed
		if start == 0 || p.StartNs < start {
			start = p.StartNs
		}
		end = max(end, p.EndNs)
		for t, x := range p.Published {
			pub[t].Acked = append(pub[t].Acked, x.Acked...)
			pub[t].Failed = append(pub[t].Failed, x.Failed...)
		}
	}
	r.Seconds = float64(end-start) / 1e9
	r.EventsPerS = float64(r.Published) / r.Seconds
	r.RedisCPU = float64(r1.cpuNs-r0.cpuNs) / float64(end-start)
	if r.Published > 0 {
		r.RedisUSPerEvent = float64(r1.cpuNs-r0.cpuNs) / 1e3 / float64(r.Published)
		r.RedisLimit = 1e6 / r.RedisUSPerEvent
		r.Cmds = map[string]float64{}
		var n int64
		for k, v := range commandsDelta(r0, r1) {
			r.Cmds[k] = float64(v) / float64(r.Published)
			n += v
		}
		r.CmdsPerEvent = float64(n) / float64(r.Published)
	}
	cfg.Log("ceiling %d: %d events in %.2fs: %.0f events/s (%d failed); Redis busy %.0f%% of a core, %.1f µs per event",
		subs, r.Published, r.Seconds, r.EventsPerS, r.PublishFailed, r.RedisCPU*100, r.RedisUSPerEvent)
	last := make([]int, topics)
	for t, p := range pub {
		last[t] = -1
		for _, a := range p.Acked {
			last[t] = max(last[t], a[0])
		}
	}
	waiting, err := d.drain(last, 180*time.Second)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.DeliverySeconds = float64(time.Now().UnixNano()-start) / 1e9
	s1, err := d.serverStats()
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.ServerCPU = float64(s1.CPUNs-s0.CPUNs) / 1e9 / r.DeliverySeconds
	v, err := d.verify(pub)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.tally = v.Tally[1]
	r.Deliveries = r.Received
	h := v.Hist[1]
	r.P50MS, r.P99MS = h.quantile(0.5), h.quantile(0.99)
	r.Complete = r.Expected > 0 && r.Received == r.Expected && r.Duplicates == 0 && r.Phantom == 0
	if waiting > 0 {
		r.Error = fmt.Sprintf("%d subscribers short of the last events after 180 s", waiting)
	}
	cfg.Log("ceiling %d: %d/%d delivered (%d lost after a reset, %d silently, %d duplicated) %.1fs after the first publish; p50 %.0f ms, p99 %.0f ms",
		subs, r.Received, r.Expected, r.LostSignalled, r.LostSilent, r.Duplicates, r.DeliverySeconds, r.P50MS, r.P99MS)
	return r
}
