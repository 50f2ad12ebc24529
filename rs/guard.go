package rs

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey/dpop"
)

// maxTokenSize is the longest token looked at: anything longer is refused
// before it is hashed or split (SECURITY.md F6). Latchkey's are under
// 2 KiB.
const maxTokenSize = 16 << 10

// Guard checks access tokens for one API (one resource indicator). It is
// safe for concurrent use; make one per API and share it.
type Guard struct {
	cfg         Config
	metadataURL string
	metadataDoc []byte

	// dpop checks the proofs of DPoP-bound tokens (dpop.go).
	dpop *dpop.Verifier

	cache  *cache // nil when disabled
	flight flight

	meta     atomic.Pointer[asMetadata]
	metaGate gate
	keys     atomic.Pointer[keySet]
	keysGate gate
}

// New checks cfg and returns its Guard. It contacts nobody: the metadata
// and keys are fetched when the first token needs them (or by Prefetch),
// so the API may start before its authorization server.
func New(cfg Config) (*Guard, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	nonceKey := make([]byte, 32)
	if _, err := rand.Read(nonceKey); err != nil {
		return nil, fmt.Errorf("rs: %w", err)
	}
	return &Guard{
		dpop: &dpop.Verifier{Memory: dpop.NewMemoryReplay(memoryReplayMax), Started: cfg.Now(), Future: maxFuture, Now: cfg.Now,
			NonceKey: nonceKey, ProcessNonces: true},
		cfg:         cfg,
		metadataURL: protectedResourceMetadata(cfg.Resource),
		metadataDoc: cfg.resourceMetadata(),
		cache:       newCache(cfg.CacheSize),
	}, nil
}

// Prefetch fetches the issuer's metadata and, if it names one, its JWKS
// now, for an API that wants to fail at start (or in a readiness check)
// rather than on its first request.
func (g *Guard) Prefetch(ctx context.Context) error {
	m, err := g.metadata(ctx)
	if err != nil {
		return fmt.Errorf("rs: %w", err)
	}
	if m.JWKSURI == "" {
		return nil
	}
	if g.keys.Load() != nil {
		return nil
	}
	if err := g.refreshKeys(ctx, g.cfg.Now(), true); err != nil {
		return fmt.Errorf("rs: %w", err)
	}
	return nil
}

// Verify checks a raw access token and returns it. The error is an *Error:
// ErrorInvalidToken for a token that is not valid here (bad, expired,
// revoked, for another audience or issuer), ErrorInvalidRequest for one
// that is not even a b64token (RFC 6750 §2.1), ErrorUnavailable when the
// authorization server could not be asked, and Code "" for an empty token.
// Scopes are the caller's to check (Token.HasScope).
//
// A token bound to a key (DPoP, RFC 9449) is refused here, as there is no
// request to check its proof against: use VerifyRequest.
func (g *Guard) Verify(ctx context.Context, token string) (*Token, error) {
	tok, e := g.verify(ctx, token)
	if e != nil {
		return nil, e
	}
	if tok.DPoPKey() != "" {
		return nil, dpopError(ErrorInvalidToken, "the access token is bound to a key: its request must carry a proof")
	}
	return tok, nil
}

// VerifyRequest reads the request's access token (Authorization: Bearer,
// or DPoP with a DPoP proof of the token's key, RFC 9449 §7; or the form
// body when allowed), verifies it as Verify does, and checks its proof
// when it is bound to a key. Require does this for every request.
func (g *Guard) VerifyRequest(r *http.Request) (*Token, error) {
	tok, e := g.verifyRequest(r)
	if e != nil {
		return nil, e
	}
	return tok, nil
}

func (g *Guard) verify(ctx context.Context, raw string) (*Token, *Error) {
	if raw == "" {
		return nil, noToken()
	}
	if len(raw) > maxTokenSize {
		return nil, invalidToken("the access token is too large")
	}
	now := g.cfg.Now()
	k := keyOf(raw)
	if e, ok := g.cache.get(k, now); ok {
		if e.tok == nil {
			return nil, invalidToken("the access token is not active")
		}
		if e.kid == "" || g.published(ctx, e.kid, now) {
			return e.tok, nil
		}
		g.cache.delete(k) // its key was withdrawn: verify it again
	}
	return g.flight.do(ctx, k, func() (*Token, *Error) { return g.verifyUncached(ctx, k, raw, now) })
}

// verifyUncached verifies a JWT locally (confirming it at introspection
// with CheckRevocation) and introspects anything else, caching the result.
func (g *Guard) verifyUncached(ctx context.Context, k cacheKey, raw string, now time.Time) (*Token, *Error) {
	if !isB64Token(raw) {
		return nil, invalidRequest("the access token is not a b64token")
	}
	if strings.Count(raw, ".") != 2 {
		if g.cfg.ClientID == "" {
			return nil, invalidToken("the access token is not a JWT, and this API cannot introspect tokens")
		}
		tok, until, e := g.introspect(ctx, k, raw, now)
		if e != nil {
			return nil, e
		}
		g.cache.put(k, entry{tok: tok, until: until}, now)
		return tok, nil
	}
	tok, kid, e := g.verifyJWT(ctx, raw, now)
	if e != nil {
		return nil, e
	}
	until := tok.Expiry
	if g.cfg.CheckRevocation {
		active, iuntil, e := g.introspect(ctx, k, raw, now)
		if e != nil {
			return nil, e
		}
		until = minTime(until, iuntil)
		tok.Username = active.Username
	}
	g.cache.put(k, entry{tok: tok, until: until, kid: kid}, now)
	return tok, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// Forget drops token from the cache, for an API that learned it was
// revoked: its next use is verified (or introspected) again.
func (g *Guard) Forget(token string) {
	g.cache.delete(keyOf(token))
}

// Require returns middleware that lets a request through only with a valid
// access token holding every one of scopes, and puts the Token in its
// context (FromContext). Otherwise it answers as WriteError does: 401
// without or with an invalid token (its challenge naming scopes), 403
// insufficient_scope naming scopes
// (RFC 6750 §3.1), 400 for a malformed request. It panics if a scope is
// not a valid scope-token (RFC 6749 §3.3), as a route pattern would.
func (g *Guard) Require(scopes ...string) func(http.Handler) http.Handler {
	for _, s := range scopes {
		if !validScope(s) {
			panic(fmt.Sprintf("rs: Require(%q): not a scope-token (RFC 6749 §3.3)", s))
		}
	}
	need := joinScopes(scopes)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, e := g.verifyRequest(r)
			if e != nil {
				if e.Status == http.StatusUnauthorized && e.Scope == "" {
					// The scope a token needs here (RFC 6750 §3), so a client
					// with none asks for the right one (MCP 2025-11-25,
					// "Scope Selection Strategy").
					with := *e
					with.Scope = need
					e = &with
				}
				g.WriteError(w, e)
				return
			}
			for _, s := range scopes {
				if !tok.HasScope(s) {
					g.WriteError(w, insufficientScope(need))
					return
				}
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), tok)))
		})
	}
}
