package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ssekit/ssekit/benchmarks/internal/machine"
)

// Output is what the command writes as JSON (cluster.json), and what the
// Markdown and the chart are made from.
type Output struct {
	Machine    machine.Info    `json:"machine"`
	Command    string          `json:"command"`
	LoadStart  string          `json:"load_average_start"` // 1, 5, 15 minutes
	LoadEnd    string          `json:"load_average_end"`
	Config     ConfigOut       `json:"config"`
	Runs       []TopoResult    `json:"runs,omitempty"`
	Ceiling    []CeilingResult `json:"ceiling,omitempty"`
	Seconds    float64         `json:"seconds"`
	Errors     []string        `json:"errors,omitempty"`
	ceilingRun bool
}

// ConfigOut is the run's configuration.
type ConfigOut struct {
	Adapter        string  `json:"adapter"`
	Instances      int     `json:"instances"`
	Subscribers    int     `json:"subscribers"`
	ClientProcs    int     `json:"client_procs"`
	Topics         int     `json:"topics"`
	Rate           float64 `json:"rate_events_per_s"`
	SteadyS        float64 `json:"steady_s"`
	KillPhaseS     float64 `json:"kill_phase_s"`
	RedisPhaseS    float64 `json:"redis_phase_s"`
	CeilingS       float64 `json:"ceiling_s,omitempty"`
	CeilingWorkers int     `json:"ceiling_workers,omitempty"`
}

// TopoResult is one Redis topology's run.
type TopoResult struct {
	Topology       string        `json:"topology"` // single, cluster
	ConnectSeconds float64       `json:"connect_s"`
	MemPerSub      float64       `json:"server_mem_per_sub_bytes"` // instances' HeapInuse+StackInuse growth per subscriber
	Phases         []PhaseResult `json:"phases"`

	// Steady phase costs.
	Deliveries          int64              `json:"deliveries"`
	ServerUSPerDelivery float64            `json:"server_cpu_us_per_delivery"`
	ClientUSPerDelivery float64            `json:"client_cpu_us_per_delivery"`
	RedisUSPerEvent     float64            `json:"redis_cpu_us_per_event"`
	PublisherUSPerEvent float64            `json:"publisher_cpu_us_per_event"`
	RedisCmdsPerEvent   float64            `json:"redis_cmds_per_event"`
	RedisCmds           map[string]float64 `json:"redis_cmds"` // per event, per command
	Misrouted           int64              `json:"misrouted"`
	Dead                int                `json:"dead_streams"`
	Error               string             `json:"error,omitempty"`
}

// PhaseResult is one phase of a topology's run.
type PhaseResult struct {
	Name          string  `json:"name"` // steady, instance-kill, redis-kill
	Seconds       float64 `json:"seconds"`
	Published     int     `json:"published"` // acknowledged publishes
	PublishFailed int     `json:"publish_failed"`
	tally
	P50MS      float64 `json:"p50_ms"`
	P99MS      float64 `json:"p99_ms"`
	MaxMS      float64 `json:"max_ms"`
	Complete   bool    `json:"complete"`              // every acknowledged event reached every subscriber once
	Recovery   float64 `json:"recovery_s,omitempty"`  // kill → every subscriber has a stream again
	OutageMS   float64 `json:"outage_ms,omitempty"`   // kill → the first successful publish (Redis kill)
	WritableMS float64 `json:"writable_ms,omitempty"` // kill → the first append, before a replica acknowledged it
	Resets     int     `json:"resets"`                // streams that got the reset signal in this phase
	Reconnects int64   `json:"reconnects"`            // client connections after their first, in this phase
	Killed     string  `json:"killed,omitempty"`      // what was killed
	Waiting    int     `json:"still_short,omitempty"` // subscribers short of the last events when the drain gave up
}

// CeilingResult is the publish rate at one subscriber count.
type CeilingResult struct {
	Subscribers   int     `json:"subscribers"`
	Topics        int     `json:"topics"`
	Publishers    int     `json:"publishers"` // concurrent, over every instance
	Published     int     `json:"published"`
	PublishFailed int     `json:"publish_failed"`
	Seconds       float64 `json:"seconds"`
	EventsPerS    float64 `json:"events_per_s"`
	RedisCPU      float64 `json:"redis_cpu"` // Redis's CPU time / wall time while publishing (1 = one core)
	// RedisUSPerEvent is Redis's CPU time per event: 1e6 divided by it is
	// the rate one Redis core sustains with this workload.
	RedisUSPerEvent float64            `json:"redis_cpu_us_per_event"`
	RedisLimit      float64            `json:"redis_limit_events_per_s"`
	CmdsPerEvent    float64            `json:"redis_cmds_per_event"`
	Cmds            map[string]float64 `json:"redis_cmds"`
	Deliveries      int64              `json:"deliveries"`
	DeliverySeconds float64            `json:"delivery_s"` // first publish → the last subscriber caught up
	ServerCPU       float64            `json:"server_cpu"` // instances' CPU / wall while publishing and delivering
	tally
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
	Complete bool    `json:"complete"`
	Error    string  `json:"error,omitempty"`
}

// failure returns an error when the run failed or found a silent loss, a
// duplicate or an event nobody published.
func (o *Output) failure() error {
	var bad []string
	bad = append(bad, o.Errors...)
	for _, r := range o.Runs {
		if r.Error != "" {
			bad = append(bad, r.Topology+": "+r.Error)
		}
		if r.Misrouted > 0 {
			bad = append(bad, fmt.Sprintf("%s: %d events of another topic", r.Topology, r.Misrouted))
		}
		for _, p := range r.Phases {
			if p.LostSilent > 0 || p.Duplicates > 0 || p.Phantom > 0 {
				bad = append(bad, fmt.Sprintf("%s %s: %d lost without a reset signal, %d duplicated, %d never published",
					r.Topology, p.Name, p.LostSilent, p.Duplicates, p.Phantom))
			}
		}
	}
	for _, c := range o.Ceiling {
		if c.Error != "" {
			bad = append(bad, fmt.Sprintf("ceiling %d: %s", c.Subscribers, c.Error))
		}
		if c.LostSilent > 0 || c.Duplicates > 0 || c.Phantom > 0 {
			bad = append(bad, fmt.Sprintf("ceiling %d: %d lost without a reset signal, %d duplicated, %d never published",
				c.Subscribers, c.LostSilent, c.Duplicates, c.Phantom))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// phaseOf fills p's delivery figures from the verification of phase i.
func phaseOf(p *PhaseResult, v verifyResult, i int) {
	p.tally = v.Tally[i]
	h := v.Hist[i]
	p.P50MS, p.P99MS, p.MaxMS = h.quantile(0.50), h.quantile(0.99), h.maxMS()
	p.Complete = p.Expected > 0 && p.Received == p.Expected && p.Duplicates == 0 && p.Phantom == 0
}
