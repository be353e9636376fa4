package core

import "testing"

// TestPoolKeepsOnlySmallBuffers guards against a large pooled buffer handed
// to a new target: after one 3 MiB event, new targets each held 3 MiB for a
// 12-byte event.
func TestPoolKeepsOnlySmallBuffers(t *testing.T) {
	big := make([]byte, 0, 3<<20)
	putBuf(&big)
	for range 8 {
		bp := getBuf()
		if c := cap(*bp); c > maxPooled {
			t.Fatalf("getBuf handed out a %d-byte buffer; want at most %d", c, maxPooled)
		}
		defer putBuf(bp)
	}
	if maxPooled > 64<<10 {
		t.Fatalf("maxPooled is %d; want at most 64 KiB", maxPooled)
	}
}
