package promsse

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Topic labels are mapped, capped, and copied (a topic may alias a buffer
// its caller reuses).
func TestTopicLabels(t *testing.T) {
	t.Parallel()
	m := New(Options{MaxTopics: 2, Topic: func(s string) string { return s[:1] }})
	buf := []byte("apple")
	m.Subscribed(string(buf), 1) // a string aliasing buf, as Fiber's are
	copy(buf, "zzzzz")
	m.Subscribed("avocado", 2)
	m.Subscribed("banana", 1)
	m.Subscribed("cherry", 1) // a third distinct topic: past the cap
	for label, want := range map[string]float64{"a": 2, "b": 1, OtherTopic: 1} {
		if got := testutil.ToFloat64(m.subscribers.WithLabelValues(label)); got != want {
			t.Errorf("subscribers{topic=%q}: got %v; want %v", label, got, want)
		}
	}
	if n := testutil.CollectAndCount(m.subscribers); n != 3 {
		t.Fatalf("got %d series; want 3", n)
	}
}
