package rs

import (
	"crypto/sha256"
	"sync"
	"time"
)

// cacheKey is how the cache names a token: its SHA-256, so that a heap dump
// of the API holds no usable token.
type cacheKey [sha256.Size]byte

func keyOf(raw string) cacheKey { return sha256.Sum256([]byte(raw)) }

// entry is a cached verdict: a verified token, or (tok nil) an inactive
// introspection answer.
type entry struct {
	tok   *Token
	until time.Time // served while now is before it
	kid   string    // a JWT's signing key, which must still be in the JWKS
}

// cache is the bounded verified-token cache. When full, an insert evicts
// an expired entry among a few it samples, or else one of them: no
// clear-all that would make every live token miss at once, and no order to
// maintain on the hit path.
type cache struct {
	max int
	mu  sync.RWMutex
	m   map[cacheKey]entry
}

// sampled is how many entries an insert into a full cache looks at.
const sampled = 8

func newCache(max int) *cache {
	if max <= 0 {
		return nil // disabled: every method of a nil cache does nothing
	}
	return &cache{max: max, m: make(map[cacheKey]entry, min(max, 1024))}
}

func (c *cache) get(k cacheKey, now time.Time) (entry, bool) {
	if c == nil {
		return entry{}, false
	}
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return entry{}, false
	}
	return e, true
}

func (c *cache) put(k cacheKey, e entry, now time.Time) {
	if c == nil || !now.Before(e.until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		c.evictLocked(now)
	}
	c.m[k] = e
}

func (c *cache) evictLocked(now time.Time) {
	var victim cacheKey
	n := 0
	for k, e := range c.m { // map order is randomized: a random sample
		if !now.Before(e.until) {
			delete(c.m, k)
			return
		}
		if n == 0 {
			victim = k
		}
		if n++; n == sampled {
			break
		}
	}
	delete(c.m, victim)
}

func (c *cache) delete(k cacheKey) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

func (c *cache) len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
