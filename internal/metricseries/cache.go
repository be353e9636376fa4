package metricseries

import "sync"

// Cache is a map filled on demand, such as an exporter's series bound once
// per route or topic. The zero value is empty and ready; it is safe for
// concurrent use.
type Cache[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

// Get returns the value of key, making it with mk (under the write lock,
// so once per key) on a miss.
func (c *Cache[K, V]) Get(key K, mk func() V) V {
	c.mu.RLock()
	v, ok := c.m[key]
	c.mu.RUnlock()
	if ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[key]; ok {
		return v
	}
	if c.m == nil {
		c.m = map[K]V{}
	}
	v = mk()
	c.m[key] = v
	return v
}

// Range calls f on every value, under the read lock: f must not call Get.
func (c *Cache[K, V]) Range(f func(V)) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, v := range c.m {
		f(v)
	}
}
