package rs

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// A flood of tokens naming made-up kids refetches the JWKS at most once
// per JWKSRefreshInterval, however many arrive at once.
func TestUnknownKidRefetchIsBounded(t *testing.T) {
	iss := newTestIssuer(t)
	g := iss.guard()
	wantStatus(t, g, bearer(iss.token()), "", 200, "")
	if n := iss.jwksHits.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches for the first token, want 1", n)
	}
	flood := func() {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 25 {
					raw := iss.mint(tokenSpec{header: map[string]any{"kid": randomID()}})
					if _, err := g.Verify(t.Context(), raw); err == nil {
						t.Error("a token with a made-up kid verified")
					}
				}
			})
		}
		wg.Wait()
	}
	flood()
	if n := iss.jwksHits.Load(); n != 1 {
		t.Errorf("RFC9068_4/unknown_kid_within_the_interval: %d JWKS fetches, want 1", n)
	}
	iss.clock.Add(DefaultJWKSRefreshInterval)
	flood()
	if n := iss.jwksHits.Load(); n != 2 {
		t.Errorf("RFC9068_4/unknown_kid_after_the_interval: %d JWKS fetches, want 2", n)
	}
}

// A key published after the last fetch is found by the refetch its kid
// causes, once the interval has passed.
func TestRotatedKeyIsFetched(t *testing.T) {
	iss := newTestIssuer(t)
	g := iss.guard()
	wantStatus(t, g, bearer(iss.token()), "", 200, "")
	next := iss.addKey(jose.EdDSA)
	raw := iss.mint(tokenSpec{key: next})
	wantStatus(t, g, bearer(raw), raw, 401, ErrorInvalidToken) // too soon after the last fetch
	iss.clock.Add(DefaultJWKSRefreshInterval)
	wantStatus(t, g, bearer(raw), raw, 200, "")
	if n := iss.jwksHits.Load(); n != 2 {
		t.Errorf("%d JWKS fetches, want 2", n)
	}
}

// SECURITY.md K3: a key withdrawn from the JWKS stops verifying tokens,
// cached ones too, once the set is older than jwksMaxAge.
func TestWithdrawnKeyStopsCachedTokens(t *testing.T) {
	iss := newTestIssuer(t)
	g := iss.guard()
	raw := iss.mint(tokenSpec{claims: map[string]any{"exp": iss.clock.Now().Add(time.Hour).Unix()}})
	wantStatus(t, g, bearer(raw), raw, 200, "")
	iss.setPublished(iss.key(0), false)
	iss.clock.Add(jwksMaxAge - time.Second)
	wantStatus(t, g, bearer(raw), raw, 200, "") // the set is still fresh
	iss.clock.Add(time.Second)
	wantStatus(t, g, bearer(raw), raw, 401, ErrorInvalidToken)
	if n := iss.jwksHits.Load(); n != 2 {
		t.Errorf("%d JWKS fetches, want 2", n)
	}
}

// A JWKS that cannot be fetched is the server's problem (503), not the
// token's; the failure is retried with backoff, not on every request.
func TestJWKSUnavailable(t *testing.T) {
	iss := newTestIssuer(t)
	iss.set(func(iss *testIssuer) { iss.jwksStatus = http.StatusInternalServerError })
	g := iss.guard()
	raw := iss.token()
	for range 10 {
		w := wantStatus(t, g, bearer(raw), raw, 503, "-")
		if b := w.Body.String(); b != `{"error":"temporarily_unavailable","error_description":"the authorization server's keys could not be fetched"}` {
			t.Errorf("body %s", b)
		}
	}
	if n := iss.jwksHits.Load(); n != 1 {
		t.Errorf("%d JWKS fetches for 10 requests within the backoff, want 1", n)
	}
	iss.set(func(iss *testIssuer) { iss.jwksStatus = 0 })
	iss.clock.Add(minBackoff)
	wantStatus(t, g, bearer(raw), raw, 200, "")
}

// Keys this package cannot use are skipped, not fatal to the set.
func TestJWKSSkipsUnusableKeys(t *testing.T) {
	iss := newTestIssuer(t)
	iss.set(func(iss *testIssuer) {
		iss.extraJWKS = []json.RawMessage{
			json.RawMessage(`{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}`),
			json.RawMessage(`{"kty":"EC","kid":"bad","crv":"P-256","x":"AA","y":"AA"}`),
			json.RawMessage(`{"kty":"OKP","crv":"X448","kid":"x448","x":"AA"}`),
			json.RawMessage(`"not a key"`),
		}
	})
	g := iss.guard()
	wantStatus(t, g, bearer(iss.token()), "", 200, "")
	ks := g.keys.Load()
	if len(ks.byKID) != 1 {
		t.Errorf("keys %v, want only %s", ks.byKID, iss.key(0).kid)
	}
}

// A key published with use "enc" does not verify signatures (RFC 7517 §4.2).
func TestEncryptionKeyIsNotUsed(t *testing.T) {
	iss := newTestIssuer(t)
	k := iss.key(0)
	b, _ := jose.JSONWebKey{Key: k.priv.Public(), KeyID: "enc", Use: "enc"}.MarshalJSON()
	iss.set(func(iss *testIssuer) { iss.extraJWKS = []json.RawMessage{b} })
	raw := iss.mint(tokenSpec{header: map[string]any{"kid": "enc"}})
	wantStatus(t, iss.guard(), bearer(raw), raw, 401, ErrorInvalidToken)
}

// A token without kid is refused without a JWKS fetch: it names no key
// that a fetch could find (RFC 7515 §4.1.4).
func TestMissingKidFetchesNothing(t *testing.T) {
	iss := newTestIssuer(t)
	g := iss.guard()
	wantStatus(t, g, bearer(iss.token()), "", 200, "")
	iss.clock.Add(DefaultJWKSRefreshInterval)
	raw := iss.mint(tokenSpec{header: map[string]any{"kid": nil}})
	wantStatus(t, g, bearer(raw), raw, 401, ErrorInvalidToken)
	if n := iss.jwksHits.Load(); n != 1 {
		t.Errorf("%d JWKS fetches, want 1", n)
	}
}
