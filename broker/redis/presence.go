package redisbroker

import (
	"context"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Presence across instances. Every PresenceInterval, each instance replaces
// a hash "{prefix}:presence:<instance>" (topic → its local subscribers)
// with one MULTI (DEL, HSET, PEXPIRE of three intervals) and adds itself to
// the set "{prefix}:presence" (nothing while it has no subscribers). Reading it (ClusterPresence) is one SMEMBERS
// and one pipelined HGETALL per instance; instances whose hash expired
// (they died without Close) are dropped from the set then.

// presenceKey returns the hash of an instance's counts.
func (b *Backend) presenceKey(inst string) string { return b.keyPresence + ":" + inst }

// reportPresence is the reporter goroutine: it writes this instance's
// counts every interval until Close.
func (b *Backend) reportPresence() {
	defer close(b.presenceDone)
	local, ok := b.sink.(interface{ LocalPresence() map[string]int })
	if b.presenceEvery <= 0 || !ok {
		return
	}
	tick := time.NewTicker(b.presenceEvery)
	defer tick.Stop()
	reported := false // this instance's hash may exist
	for {
		select {
		case <-tick.C:
		case <-b.presenceQuit:
			return
		}
		counts := local.LocalPresence()
		if len(counts) == 0 && !reported {
			continue // nothing to say, nothing to take back
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.presenceEvery)
		if err := b.writePresence(ctx, counts); err == nil {
			reported = len(counts) > 0
		}
		cancel()
	}
}

// writePresence replaces this instance's counts in Redis; none removes them.
func (b *Backend) writePresence(ctx context.Context, counts map[string]int) error {
	key := b.presenceKey(b.inst)
	_, err := b.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, key)
		if len(counts) == 0 {
			p.SRem(ctx, b.keyPresence, b.inst)
			return nil
		}
		args := make([]any, 0, 2*len(counts))
		for t, n := range counts {
			args = append(args, t, n)
		}
		p.HSet(ctx, key, args...)
		p.PExpire(ctx, key, 3*b.presenceEvery)
		p.SAdd(ctx, b.keyPresence, b.inst)
		return nil
	})
	return err
}

// forgetPresence removes this instance's counts at Close.
func (b *Backend) forgetPresence(ctx context.Context) {
	if b.presenceEvery <= 0 {
		return
	}
	_, _ = b.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, b.presenceKey(b.inst))
		p.SRem(ctx, b.keyPresence, b.inst)
		return nil
	})
}

// Presence implements [broker.PresenceBackend]: the subscribers of each
// topic summed over every instance sharing the prefix, local being this
// instance's own counts (fresh). The other instances' counts are those they
// last wrote: at most PresenceInterval old while they run (plus the time a
// write takes), gone at their Close, and left for up to three intervals by
// an instance that died. It costs one SMEMBERS and a pipeline of one
// HGETALL per instance (O(instances + their topics)); each instance writes
// O(its topics) once per interval. Call it for a dashboard or an admin view,
// not per event.
func (b *Backend) Presence(ctx context.Context, local map[string]int) (map[string]int, error) {
	insts, err := b.c.SMembers(ctx, b.keyPresence).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(local))
	for t, n := range local {
		out[t] = n
	}
	var others []string
	for _, inst := range insts {
		if inst != b.inst {
			others = append(others, inst)
		}
	}
	if len(others) == 0 {
		return out, nil
	}
	cmds := make([]*goredis.MapStringStringCmd, len(others))
	if _, err := b.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, inst := range others {
			cmds[i] = p.HGetAll(ctx, b.presenceKey(inst))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var gone []any
	for i, c := range cmds {
		counts := c.Val()
		if len(counts) == 0 { // expired, or no subscribers: it reports again if alive
			gone = append(gone, others[i])
		}
		for t, v := range counts {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				out[t] += n
			}
		}
	}
	if len(gone) > 0 {
		_ = b.c.SRem(ctx, b.keyPresence, gone...).Err()
	}
	return out, nil
}
