package rs

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// jwksMaxAge is how long a JWKS is used before it is fetched again, so
// that a key the authorization server withdrew (a leaked key, SECURITY.md
// K3) stops verifying tokens, cached ones included, within this time.
const jwksMaxAge = 5 * time.Minute

// keySet is one fetched JWKS: its signature keys by kid.
type keySet struct {
	byKID   map[string][]jose.JSONWebKey
	fetched time.Time
}

// find returns kid's key that fits alg.
func (ks *keySet) find(kid, alg string) (any, bool) {
	for _, k := range ks.byKID[kid] {
		// RFC 7517 §4.4: a key's "alg" names the one algorithm it is for.
		if (k.Algorithm == "" || k.Algorithm == alg) && fits(alg, k.Key) {
			return k.Key, true
		}
	}
	return nil, false
}

// fits reports whether key is of the type and size alg needs (RFC 7518
// §3.1, RFC 8037 §3.1): a token cannot pick an algorithm its key was not
// made for.
func fits(alg string, key any) bool {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			// RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used".
			return k.N.BitLen() >= 2048
		}
	}
	return false
}

// signingKey returns the issuer's key named kid for alg, fetching the JWKS
// the first time, when kid is unknown (at most once per
// JWKSRefreshInterval), and when the set is older than jwksMaxAge.
func (g *Guard) signingKey(ctx context.Context, kid, alg string, now time.Time) (any, *Error) {
	if ks := g.keys.Load(); ks != nil {
		if k, ok := ks.find(kid, alg); ok {
			if now.Sub(ks.fetched) >= jwksMaxAge {
				g.refreshKeys(ctx, now, false)
			}
			return k, nil
		}
	}
	err := g.refreshKeys(ctx, now, true)
	ks := g.keys.Load()
	if ks == nil {
		return nil, unavailable("the authorization server's keys could not be fetched", err)
	}
	if k, ok := ks.find(kid, alg); ok {
		return k, nil
	}
	if len(ks.byKID[kid]) > 0 {
		return nil, invalidToken("the access token's alg does not fit its key")
	}
	return nil, invalidToken("the access token's signing key is unknown")
}

// published reports whether kid is still in the JWKS, refreshing a set
// older than jwksMaxAge without making this request wait for another's
// fetch. A cached JWT whose key was withdrawn is verified again.
func (g *Guard) published(ctx context.Context, kid string, now time.Time) bool {
	ks := g.keys.Load()
	if ks == nil {
		return false
	}
	if now.Sub(ks.fetched) >= jwksMaxAge {
		g.refreshKeys(ctx, now, false)
		ks = g.keys.Load()
	}
	return len(ks.byKID[kid]) > 0
}

// refreshKeys fetches the JWKS through keysGate.
func (g *Guard) refreshKeys(ctx context.Context, now time.Time, wait bool) error {
	m, err := g.metadata(ctx)
	if err != nil {
		return err
	}
	if m.JWKSURI == "" {
		return errors.New("the issuer's metadata has no jwks_uri")
	}
	return g.keysGate.run(ctx, now, g.cfg.JWKSRefreshInterval, wait, func() error {
		ks, err := g.fetchKeys(ctx, m.JWKSURI, now)
		if err == nil {
			g.keys.Store(ks)
		}
		return err
	})
}

// fetchKeys reads a JWKS (RFC 7517 §5), keeping the public signature keys
// that have a kid. A key this package cannot use (another kty, a symmetric
// key, use "enc") is skipped, not an error: the set may serve others too.
func (g *Guard) fetchKeys(ctx context.Context, uri string, now time.Time) (*keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := g.getJSON(ctx, uri, &doc); err != nil {
		return nil, err
	}
	if doc.Keys == nil {
		return nil, errors.New("the JWKS has no keys member")
	}
	ks := &keySet{byKID: map[string][]jose.JSONWebKey{}, fetched: now}
	for _, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil || k.KeyID == "" || k.Use != "" && k.Use != "sig" {
			continue
		}
		switch k.Key.(type) {
		case *ecdsa.PrivateKey, ed25519.PrivateKey, *rsa.PrivateKey:
			k = k.Public() // a private key published by mistake: use only its public half
		}
		switch k.Key.(type) {
		case *ecdsa.PublicKey, ed25519.PublicKey, *rsa.PublicKey:
			ks.byKID[k.KeyID] = append(ks.byKID[k.KeyID], k)
		}
	}
	return ks, nil
}
