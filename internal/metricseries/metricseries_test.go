package metricseries

import (
	"sync"
	"testing"
)

// Topics are mapped, capped, and copied (a topic may alias a buffer its
// caller reuses); past the cap, known values still map to themselves.
func TestTopics(t *testing.T) {
	ts := NewTopics(func(s string) string { return s[:1] }, 2, "_other")
	buf := []byte("apple")
	if l := ts.Label(string(buf)); l != "a" {
		t.Fatalf("apple: %q", l)
	}
	copy(buf, "zzzzz")
	for _, c := range []struct{ topic, want string }{
		{"avocado", "a"}, {"banana", "b"}, {"cherry", "_other"}, {"apple", "a"}, {"zzzzz", "_other"}, {"blueberry", "b"},
	} {
		if l := ts.Label(c.topic); l != c.want {
			t.Errorf("%s: %q; want %q", c.topic, l, c.want)
		}
	}
	if l := NewTopics(nil, -1, "_other").Label("x"); l != "x" {
		t.Errorf("no mapping, no cap: %q", l)
	}
}

// Get makes each key's value once, however many ask at once.
func TestCache(t *testing.T) {
	var c Cache[string, *int]
	made := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c.Get("k", func() *int { made++; v := 7; return &v })
		})
	}
	wg.Wait()
	n := 0
	c.Range(func(v *int) { n += *v })
	if made != 1 || n != 7 {
		t.Fatalf("made %d times, values sum to %d; want once, 7", made, n)
	}
}
