package core

import "testing"

// TestPoolNewQueuesGetSmallBuffers guards against a large pooled buffer
// handed to a new target: after one 3 MiB event, new targets each held 3 MiB
// for a 12-byte event.
func TestPoolNewQueuesGetSmallBuffers(t *testing.T) {
	for _, c := range []int{3 << 20, 1 << 20, 100 << 10} {
		big := make([]byte, 0, c)
		putBuf(&big)
	}
	for range 8 {
		bp := getBuf()
		if c := cap(*bp); c >= classSize[1] {
			t.Fatalf("getBuf handed out a %d-byte buffer; want less than %d", c, classSize[1])
		}
		defer putBuf(bp)
	}
}

// TestPoolGrow checks that a filling queue moves up one class at a time,
// keeping its bytes, and that a huge buffer is not kept.
func TestPoolGrow(t *testing.T) {
	bp := getBuf()
	*bp = append(*bp, make([]byte, cap(*bp))...)
	(*bp)[0] = 'x'
	nb := grow(bp, 1<<20)
	if cap(*nb) < classSize[1] || len(*nb) != classSize[0] || (*nb)[0] != 'x' {
		t.Fatalf("grow: got cap %d len %d; want the next class with the same bytes", cap(*nb), len(*nb))
	}
	if small := grow(getBuf(), 1<<20); cap(*small) >= classSize[1] {
		t.Fatalf("grow moved an empty buffer up")
	}
	huge := make([]byte, 0, maxPooled+1)
	putBuf(&huge)
	for range 4 {
		if c := cap(*getClass(len(classSize) - 1)); c > maxPooled {
			t.Fatalf("a %d-byte buffer was pooled", c)
		}
	}
}

// TestPoolGrowStopsAtLimit guards against a stalled stream's queue moving to
// a class far above its limit (a 64 KiB limit held 1 MiB buffers).
func TestPoolGrowStopsAtLimit(t *testing.T) {
	const limit = 64 << 10
	bp := getBuf()
	for range 64 {
		*bp = append(*bp, make([]byte, 1<<10)...)
		bp = grow(bp, limit)
	}
	if c := cap(*bp); c > 2*limit {
		t.Fatalf("a queue limited to %d bytes holds a %d-byte buffer", limit, c)
	}
}
