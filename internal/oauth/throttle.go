package oauth

import (
	"context"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Throttle counts failed attempts per key in fixed windows, to slow online
// guessing (RFC 6749 §4.3.2: "the authorization server MUST protect the
// endpoint against brute force attacks"; §2.3.1 for client secrets). An
// attempt reserves a failure before the slow check runs, so parallel
// guesses cannot slip past the limit; a success gives the reservation back
// (Release) or clears the key (Forget), so only failures count.
//
// With a delay set, failures beyond the first few also space the attempts
// out: after delayAfter failures, the next attempt must wait delay, then
// twice that, and so on, until the limit locks the key for the rest of its
// window.
//
// Counters live in this process's memory (SECURITY.md c.0 allows losing
// rate-limit windows on restart); the map is bounded, and when full the
// oldest windows are dropped first. Where several nodes share a database,
// Sync adds this node's counts to the shared counters and learns the
// others', in one batch per throttle (Provider.SyncThrottles, every
// second), so no request waits on the database for a counter.
type Throttle struct {
	mu         sync.Mutex
	name       string // the scope of its shared counters
	lastSync   time.Time
	limit      int
	window     time.Duration
	max        int
	delayAfter int
	delay      time.Duration
	entries    map[string]*throttleEntry
}

type throttleEntry struct {
	start time.Time // of the window
	last  time.Time // of the latest reservation
	count int       // failures known: this node's and, once synced, the others'
	local int       // counted here since the last sync (negative: released)
}

// NewThrottle allows limit failures per key per window, tracking at most
// max keys; name is the scope of its shared counters.
func NewThrottle(name string, limit int, window time.Duration, max int) *Throttle {
	return &Throttle{name: name, limit: limit, window: window, max: max, entries: make(map[string]*throttleEntry)}
}

// WithDelay makes the key wait delay after its after-th failure, doubling
// with each further failure.
func (t *Throttle) WithDelay(after int, delay time.Duration) *Throttle {
	t.delayAfter, t.delay = after, delay
	return t
}

// Reserve counts one failure for key at now, to be given back with
// Release if the attempt succeeds. It reports false, with how long to
// wait, when the key has used up its window or must still wait.
func (t *Throttle) Reserve(key string, now time.Time) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entry(key, now)
	if wait := t.wait(e, now); wait > 0 {
		return false, wait
	}
	e.count++
	e.local++
	e.last = now
	return true, 0
}

// entry returns key's entry in a window open at now, starting one if
// needed (t.mu held).
func (t *Throttle) entry(key string, now time.Time) *throttleEntry {
	e, ok := t.entries[key]
	if ok && now.Sub(e.start) < t.window {
		return e
	}
	if !ok && len(t.entries) >= t.max {
		t.evict(now)
	}
	e = &throttleEntry{start: now}
	t.entries[key] = e
	return e
}

// Exceeded reports, without counting, whether key must wait, and how long.
func (t *Throttle) Exceeded(key string, now time.Time) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[key]
	if !ok || now.Sub(e.start) >= t.window {
		return false, 0
	}
	wait := t.wait(e, now)
	return wait > 0, wait
}

// Failures returns the failures counted for key in its current window.
func (t *Throttle) Failures(key string, now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.entries[key]; ok && now.Sub(e.start) < t.window {
		return e.count
	}
	return 0
}

// wait is how long e must wait at now: to the window's end once at the
// limit, else the growing delay since its latest failure.
func (t *Throttle) wait(e *throttleEntry, now time.Time) time.Duration {
	if e.count >= t.limit {
		return e.start.Add(t.window).Sub(now)
	}
	if t.delay > 0 && e.count >= t.delayAfter {
		if d := e.last.Add(t.delay << (e.count - t.delayAfter)).Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// Release gives back one reservation of key: the attempt succeeded, or
// was not judged (the server was busy).
func (t *Throttle) Release(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.entries[key]; ok && e.count > 0 {
		e.count--
		e.local--
		t.dropIfEmpty(key, e)
	}
}

// Forget clears the key's failures after a success (everywhere, once
// synced).
func (t *Throttle) Forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.entries[key]; ok {
		e.local -= e.count
		e.count = 0
		t.dropIfEmpty(key, e)
	}
}

// dropIfEmpty deletes an entry with no failure and nothing left to sync,
// so that successes leave no entry behind (t.mu held): a full table makes
// every new key scan it for eviction.
func (t *Throttle) dropIfEmpty(key string, e *throttleEntry) {
	if e.count <= 0 && e.local == 0 {
		delete(t.entries, key)
	}
}

// syncOverlap re-reads counters updated this long before the last sync,
// for nodes whose clocks differ a little.
const syncOverlap = 5 * time.Second

// syncLimit bounds the counters learned per sync.
const syncLimit = 10_000

// Sync sends the failures counted here since the last sync to the shared
// counters and takes in every counter another node changed since. On an
// error the counts stay to be sent next time.
func (t *Throttle) Sync(ctx context.Context, cs store.CounterStore, now time.Time) error {
	t.mu.Lock()
	deltas := make(map[string]int)
	for k, e := range t.entries {
		if e.local != 0 {
			deltas[k] = e.local
			e.local = 0
		}
	}
	since := t.lastSync.Add(-syncOverlap)
	t.mu.Unlock()

	counters, err := cs.SyncCounters(ctx, t.name, t.window, deltas, since, now, syncLimit)

	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		for k, d := range deltas {
			if e, ok := t.entries[k]; ok {
				e.local += d
			}
		}
		return err
	}
	for _, c := range counters {
		e := t.entry(c.Key, c.Start)
		e.start, e.count = c.Start, c.Count+e.local
	}
	for k, e := range t.entries {
		if e.local == 0 && (e.count <= 0 || now.Sub(e.start) >= t.window) {
			delete(t.entries, k)
		}
	}
	t.lastSync = now
	return nil
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

// spread counts an account's failures from all addresses, and how many
// addresses they came from, so that an account is locked for everyone only
// by a distributed attack: failures from one address lock that address
// out (Throttle), never the real user elsewhere.
type spread struct {
	mu        sync.Mutex
	failures  int // in a window, to lock
	addresses int // distinct, to lock
	window    time.Duration
	max       int
	entries   map[string]*spreadEntry
}

type spreadEntry struct {
	start     time.Time
	failures  int
	addresses map[string]struct{} // at most the addresses limit
}

func newSpread(failures, addresses int, window time.Duration, max int) *spread {
	return &spread{failures: failures, addresses: addresses, window: window, max: max, entries: make(map[string]*spreadEntry)}
}

// Fail records a failure for account from address.
func (s *spread) Fail(account, address string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[account]
	if !ok || now.Sub(e.start) >= s.window {
		if !ok && len(s.entries) >= s.max {
			for k, old := range s.entries {
				if now.Sub(old.start) >= s.window || len(s.entries) >= s.max {
					delete(s.entries, k)
				}
			}
		}
		e = &spreadEntry{start: now, addresses: make(map[string]struct{})}
		s.entries[account] = e
	}
	e.failures++
	if len(e.addresses) < s.addresses {
		e.addresses[address] = struct{}{}
	}
}

// Locked reports whether account is locked for everyone, and how long.
func (s *spread) Locked(account string, now time.Time) (bool, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[account]
	if !ok || now.Sub(e.start) >= s.window || e.failures < s.failures || len(e.addresses) < s.addresses {
		return false, 0
	}
	return true, e.start.Add(s.window).Sub(now)
}
