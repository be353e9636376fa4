package main

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssekit/ssekit/broker"
	redisbroker "github.com/ssekit/ssekit/broker/redis"
	"github.com/ssekit/ssekit/core"
)

// topicName is the name of topic i.
func topicName(i int) string { return "t" + strconv.Itoa(i) }

// publisher publishes events through a broker, each carrying
// "phase topic seq stamp" (stamp: the wall clock in Unix nanoseconds just
// before Publish), and records per topic which sequence numbers Publish
// acknowledged and which it failed.
type publisher struct {
	b       *broker.Broker
	stride  int // sequence numbers are offset + k*stride, so that several
	offset  int // publishers can share a topic
	timeout time.Duration
	phase   atomic.Int32

	mu      sync.Mutex
	next    []int
	pub     []published
	killAt  time.Time // when a fault was injected (zero: none)
	backAt  time.Time // the first success of a publish started after killAt
	writeAt time.Time // the first append after killAt, replicated or not
	fails   int64     // failed publishes since killAt
	lastErr string
}

func newPublisher(b *broker.Broker, topics, stride, offset int) *publisher {
	p := &publisher{b: b, stride: stride, offset: offset, timeout: 3 * time.Second,
		next: make([]int, topics), pub: make([]published, topics)}
	for i := range p.next {
		p.next[i] = offset
	}
	return p
}

// publishOne publishes the next event of topic.
func (p *publisher) publishOne(ctx context.Context, topic int) {
	p.mu.Lock()
	seq := p.next[topic]
	p.next[topic] += p.stride
	p.mu.Unlock()
	phase := int(p.phase.Load())
	buf := make([]byte, 0, 64)
	buf = strconv.AppendInt(buf, int64(phase), 10)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, int64(topic), 10)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, int64(seq), 10)
	buf = append(buf, ' ')
	start := time.Now()
	buf = strconv.AppendInt(buf, start.UnixNano(), 10)
	pctx, cancel := context.WithTimeout(ctx, p.timeout)
	_, err := p.b.Publish(pctx, topicName(topic), core.Message{Data: string(buf)})
	cancel()
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if (err == nil || errors.Is(err, redisbroker.ErrNotReplicated)) && !p.killAt.IsZero() && p.writeAt.IsZero() && start.After(p.killAt) {
		p.writeAt = now
	}
	if err != nil {
		p.pub[topic].Failed = append(p.pub[topic].Failed, [2]int{seq, phase})
		p.lastErr = err.Error()
		if !p.killAt.IsZero() {
			p.fails++
		}
		return
	}
	p.pub[topic].Acked = append(p.pub[topic].Acked, [2]int{seq, phase})
	if !p.killAt.IsZero() && p.backAt.IsZero() && start.After(p.killAt) {
		p.backAt = now
	}
}

// markKill records that a fault is injected now: the outage ends with the
// first successful publish started after it.
func (p *publisher) markKill() {
	p.mu.Lock()
	p.killAt, p.backAt, p.writeAt, p.fails = time.Now(), time.Time{}, time.Time{}, 0
	p.mu.Unlock()
}

// outage returns how long publishing failed after markKill (0 and false
// while it has not recovered), and the failed publishes in between.
func (p *publisher) outage() (time.Duration, bool, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killAt.IsZero() || p.backAt.IsZero() {
		return 0, false, p.fails
	}
	return p.backAt.Sub(p.killAt), true, p.fails
}

// lastError returns the last publish error.
func (p *publisher) lastError() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// writable returns how long after markKill Redis took an append again
// (acknowledged by its replicas or not), if it has.
func (p *publisher) writable() (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killAt.IsZero() || p.writeAt.IsZero() {
		return 0, false
	}
	return p.writeAt.Sub(p.killAt), true
}

// snapshot returns a copy of every topic's publishes and their count.
func (p *publisher) snapshot() (pub []published, acked, failed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pub = make([]published, len(p.pub))
	for i, x := range p.pub {
		pub[i] = published{Acked: append([][2]int(nil), x.Acked...), Failed: append([][2]int(nil), x.Failed...)}
		acked += len(x.Acked)
		failed += len(x.Failed)
	}
	return pub, acked, failed
}

// lastAcked returns per topic the greatest acknowledged sequence number
// (-1 for none).
func (p *publisher) lastAcked() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	last := make([]int, len(p.pub))
	for i, x := range p.pub {
		last[i] = -1
		for _, a := range x.Acked {
			last[i] = max(last[i], a[0])
		}
	}
	return last
}

// steady publishes rate events per second, round-robin over topics, with
// workers publishing concurrently, until ctx ends; when the publishes fall
// behind (an outage), the schedule is caught up as fast as they go. It
// returns the most the schedule fell behind.
func (p *publisher) steady(ctx context.Context, topics []int, rate float64, workers int) time.Duration {
	jobs := make(chan int, 256)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for t := range jobs {
				p.publishOne(context.WithoutCancel(ctx), t)
			}
		})
	}
	var lag time.Duration
	start := time.Now()
	for i := 0; ctx.Err() == nil; i++ {
		at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if d := time.Until(at); d > 0 {
			tm := time.NewTimer(d)
			select {
			case <-tm.C:
			case <-ctx.Done():
				tm.Stop()
			}
		} else {
			lag = max(lag, -d)
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case jobs <- topics[i%len(topics)]:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	return lag
}

// flat publishes as fast as workers concurrent publishers go, round-robin
// over topics, for d; it returns when every publish has returned.
func (p *publisher) flat(topics []int, d time.Duration, workers int) {
	var n atomic.Int64
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for time.Now().Before(end) {
				p.publishOne(context.Background(), topics[int(n.Add(1)-1)%len(topics)])
			}
		})
	}
	wg.Wait()
}
