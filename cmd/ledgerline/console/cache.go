package console

import (
	"sync"
	"time"
)

// lru is a small cache of things that never change once stored (a filing's
// report, a template version's layout) or may be a little stale (a template
// check, with ttl): the console's pages stay fast on filings whose report is
// megabytes of JSON, which would otherwise be parsed on every page.
type lru[V any] struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration // 0: for ever
	order []string
	items map[string]lruItem[V]
}

type lruItem[V any] struct {
	v  V
	at time.Time
}

func newLRU[V any](max int, ttl time.Duration) *lru[V] {
	return &lru[V]{max: max, ttl: ttl, items: map[string]lruItem[V]{}}
}

func (c *lru[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[key]
	if !ok || (c.ttl > 0 && time.Since(it.at) > c.ttl) {
		var zero V
		return zero, false
	}
	for i, k := range c.order { // move to the back: used last
		if k == key {
			c.order = append(append(c.order[:i:i], c.order[i+1:]...), key)
			break
		}
	}
	return it.v, true
}

func (c *lru[V]) put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; !ok {
		c.order = append(c.order, key)
	}
	c.items[key] = lruItem[V]{v: v, at: time.Now()}
	for len(c.order) > c.max {
		delete(c.items, c.order[0])
		c.order = c.order[1:]
	}
}

func (c *lru[V]) del(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; !ok {
		return
	}
	delete(c.items, key)
	for i, k := range c.order {
		if k == key {
			c.order = append(c.order[:i:i], c.order[i+1:]...)
			break
		}
	}
}

// caches are the console's caches.
type caches struct {
	reports *lru[filedReport]                  // filing id → its report, indexed (reports are immutable)
	layout  *lru[map[string]map[string]string] // template id/version → layout text (immutable)
	checks  *lru[templateCheckView]            // template id/version → its validation report, a minute
}

func newCaches() *caches {
	return &caches{reports: newLRU[filedReport](16, 0), layout: newLRU[map[string]map[string]string](32, 0),
		checks: newLRU[templateCheckView](64, time.Minute)}
}
