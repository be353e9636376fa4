package metricseries

import (
	"strings"
	"sync"
)

// Topics maps broker topics to their label values: through a mapping
// function, and capped at a number of distinct values, past which new
// values become one "other" value. Create it with [NewTopics]; it is safe
// for concurrent use.
type Topics struct {
	of    func(string) string
	max   int
	other string

	mu     sync.RWMutex
	labels map[string]string // topic -> label value, a bounded cache
	values map[string]bool   // the label values given out
}

// NewTopics returns topics mapped by of (nil keeps each topic itself) to at
// most maxValues distinct label values (no cap for maxValues <= 0), the
// rest to other.
func NewTopics(of func(topic string) string, maxValues int, other string) *Topics {
	return &Topics{of: of, max: maxValues, other: other, labels: map[string]string{}, values: map[string]bool{}}
}

// Label maps topic to its label value, within the cap. The topic may alias
// a caller's buffer: what is kept is a copy.
func (t *Topics) Label(topic string) string {
	t.mu.RLock()
	l, ok := t.labels[topic]
	t.mu.RUnlock()
	if ok {
		return l
	}
	l = strings.Clone(topic)
	if t.of != nil {
		l = t.of(l)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if known, ok := t.labels[topic]; ok {
		return known
	}
	if !t.values[l] {
		if t.max > 0 && len(t.values) >= t.max {
			l = t.other
		} else {
			t.values[l] = true
		}
	}
	if t.max <= 0 || len(t.labels) < 4*t.max { // the cache stays bounded
		t.labels[strings.Clone(topic)] = l
	}
	return l
}
