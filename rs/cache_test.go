package rs

import (
	"bytes"
	"crypto/sha256"
	"testing"
	"time"
)

// The cache names tokens by their SHA-256 and never holds a raw token.
func TestCacheHoldsHashesNotTokens(t *testing.T) {
	iss := newTestIssuer(t)
	g := iss.guard()
	raw := iss.token()
	opaque := "lk_at_" + randomID()
	iss.answer(opaque, iss.activeAnswer())
	for _, tok := range []string{raw, opaque} {
		wantStatus(t, g, bearer(tok), tok, 200, "")
	}
	if n := g.cache.len(); n != 2 {
		t.Fatalf("%d entries, want 2", n)
	}
	for k := range g.cache.m {
		if k != sha256.Sum256([]byte(raw)) && k != sha256.Sum256([]byte(opaque)) {
			t.Errorf("key %x is not the SHA-256 of a token", k)
		}
		if bytes.Contains(k[:], []byte(opaque[:8])) {
			t.Errorf("key %x holds the token", k)
		}
	}
}

func TestCacheIsBounded(t *testing.T) {
	iss := newTestIssuer(t)
	g := iss.guard(func(c *Config) { c.CacheSize = 5 })
	for range 40 {
		wantStatus(t, g, bearer(iss.token()), "", 200, "")
	}
	if n := g.cache.len(); n != 5 {
		t.Errorf("%d entries, want 5", n)
	}
}

// A cached JWT is not served past its exp, even where the leeway would
// still accept it: verification decides then.
func TestCacheNotPastExp(t *testing.T) {
	iss := newTestIssuer(t)
	g := iss.guard(func(c *Config) { c.Leeway = -1 })
	raw := iss.mint(tokenSpec{claims: map[string]any{"exp": iss.clock.Now().Add(5 * time.Second).Unix()}})
	wantStatus(t, g, bearer(raw), raw, 200, "")
	iss.clock.Add(5 * time.Second)
	wantStatus(t, g, bearer(raw), raw, 401, ErrorInvalidToken)
}

// A reused token is served from the cache: a withdrawn answer is not seen
// until Forget drops it.
func TestForget(t *testing.T) {
	iss := newTestIssuer(t)
	g := iss.guard()
	raw := "lk_at_" + randomID()
	iss.answer(raw, iss.activeAnswer())
	wantStatus(t, g, bearer(raw), raw, 200, "")
	iss.answer(raw, map[string]any{"active": false})
	wantStatus(t, g, bearer(raw), raw, 200, "")
	g.Forget(raw)
	wantStatus(t, g, bearer(raw), raw, 401, ErrorInvalidToken)
	if n := iss.introHits.Load(); n != 2 {
		t.Errorf("%d introspection calls, want 2", n)
	}
}

// A negative CacheSize disables the cache: every use is checked again.
func TestCacheDisabled(t *testing.T) {
	iss := newTestIssuer(t)
	g := iss.guard(func(c *Config) { c.CacheSize = -1 })
	raw := "lk_at_" + randomID()
	iss.answer(raw, iss.activeAnswer())
	for range 3 {
		wantStatus(t, g, bearer(raw), raw, 200, "")
	}
	if n := iss.introHits.Load(); n != 3 {
		t.Errorf("%d introspection calls, want 3", n)
	}
	g.Forget(raw) // a nil cache is fine
}

// A full cache evicts an expired entry before a live one.
func TestCacheEvictsExpiredFirst(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newCache(3)
	for i, until := range []time.Duration{time.Hour, time.Second, time.Hour} {
		c.put(keyOf(string(rune('a'+i))), entry{tok: &Token{}, until: now.Add(until)}, now)
	}
	later := now.Add(2 * time.Second)
	c.put(keyOf("d"), entry{tok: &Token{}, until: later.Add(time.Hour)}, later)
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := c.get(keyOf(k), later); !ok {
			t.Errorf("%s was evicted", k)
		}
	}
	if c.len() != 3 {
		t.Errorf("%d entries", c.len())
	}
	c.put(keyOf("e"), entry{until: now}, now) // already over: not stored
	if c.len() != 3 {
		t.Errorf("an entry past its time was stored")
	}
}
