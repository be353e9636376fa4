package main

import (
	"math/bits"
	"sync/atomic"
)

// Latencies are kept in a log-linear histogram of microseconds: exact below
// 64 µs, then 32 buckets per power of two (at most about 3% wide), so that
// 40,000 subscribers times thousands of events cost a few KiB per process
// and histograms of several processes add up.

const (
	histSub     = 32 // buckets per power of two past histLinear
	histLinear  = 64 // values below this have a bucket each
	histBuckets = histLinear + 40*histSub
)

// bucketOf returns the bucket of v microseconds.
func bucketOf(v uint64) int {
	if v < histLinear {
		return int(v)
	}
	e := bits.Len64(v) - 6 // v>>e is in [32, 63]
	i := histLinear + (e-1)*histSub + int(v>>e) - histSub
	return min(i, histBuckets-1)
}

// bucketRange returns the smallest value of bucket i and the bucket's width.
func bucketRange(i int) (lo, width uint64) {
	if i < histLinear {
		return uint64(i), 1
	}
	e := (i-histLinear)/histSub + 1
	sub := uint64((i-histLinear)%histSub + histSub)
	return sub << e, 1 << e
}

// hist counts latencies; safe for concurrent use.
type hist struct{ b [histBuckets]atomic.Int64 }

// add records one latency in nanoseconds (negative ones, from clock steps,
// count as zero).
func (h *hist) add(ns int64) {
	h.b[bucketOf(uint64(max(ns, 0))/1000)].Add(1)
}

// snapshot returns the non-empty buckets.
func (h *hist) snapshot() map[int]int64 {
	m := map[int]int64{}
	for i := range h.b {
		if n := h.b[i].Load(); n > 0 {
			m[i] = n
		}
	}
	return m
}

// histCounts is a histogram in transit: bucket index to count.
type histCounts map[int]int64

// merge adds o to h.
func (h histCounts) merge(o map[int]int64) {
	for i, n := range o {
		h[i] += n
	}
}

// total returns the number of values.
func (h histCounts) total() int64 {
	var t int64
	for _, n := range h {
		t += n
	}
	return t
}

// quantile returns the q-quantile (0 < q <= 1) in milliseconds, the middle
// of the bucket that holds it, or 0 for an empty histogram.
func (h histCounts) quantile(q float64) float64 {
	t := h.total()
	if t == 0 {
		return 0
	}
	rank := int64(q*float64(t) + 0.5)
	rank = min(max(rank, 1), t)
	var seen int64
	for i := range histBuckets {
		seen += h[i]
		if seen >= rank {
			lo, w := bucketRange(i)
			return (float64(lo) + float64(w-1)/2) / 1000
		}
	}
	return 0
}

// maxMS returns the upper end of the highest non-empty bucket, in ms.
func (h histCounts) maxMS() float64 {
	top := -1
	for i, n := range h {
		if n > 0 && i > top {
			top = i
		}
	}
	if top < 0 {
		return 0
	}
	lo, w := bucketRange(top)
	return float64(lo+w-1) / 1000
}
