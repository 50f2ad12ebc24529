package oauth

import (
	"sync"
	"time"
)

// Throttle counts failed attempts per key in fixed windows, to slow online
// password guessing (RFC 6749 §4.3.2: "the authorization server MUST
// protect the endpoint against brute force attacks"). An attempt is counted
// before the password is hashed, so parallel guesses cannot slip past the
// limit; a success forgets the key's failures.
//
// Counters live in this process's memory (SECURITY.md c.0 allows losing
// rate-limit windows on restart); the map is bounded, and when full the
// oldest windows are dropped first.
type Throttle struct {
	mu      sync.Mutex
	limit   int
	window  time.Duration
	max     int
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	start time.Time
	count int
}

// NewThrottle allows limit attempts per key per window, tracking at most
// max keys.
func NewThrottle(limit int, window time.Duration, max int) *Throttle {
	return &Throttle{limit: limit, window: window, max: max, entries: make(map[string]*throttleEntry)}
}

// Reserve counts one attempt for key at now. It reports false, with how
// long to wait, when the key has used up its window.
func (t *Throttle) Reserve(key string, now time.Time) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[key]
	if !ok || now.Sub(e.start) >= t.window {
		if !ok && len(t.entries) >= t.max {
			t.evict(now)
		}
		e = &throttleEntry{start: now}
		t.entries[key] = e
	}
	if e.count >= t.limit {
		return false, e.start.Add(t.window).Sub(now)
	}
	e.count++
	return true, 0
}

// Exceeded reports, without counting, whether key has used up its window,
// and how long to wait.
func (t *Throttle) Exceeded(key string, now time.Time) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[key]
	if !ok || now.Sub(e.start) >= t.window || e.count < t.limit {
		return false, 0
	}
	return true, e.start.Add(t.window).Sub(now)
}

// Forget clears the key's failures after a success.
func (t *Throttle) Forget(key string) {
	t.mu.Lock()
	delete(t.entries, key)
	t.mu.Unlock()
}

// evict drops expired windows, or if none has expired, the oldest one.
func (t *Throttle) evict(now time.Time) {
	oldestKey, oldest := "", now
	for k, e := range t.entries {
		if now.Sub(e.start) >= t.window {
			delete(t.entries, k)
		} else if !e.start.After(oldest) {
			oldestKey, oldest = k, e.start
		}
	}
	if len(t.entries) >= t.max {
		delete(t.entries, oldestKey)
	}
}
