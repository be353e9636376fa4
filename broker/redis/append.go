package redisbroker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ssekit/ssekit/broker"
)

// Append implements [broker.Backend]. It sends the append script itself,
// again after a failure whose outcome is unknown (as go-redis would, which
// is told not to: see noRetry), up to the client's MaxRetries times; a copy
// sent again is marked as a retry, so that Redis refuses it once its history
// changed since the first copy (see appendScript).
func (b *Backend) Append(ctx context.Context, topic string, r broker.Record) (broker.ID, error) {
	if b.isClosed() {
		return broker.ID{}, errClosed
	}
	given := ""
	if !r.ID.IsZero() {
		given = r.ID.String()
	}
	closeFlag := "0"
	if r.Close {
		closeFlag = "1"
	}
	gen, runID, ok := b.history()
	if !ok {
		// Learn the history before the first append: its copies sent
		// again carry it.
		if _, err := b.last(ctx); err != nil {
			return broker.ID{}, err
		}
		gen, runID, _ = b.history()
	}
	keys := []string{b.keyLast, b.keyEpoch, b.keyDropped, b.topicPrefix + topic, b.keyLost, b.keyGen}
	if b.dedup > 0 {
		var tok [16]byte
		_, _ = rand.Read(tok[:])
		keys = append(keys, b.keyTok+hex.EncodeToString(tok[:]))
	}
	args := []any{given, b.maxLen, b.maxAge, topic, r.Body, closeFlag, b.floor(), b.dedup, gen, nonce(), "0", runID}
	var (
		s   string
		err error
	)
	for attempt := 0; ; attempt++ {
		if b.replicas > 0 {
			s, err = b.appendReplicated(ctx, keys, args)
		} else {
			s, err = b.appendOnce(ctx, keys, args)
		}
		if err == nil || s != "" || attempt >= b.retries || !retryable(err) {
			break
		}
		if mayHaveRun(err) {
			args[10] = "1" // a retry from now on
		}
		t := time.NewTimer(min(8*time.Millisecond<<attempt, 512*time.Millisecond))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return broker.ID{}, errors.Join(err, ctx.Err())
		}
	}
	if err != nil && s == "" {
		msg := err.Error()
		if _, cur, ok := strings.Cut(msg, "ssekit: generation "); ok {
			g, rid, _ := strings.Cut(cur, " ")
			b.setHistory(g, strings.TrimSpace(rid))
			return broker.ID{}, fmt.Errorf("%w (first copy: %w)", ErrHistoryChanged, err)
		}
		switch {
		case strings.Contains(msg, "ssekit: id order"):
			return broker.ID{}, errors.Join(broker.ErrIDOrder, err)
		case strings.Contains(msg, "ssekit: id space"):
			return broker.ID{}, errors.Join(broker.ErrIDSpace, err)
		}
		return broker.ID{}, err
	}
	id, perr := broker.ParseID(s)
	if perr != nil {
		return broker.ID{}, perr
	}
	b.see(id)
	return id, err
}

// noRetry is a command go-redis sends once, whatever its MaxRetries: a copy
// of the append script sent again blindly after its first copy ran on a
// Redis that then lost it would append the event twice. Append sends it
// again itself, marked as a retry.
type noRetry struct{ *goredis.Cmd }

// NoRetry implements goredis.Cmder.
func (noRetry) NoRetry() bool { return true }

// evalSha returns the command that runs script s with keys and args.
func evalSha(ctx context.Context, s *goredis.Script, keys []string, args []any) *goredis.Cmd {
	return scriptCmd(ctx, "evalsha", s.Hash(), keys, args)
}

// scriptCmd returns the command op ("evalsha" or "eval") of script (its
// hash or its source) with keys and args.
func scriptCmd(ctx context.Context, op, script string, keys []string, args []any) *goredis.Cmd {
	a := make([]any, 0, 3+len(keys)+len(args))
	a = append(a, op, script, len(keys))
	for _, k := range keys {
		a = append(a, k)
	}
	return goredis.NewCmd(ctx, append(a, args...)...)
}

