package main

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// markdown formats the results for people (cluster.md).
func markdown(o *Output) string {
	var b strings.Builder
	m := o.Machine
	fmt.Fprintf(&b, "Measured on %d CPUs (%s), %s, %s; load average %s at the start and %s at the end (1, 5, 15 minutes; "+
		"other work shared this machine). Every process on loopback: Redis, the server instances and the client processes. `%s`, %.0f s.\n\n",
		m.NProc, m.CPU, m.Go, m.OS, o.LoadStart, o.LoadEnd, o.Command, o.Seconds)
	if o.ceilingRun {
		writeCeiling(&b, o)
	} else {
		writeRuns(&b, o)
	}
	for _, e := range o.Errors {
		fmt.Fprintf(&b, "\n**Error**: %s\n", e)
	}
	return b.String()
}

func writeRuns(b *strings.Builder, o *Output) {
	c := o.Config
	fmt.Fprintf(b, "**%d server instances (%s adapter), %s subscribers, %d topics, %s events/s** (%d client processes; each event goes to %s subscribers). "+
		"Phases: steady %.0f s; one instance SIGKILLed (its clients reconnect to the others with Last-Event-ID); the Redis primary SIGKILLed.\n\n",
		c.Instances, adapterName(c.Adapter), fmtInt(int64(c.Subscribers)), c.Topics, fmtNum(c.Rate), c.ClientProcs, fmtNum(float64(c.Subscribers)/float64(c.Topics)), c.SteadyS)
	b.WriteString("| Redis | phase | events | delivered / expected | p50 | p99 | max | lost | lost after reset signal | duplicated | delivered, Publish failed | publish outage | all streams back after |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range o.Runs {
		for _, p := range r.Phases {
			ev := fmtInt(int64(p.Published))
			if p.PublishFailed > 0 {
				ev += fmt.Sprintf(" (+%d failed)", p.PublishFailed)
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s / %s | %s | %s | %s | **%d** | %d | **%d** | %d | %s | %s |\n",
				r.Topology, phaseLabel(p.Name), ev, fmtInt(p.Received), fmtInt(p.Expected), fmtMS(p.P50MS), fmtMS(p.P99MS), fmtMS(p.MaxMS),
				p.LostSilent, p.LostSignalled, p.Duplicates, p.Unacked, dash(p.OutageMS > 0, outage(p)),
				dash(p.Recovery > 0, fmt.Sprintf("%.1f s", p.Recovery)))
		}
		if r.Error != "" {
			fmt.Fprintf(b, "| %s | **error** | %s |||||||||||\n", r.Topology, strings.ReplaceAll(r.Error, "|", "/"))
		}
	}
	b.WriteString("\n*Latency*: publisher's clock just before Publish to the subscriber's receipt (one machine, one clock), over every (subscriber, event) pair; " +
		"in the kill phases it includes the events replayed after the reconnection. *Lost*: acknowledged by Publish, never received, no reset signal (must be 0). " +
		"*Lost after reset signal*: the stream got `ssekit-reset` first (the documented signal). *Delivered, Publish failed*: Publish returned an error " +
		"(Redis down, or WAIT saw no replica in time) but the event was appended, so subscribers got it once. *Publish outage*: from the kill to the first " +
		"Publish that succeeded (on the cluster Publish waits for a replica, so this includes the old primary's return as the new one's replica; " +
		"*writes back* is when the promoted replica took appends). *All streams back*: from the kill until every subscriber had an open stream.\n\n")
	b.WriteString("| Redis | server memory / subscriber | CPU / delivery: instances | clients | Redis CPU / event | Redis commands / event | resets (streams) | reconnections |\n")
	b.WriteString("|---|---:|---:|---:|---:|---|---:|---:|\n")
	for _, r := range o.Runs {
		var resets, recon int64
		for _, p := range r.Phases {
			resets += int64(p.Resets)
			recon += p.Reconnects
		}
		fmt.Fprintf(b, "| %s | %.1f KiB | %.1f µs | %.1f µs | %.0f µs | %.1f (%s) | %s | %s |\n",
			r.Topology, r.MemPerSub/1024, r.ServerUSPerDelivery, r.ClientUSPerDelivery, r.RedisUSPerEvent, r.RedisCmdsPerEvent,
			cmdList(r.RedisCmds), fmtInt(resets), fmtInt(recon))
	}
	b.WriteString("\nCosts are from the steady phase: process CPU time (user + system) of the instances and of the client processes divided by the " +
		"deliveries, Redis's `used_cpu_user + used_cpu_sys` (every node) and `INFO commandstats` calls (the primaries) divided by the events published.\n")
}

