package oauth

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/token"
)

// Verified JWTs are remembered briefly: a resource server tends to
// introspect the same token on every request it serves, and the signature
// check costs most of an introspection. Revocation is still looked up every
// time; only the signature result is reused. A cached result lives at most
// verifiedTTL (as long as /jwks.json may be cached, so removing a key takes
// effect here no later than at any verifier) and never past the token's exp.
const (
	verifiedTTL = time.Minute
	verifiedMax = 10_000
)

type verifiedCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]verifiedEntry
}

type verifiedEntry struct {
	claims token.AccessClaims
	until  time.Time
}

func newVerifiedCache() *verifiedCache {
	return &verifiedCache{m: make(map[[sha256.Size]byte]verifiedEntry)}
}

// verifyAccessToken checks a JWT access token's signature and type, from
// the cache when this exact token verified within verifiedTTL.
func (p *Provider) verifyAccessToken(raw string) (token.AccessClaims, bool) {
	key := sha256.Sum256([]byte(raw))
	now := p.Now()
	c := p.verified
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.claims, true
	}
	var claims token.AccessClaims
	if p.JWT.Verify(raw, token.TypeAccessToken, &claims) != nil {
		return claims, false
	}
	until := now.Add(verifiedTTL)
	if exp := time.Unix(claims.Expiry, 0); exp.Before(until) {
		until = exp
	}
	c.mu.Lock()
	if len(c.m) >= verifiedMax {
		clear(c.m)
	}
	c.m[key] = verifiedEntry{claims: claims, until: until}
	c.mu.Unlock()
	return claims, true
}
