package oauth

import (
	"context"
	"errors"
	"slices"

	"github.com/latchkey/latchkey/internal/oidc"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// grantRefreshToken exchanges a refresh token (RFC 6749 §6). The refresh
// token rotates on every use; presenting a rotated one again is reuse and
// revokes the whole family (RFC 9700 §4.14.2).
func (p *Provider) grantRefreshToken(ctx context.Context, req tokenRequest) (TokenResponse, *Error) {
	client, q := req.client, req.q
	raw := q["refresh_token"]
	if raw == "" {
		return TokenResponse{}, InvalidRequest("refresh_token is missing")
	}
	if !secret.HasPrefix(raw, secret.PrefixRefreshToken) {
		return TokenResponse{}, InvalidGrant("the refresh token is invalid")
	}
	// The token and its grant in one lookup.
	old, grant, err := p.Store.GetTokenWithGrant(ctx, secret.Hash(raw))
	if errors.Is(err, store.ErrNotFound) || err == nil && old.Kind != store.KindRefresh {
		return TokenResponse{}, InvalidGrant("the refresh token is invalid")
	}
	if err != nil {
		return TokenResponse{}, p.storeError(ctx, "get token", err)
	}
	// §6: the token is bound to the client it was issued to. Another
	// client's attempt changes nothing for the rightful owner.
	if old.ClientID != client.ID {
		return TokenResponse{}, InvalidGrant("the refresh token is invalid")
	}
	now := p.Now()
	if !old.RotatedAt.IsZero() {
		return TokenResponse{}, p.refreshReused(ctx, old)
	}
	if !old.RevokedAt.IsZero() || !now.Before(old.ExpiresAt) {
		return TokenResponse{}, InvalidGrant("the refresh token was revoked or has expired")
	}
	scopes := old.Scopes
	if raw, ok := q["scope"]; ok {
		requested, e := ParseScope(raw)
		if e != nil {
			return TokenResponse{}, e
		}
		// §6: "The requested scope MUST NOT include any scope not
		// originally granted by the resource owner".
		if len(requested) == 0 || !Subset(requested, old.Scopes) {
			return TokenResponse{}, InvalidScope("the requested scope is wider than the original grant")
		}
		scopes = requested
	}
	// The client's registration may have narrowed since (RFC 9700 §4.14.2).
	if !Subset(scopes, client.Scopes) {
		return TokenResponse{}, InvalidScope("the client may no longer use one of these scopes")
	}
	if grant.ID == "" {
		return TokenResponse{}, InvalidGrant("the grant of this refresh token was revoked")
	}
	if !grant.Active(now) {
		return TokenResponse{}, InvalidGrant("the grant of this refresh token was revoked or has expired")
	}
	t, e := p.targetFor(ctx, client, scopes, q.list(paramResource), old.Resources)
	if e != nil {
		return TokenResponse{}, e
	}
	resp, rows, e := p.mint(issuance{
		client: client, grant: grant, familyID: old.FamilyID, scopes: t.scopes, refreshScopes: old.Scopes,
		audience: t.audience, resources: old.Resources,
		authTime: old.AuthTime, claims: old.Claims, refresh: true, now: now,
		device: old.Device, address: req.address,
	})
	if e != nil {
		return TokenResponse{}, e
	}
	if slices.Contains(scopes, oidc.ScopeOpenID) {
		// OpenID Connect Core §12.2: a refreshed ID token keeps sub,
		// auth_time and the client, and carries no nonce.
		resp.IDToken, e = p.signIDToken(ctx, idTokenInput{
			client: client, userID: old.UserID, authTime: old.AuthTime, accessToken: resp.AccessToken,
			scopes: scopes, claims: old.Claims, now: now,
		})
		if e != nil {
			return TokenResponse{}, e
		}
	}
	err = p.Store.RotateRefreshToken(ctx, old.Hash, now, rows)
	if errors.Is(err, store.ErrAlreadyUsed) {
		// A concurrent request rotated it first: to the server that is reuse.
		return TokenResponse{}, p.refreshReused(ctx, old)
	}
	if err != nil {
		return TokenResponse{}, p.storeError(ctx, "rotate refresh token", err)
	}
	p.Metrics.Refreshed("rotated", client.ID)
	p.Activity.RecordWith(ctx, store.Activity{UserID: old.UserID, ClientID: client.ID, Kind: store.ActivityRefreshed,
		Device: old.Device, Address: req.address, Detail: FormatScope(scopes)}, p.issuedEvent(GrantRefreshToken, client.AccessTokenFormat))
	return resp, nil
}

// refreshReused revokes every token of the family of a reused refresh token.
func (p *Provider) refreshReused(ctx context.Context, old store.Token) *Error {
	n, err := p.Store.RevokeFamily(ctx, old.FamilyID, p.Now())
	if err != nil {
		return p.storeError(ctx, "revoke family", err)
	}
	p.Logger.WarnContext(ctx, "refresh token reused; its family is revoked", "client_id", old.ClientID, "grant_id", old.GrantID, "revoked", n)
	p.reuseDetected(ctx, "refresh_token", old.ClientID, old.UserID, n)
	p.Activity.Record(ctx, store.Activity{UserID: old.UserID, ClientID: old.ClientID, Kind: store.ActivityRevoked, Device: old.Device,
		Detail: "an old refresh token was used again, so this device was signed out to be safe"})
	return InvalidGrant("the refresh token is invalid or was already used")
}
