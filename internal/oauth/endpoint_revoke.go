package oauth

import (
	"context"
	"errors"
	"github.com/latchkey/latchkey/internal/audit"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// HandleRevoke is the revocation endpoint (RFC 7009). The client
// authenticates; the token is found by its own form (prefix or JWT), so
// token_type_hint is accepted but not needed. Unknown tokens and tokens of
// other clients answer 200 and change nothing (no oracle, SECURITY.md T17).
// A store failure answers 503 (§2.2.1), never 200.
func (p *Provider) HandleRevoke(w http.ResponseWriter, r *http.Request) {
	client, q, e := p.backChannel(w, r, false)
	if e == nil {
		if q["token"] == "" {
			e = InvalidRequest("token is missing")
		} else {
			e = p.revoke(r.Context(), client, q["token"])
		}
	}
	if e != nil {
		WriteError(w, e)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// backChannel runs the steps every client-authenticated endpoint shares:
// POST, a url-encoded body without repeats, and client authentication.
// confidential refuses public clients.
func (p *Provider) backChannel(w http.ResponseWriter, r *http.Request, confidential bool) (store.Client, params, *Error) {
	varyByOrigin(w, r)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return store.Client{}, nil, &Error{Code: "invalid_request", Status: http.StatusMethodNotAllowed, Description: "use POST"}
	}
	q, dup, e := readFormBody(w, r)
	if e != nil {
		return store.Client{}, nil, e
	}
	if dup != "" {
		return store.Client{}, nil, duplicated(dup)
	}
	cred, e := readClientCredentials(r, q)
	if e != nil {
		return store.Client{}, nil, e
	}
	cred.endpoint, cred.address = p.Issuer+r.URL.Path, clientip.Of(r)
	if confidential && cred.method == AuthNone {
		return store.Client{}, nil, InvalidClient("client authentication is required")
	}
	client, e := p.authenticateClient(r.Context(), cred)
	if e == nil {
		allowOrigin(w, r, client)
	}
	return client, q, e
}

func (p *Provider) revoke(ctx context.Context, client store.Client, raw string) *Error {
	now := p.Now()
	switch {
	case secret.HasPrefix(raw, secret.PrefixRefreshToken), secret.HasPrefix(raw, secret.PrefixAccessToken):
		t, err := p.Store.GetToken(ctx, secret.Hash(raw))
		if errors.Is(err, store.ErrNotFound) || err == nil && t.ClientID != client.ID {
			return nil
		}
		if err != nil {
			return p.storeError(ctx, "get token", err)
		}
		// RFC 7009 §2.1: revoking a refresh token SHOULD also invalidate the
		// access tokens of the same grant: here, its whole family.
		if t.Kind == store.KindRefresh && t.FamilyID != "" {
			_, err = p.Store.RevokeFamily(ctx, t.FamilyID, now)
		} else {
			err = p.Store.RevokeToken(ctx, t.Hash, now)
		}
		if err != nil {
			return p.storeError(ctx, "revoke", err)
		}
		p.Logger.InfoContext(ctx, "token revoked", "client_id", client.ID, "kind", t.Kind)
		p.Metrics.Revoked("endpoint")
		p.Activity.Record(ctx, store.Activity{UserID: t.UserID, ClientID: client.ID, Kind: store.ActivityRevoked, Device: t.Device,
			Detail: "the app signed this device out"})
	case p.JWT != nil && strings.Count(raw, ".") == 2:
		claims, ok := p.verifyAccessToken(raw)
		if !ok || claims.ClientID != client.ID || claims.Issuer != p.Issuer {
			return nil
		}
		return p.revokeJTI(ctx, claims, now)
	}
	return nil
}

// revokeJTI denies a JWT access token until it expires: its row (tokens of
// a user's grant have one) is marked revoked, or a revoked row is recorded.
func (p *Provider) revokeJTI(ctx context.Context, claims token.AccessClaims, now time.Time) *Error {
	hash := jtiHash(claims.JTI)
	err := p.Store.RevokeToken(ctx, hash, now)
	if errors.Is(err, store.ErrNotFound) {
		err = p.Store.CreateTokens(ctx, []store.Token{{
			Hash: hash, Kind: store.KindAccess, ClientID: claims.ClientID, CreatedAt: now,
			ExpiresAt: time.Unix(claims.Expiry, 0), RevokedAt: now,
		}})
		if errors.Is(err, store.ErrConflict) {
			err = p.Store.RevokeToken(ctx, hash, now)
		}
	}
	if err != nil {
		return p.storeError(ctx, "revoke jti", err)
	}
	p.Logger.InfoContext(ctx, "JWT access token revoked", "client_id", claims.ClientID)
	p.Metrics.Revoked("endpoint")
	p.emit(ctx, audit.Event{Name: audit.EventTokenRevoked, ClientID: claims.ClientID, Format: FormatJWT,
		Detail: "the app revoked an access token"})
	return nil
}