// appendOnce sends one copy of the append script: by its hash, and with its
// source when Redis does not have it (NOSCRIPT: that copy did not run).
func (b *Backend) appendOnce(ctx context.Context, keys []string, args []any) (string, error) {
	cmd := evalSha(ctx, appendScript, keys, args)
	_ = b.c.Process(ctx, noRetry{cmd})
	if goredis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		cmd = scriptCmd(ctx, "eval", appendLua, keys, args)
		_ = b.c.Process(ctx, noRetry{cmd})
	}
	return cmd.Text()
}

// appendReplicated runs the append script and WAIT in one pipeline, so on
// one connection (WAIT counts the replicas that have that connection's
// writes). On a ClusterClient the pipeline goes to the primary of the
// prefix's slot. It returns the id with an error matching ErrNotReplicated
// when too few replicas acknowledged it.
func (b *Backend) appendReplicated(ctx context.Context, keys []string, args []any) (string, error) {
	var c goredis.Cmdable = b.c
	cc, cluster := b.c.(*goredis.ClusterClient)
	primary := func() error {
		node, err := cc.MasterForKey(ctx, b.keyLast)
		c = node
		return err
	}
	if cluster {
		if err := primary(); err != nil {
			return "", err
		}
	}
	var ev *goredis.Cmd
	var wait *goredis.Cmd
	loaded, reloaded := false, false
	for {
		_, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			ev = evalSha(ctx, appendScript, keys, args)
			_ = p.Process(ctx, noRetry{ev})
			wait = p.Do(ctx, "wait", b.replicas, max(b.replicaTimeout.Milliseconds(), 1))
			return nil
		})
		if err != nil && !loaded && goredis.HasErrorPrefix(ev.Err(), "NOSCRIPT") {
			loaded = true
			if err := appendScript.Load(ctx, c).Err(); err != nil {
				return "", err
			}
			continue
		}
		// The pipeline bypasses the ClusterClient's redirects: after a
		// failover the slot's old primary (back as a replica) answers
		// MOVED, and go-redis reloads its slot map only every minute.
		// Reload it now (in the background: wait up to a second for the
		// slot to move) and send the append once more (MOVED: it did not
		// run).
		if cluster && !reloaded && goredis.HasErrorPrefix(ev.Err(), "MOVED") {
			reloaded = true
			stale := c
			cc.ReloadState(ctx)
			for i := 0; i < 40 && c == stale && ctx.Err() == nil; i++ {
				time.Sleep(25 * time.Millisecond)
				if err := primary(); err != nil {
					return "", err
				}
			}
			continue
		}
		if err := ev.Err(); err != nil {
			return "", err
		}
		s, err := ev.Text()
		if err != nil {
			return "", err
		}
		n, err := wait.Int64()
		if err != nil {
			return s, errors.Join(ErrNotReplicated, err)
		}
		if int(n) < b.replicas {
			return s, fmt.Errorf("%w: %s reached %d of %d replicas within %v", ErrNotReplicated, s, n, b.replicas, b.replicaTimeout)
		}
		return s, nil
	}
}

// notRun lists the error replies of a command Redis did not run, which is
// worth sending again (go-redis retries them too).
var notRun = []string{"LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"}

// retryable reports whether an append that failed with err is worth sending
// again: its outcome is unknown (a broken connection, a timeout), or Redis
// did not run it for a passing reason.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, goredis.ErrClosed) {
		return false
	}
	if !mayHaveRun(err) {
		for _, p := range notRun {
			if goredis.HasErrorPrefix(err, p) {
				return true
			}
		}
		return false
	}
	return true
}

// mayHaveRun reports whether a copy that failed with err may still have run:
// anything but an error reply from Redis (which ran the command to that
// reply, or did not run it).
func mayHaveRun(err error) bool {
	var re goredis.Error
	return !errors.As(err, &re)
}

// clientRetries returns how many times go-redis would send a command again
// on c (its MaxRetries); 3, go-redis's default, for clients that do not say.
func clientRetries(c goredis.UniversalClient) int {
	switch c := c.(type) {
	case *goredis.Client:
		return c.Options().MaxRetries
	case *goredis.ClusterClient:
		return c.Options().MaxRetries
	case *goredis.Ring:
		return c.Options().MaxRetries
	}
	return 3
}