func writeCeiling(b *strings.Builder, o *Output) {
	c := o.Config
	fmt.Fprintf(b, "**Redis publish ceiling, one node**: %d server instances each publish with %d concurrent publishers for %.0f s; "+
		"subscribers spread over the instances and over min(subscribers, %d) topics.\n\n", c.Instances, c.CeilingWorkers, c.CeilingS, c.Topics)
	b.WriteString("| subscribers | topics | events/s published | Redis busy | Redis CPU / event | one Redis core's limit | commands / event | delivered / expected | lost | lost after reset | duplicated | all delivered after | p50 | p99 |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range o.Ceiling {
		if r.Error != "" && r.Published == 0 {
			fmt.Fprintf(b, "| %s | error: %s |||||||||||||\n", fmtInt(int64(r.Subscribers)), strings.ReplaceAll(r.Error, "|", "/"))
			continue
		}
		fmt.Fprintf(b, "| %s | %d | **%s** | %.0f%% | %.1f µs | %s events/s | %.1f (%s) | %s / %s | %d | %d | %d | %.1f s | %s | %s |\n",
			fmtInt(int64(r.Subscribers)), r.Topics, fmtNum(r.EventsPerS), r.RedisCPU*100, r.RedisUSPerEvent, fmtNum(r.RedisLimit),
			r.CmdsPerEvent, cmdList(r.Cmds), fmtInt(r.Received), fmtInt(r.Expected), r.LostSilent, r.LostSignalled, r.Duplicates,
			r.DeliverySeconds, fmtMS(r.P50MS), fmtMS(r.P99MS))
	}
	b.WriteString("\n*Redis busy*: Redis's CPU time over the publishing time (100% = one core, Redis's limit: it runs commands on one thread). " +
		"*One Redis core's limit*: 1 s divided by Redis's CPU time per event, the rate at which this workload would keep one core busy. " +
		"Every process shares the same CPUs, so the rate published is a floor; the limit is what one node gives on a core of its own.\n")
}

// outage formats the publish outage, with when Redis took writes again
// when that came earlier (before the promoted primary had a replica).
func outage(p PhaseResult) string {
	s := fmt.Sprintf("%.2f s", p.OutageMS/1000)
	if p.WritableMS > 0 && p.WritableMS < p.OutageMS-50 {
		s += fmt.Sprintf(" (writes back after %.2f s)", p.WritableMS/1000)
	}
	return s
}

func phaseLabel(name string) string {
	switch name {
	case "instance-kill":
		return "instance SIGKILLed"
	case "redis-kill":
		return "Redis primary SIGKILLed"
	}
	return name
}

func dash(ok bool, s string) string {
	if !ok {
		return "–"
	}
	return s
}

// cmdList lists the commands per event, most frequent first.
func cmdList(m map[string]float64) string {
	type kv struct {
		k string
		v float64
	}
	var l []kv
	for k, v := range m {
		if v >= 0.05 {
			l = append(l, kv{k, v})
		}
	}
	slices.SortFunc(l, func(a, b kv) int {
		if a.v != b.v {
			if a.v > b.v {
				return -1
			}
			return 1
		}
		return strings.Compare(a.k, b.k)
	})
	var parts []string
	for _, x := range l {
		parts = append(parts, fmt.Sprintf("%s %.2f", x.k, x.v))
	}
	return strings.Join(parts, ", ")
}

func fmtMS(v float64) string {
	switch {
	case v <= 0:
		return "–"
	case v < 10:
		return fmt.Sprintf("%.1f ms", v)
	case v < 10000:
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.1f s", v/1000)
}

// fmtInt writes n with thousands separators.
func fmtInt(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func fmtNum(v float64) string {
	if v >= 100 || v == math.Trunc(v) {
		return fmtInt(int64(math.Round(v)))
	}
	return fmt.Sprintf("%.1f", v)
}

// chart draws the results as an SVG: latency per topology and phase (p50
// and p99, log scale), or the ceiling's rates per subscriber count.
func chart(o *Output) string {
	type bar struct {
		label  string
		a, b   float64 // p50 and p99, or published and limit
		failed bool
	}
	var bars []bar
	var title, la, lb, unit string
	if o.ceilingRun {
		title = "Redis publish ceiling, one node (events/s, log scale)"
		la, lb, unit = "published (all processes on one machine)", "one Redis core's limit", "/s"
		for _, r := range o.Ceiling {
			bars = append(bars, bar{label: fmtInt(int64(r.Subscribers)) + " subscribers", a: r.EventsPerS, b: r.RedisLimit, failed: r.Error != ""})
		}
	} else {
		c := o.Config
		title = fmt.Sprintf("Delivery latency, %d instances, %s subscribers (ms, log scale)", c.Instances, fmtInt(int64(c.Subscribers)))
		la, lb, unit = "p50", "p99", " ms"
		for _, r := range o.Runs {
			for _, p := range r.Phases {
				bars = append(bars, bar{label: r.Topology + ": " + phaseLabel(p.Name), a: p.P50MS, b: p.P99MS,
					failed: p.LostSilent > 0 || p.Duplicates > 0})
			}
		}
	}
	const left, width, rowH, top = 250, 470, 34, 50
	hi := 1.0
	for _, x := range bars {
		hi = max(hi, x.a, x.b)
	}
	lo := 0.1
	if o.ceilingRun {
		lo = 10
	}
	decades := math.Ceil(math.Log10(hi/lo)) + 0.01
	scale := func(v float64) float64 {
		if v <= lo {
			return 0
		}
		return math.Log10(v/lo) / decades * width
	}
	h := top + rowH*len(bars) + 40
	var s strings.Builder
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", left+width+90, h)
	fmt.Fprintf(&s, `<rect width="100%%" height="100%%" fill="white"/><text x="10" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	fmt.Fprintf(&s, `<rect x="%d" y="28" width="12" height="10" fill="#9ecae1"/><text x="%d" y="37">%s</text>`, left, left+16, html.EscapeString(la))
	fmt.Fprintf(&s, `<rect x="%d" y="28" width="12" height="10" fill="#3182bd"/><text x="%d" y="37">%s</text>`+"\n", left+230, left+246, html.EscapeString(lb))
	for d := 0; float64(d) <= decades; d++ {
		v := lo * math.Pow(10, float64(d))
		x := left + scale(v*1.0000001)
		fmt.Fprintf(&s, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle" fill="#666">%s</text>`+"\n",
			x, top-4, x, h-30, x, h-16, fmtNum(v))
	}
	for i, x := range bars {
		y := top + i*rowH
		label := x.label
		if x.failed {
			label += " (!)"
		}
		fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+20, html.EscapeString(label))
		fmt.Fprintf(&s, `<rect x="%d" y="%d" width="%.1f" height="12" fill="#9ecae1"/><text x="%.1f" y="%d" fill="#333">%s%s</text>`+"\n",
			left, y+4, scale(x.a), left+scale(x.a)+4, y+14, fmtNum(x.a), unit)
		fmt.Fprintf(&s, `<rect x="%d" y="%d" width="%.1f" height="12" fill="#3182bd"/><text x="%.1f" y="%d" fill="#333">%s%s</text>`+"\n",
			left, y+17, scale(x.b), left+scale(x.b)+4, y+27, fmtNum(x.b), unit)
	}
	s.WriteString("</svg>\n")
	return s.String()
}

// adapterName is how the report names an adapter (runs from before the
// -adapter flag had none: net/http).
func adapterName(a string) string {
	if a == "nbio" {
		return "nbio"
	}
	return "net/http"
}
