package oauth

import (
	"context"
	"errors"
	"github.com/latchkey/latchkey/internal/audit"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/oidc"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// grantRefreshToken exchanges a refresh token (RFC 6749 §6). The refresh
// token rotates on every use (except a FAPI 2.0 client's, see below);
// presenting a rotated one again is reuse and revokes the whole family
// (RFC 9700 §4.14.2), unless it comes within tokens.refresh_reuse_grace of
// the rotation while the successor is still unused: a retry after a lost
// response, or two tabs refreshing at once (refreshRotated).
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
	// RFC 9449 §5: a refresh token bound to a key is used only with a proof
	// of that key.
	if old.JKT != "" && old.JKT != req.jkt {
		return TokenResponse{}, invalidDPoPProof("the refresh token is bound to a DPoP key; send a proof of that key")
	}
	now := p.Now()
	if !old.RotatedAt.IsZero() {
		return p.refreshRotated(ctx, req, old, grant, now)
	}
	if !old.RevokedAt.IsZero() || !now.Before(old.ExpiresAt) {
		return TokenResponse{}, InvalidGrant("the refresh token was revoked or has expired")
	}
	scopes, t, e := p.refreshTarget(ctx, req, old)
	if e != nil {
		return TokenResponse{}, e
	}
	if grant.ID == "" {
		return TokenResponse{}, InvalidGrant("the grant of this refresh token was revoked")
	}
	if !grant.Active(now) {
		return TokenResponse{}, InvalidGrant("the grant of this refresh token was revoked or has expired")
	}
	// FAPI 2.0 §5.3.2.1: "shall not use refresh token rotation except in
	// extraordinary circumstances". Its clients are confidential and their
	// access tokens sender-constrained, so a refresh token is of no use
	// without the client's own credentials; rotating it would only lose
	// the client its grant when an answer is lost. It stays, and the
	// answer carries none (RFC 6749 §6 lets the server keep it).
	rotate := !isFAPI2(client)
	resp, rows, e := p.mint(issuance{
		jkt:    req.jkt,
		client: client, grant: grant, familyID: old.FamilyID, scopes: t.scopes, refreshScopes: old.Scopes,
		audience: t.audience, resources: old.Resources,
		authTime: old.AuthTime, claims: old.Claims, refresh: rotate, now: now,
		device: old.Device, address: req.address,
	})
	if e != nil {
		return TokenResponse{}, e
	}
	if e := p.refreshIDToken(ctx, client, old, scopes, now, &resp); e != nil {
		return TokenResponse{}, e
	}
	outcome := "rotated"
	switch {
	case !rotate:
		outcome = "kept"
		err = p.Store.IssueForRefreshToken(ctx, old.Hash, now, rows)
		if errors.Is(err, store.ErrAlreadyUsed) {
			return TokenResponse{}, InvalidGrant("the refresh token was revoked or has expired")
		}
	case p.keepsSuccessors():
		// The successor is kept, sealed, on the old row, so that a retry
		// within the grace gets it again; never in plain text.
		sealed, serr := p.sealSuccessor(old.Hash, resp.RefreshToken)
		if serr != nil {
			p.Logger.ErrorContext(ctx, "seal the successor refresh token", "err", serr)
			return TokenResponse{}, ServerError()
		}
		err = p.Store.RotateRefreshTokenWithSuccessor(ctx, old.Hash, now, sealed, rows)
	default:
		err = p.Store.RotateRefreshToken(ctx, old.Hash, now, rows)
	}
	if errors.Is(err, store.ErrAlreadyUsed) {
		// A concurrent request rotated it first: within the grace that is
		// the same refresh presented twice; otherwise reuse.
		if p.keepsSuccessors() {
			again, grant, err := p.Store.GetTokenWithGrant(ctx, old.Hash)
			if err != nil {
				return TokenResponse{}, p.storeError(ctx, "get token", err)
			}
			if !again.RotatedAt.IsZero() {
				return p.refreshRotated(ctx, req, again, grant, now)
			}
		}
		return TokenResponse{}, p.refreshReused(ctx, old, "rotated or revoked concurrently")
	}
	if err != nil {
		return TokenResponse{}, p.storeError(ctx, "rotate refresh token", err)
	}
	p.Metrics.Refreshed(outcome, client.ID)
	p.Activity.RecordWith(ctx, store.Activity{UserID: old.UserID, ClientID: client.ID, Kind: store.ActivityRefreshed,
		Device: old.Device, Address: req.address, Detail: FormatScope(scopes)}, p.issuedEvent(GrantRefreshToken, client))
	return resp, nil
}

// refreshTarget returns the scopes a refresh of rt asks for and the access
// token's target: the scope parameter may narrow rt's scopes, never widen
// them, within what the client may still use, and resources per targetFor.
func (p *Provider) refreshTarget(ctx context.Context, req tokenRequest, rt store.Token) ([]string, target, *Error) {
	client, q := req.client, req.q
	scopes := rt.Scopes
	if raw, ok := q["scope"]; ok {
		requested, e := ParseScope(raw)
		if e != nil {
			return nil, target{}, e
		}
		// §6: "The requested scope MUST NOT include any scope not
		// originally granted by the resource owner".
		if len(requested) == 0 || !Subset(requested, rt.Scopes) {
			return nil, target{}, InvalidScope("the requested scope is wider than the original grant")
		}
		scopes = requested
	}
	// The client's registration may have narrowed since (RFC 9700 §4.14.2).
	if !Subset(scopes, client.Scopes) {
		return nil, target{}, InvalidScope("the client may no longer use one of these scopes")
	}
	t, e := p.targetFor(ctx, client, scopes, q.list(paramResource), rt.Resources)
	if e != nil {
		return nil, target{}, e
	}
	return scopes, t, nil
}

// refreshIDToken adds an ID token to resp when the scopes include openid.
// OpenID Connect Core §12.2: a refreshed ID token keeps sub, auth_time and
// the client, and carries no nonce.
func (p *Provider) refreshIDToken(ctx context.Context, client store.Client, rt store.Token, scopes []string, now time.Time, resp *TokenResponse) *Error {
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		return nil
	}
	var e *Error
	resp.IDToken, e = p.signIDToken(ctx, idTokenInput{
		client: client, userID: rt.UserID, authTime: rt.AuthTime, accessToken: resp.AccessToken,
		scopes: scopes, claims: rt.Claims, now: now,
	})
	return e
}

// refreshRotated answers a refresh token presented again after it rotated
// (the client binding already checked). It is the one place that decides
// between the two outcomes, each reported once through refreshReuseSeen:
//
//   - grace: tokens.refresh_reuse_grace is positive, the token rotated at
//     most that long ago (now - rotated_at <= grace), it kept its sealed
//     successor, and that successor is still active (neither rotated nor
//     revoked, unexpired) in an active grant. The answer is the same
//     successor refresh token and a new access token (and ID token), as a
//     refresh of the successor would issue them, without rotating it.
//   - reuse: anything else, the successor already used included (the
//     legitimate client moved on, so this one is a copy). The family is
//     revoked (RFC 9700 §4.14.2) and the answer is invalid_grant.
//
// The store decides whether the successor is still active in the same
// statement that stores the new access token (IssueWithinGrace), so a
// concurrent rotation or revocation is never missed.
func (p *Provider) refreshRotated(ctx context.Context, req tokenRequest, old store.Token, grant store.Grant, now time.Time) (TokenResponse, *Error) {
	grace := p.Tokens.RefreshReuseGrace
	switch {
	case grace <= 0:
		return TokenResponse{}, p.refreshReused(ctx, old, "strict: no reuse grace")
	case now.Sub(old.RotatedAt) > grace:
		return TokenResponse{}, p.refreshReused(ctx, old, "after the reuse grace")
	case len(old.Successor) == 0 || grant.ID == "" || !old.RevokedAt.IsZero():
		return TokenResponse{}, p.refreshReused(ctx, old, "no successor to answer with")
	}
	plain, err := p.openSuccessor(old)
	if err != nil {
		// Sealed under another system secret, or altered: nothing to answer with.
		p.Logger.ErrorContext(ctx, "cannot open the successor of a rotated refresh token", "err", err)
		return TokenResponse{}, p.refreshReused(ctx, old, "successor cannot be opened")
	}
	successor := string(plain)
	// The successor has old's scopes, resources and authorization; the
	// request may narrow them as a refresh of the successor could.
	scopes, t, e := p.refreshTarget(ctx, req, old)
	if e != nil {
		return TokenResponse{}, e
	}
	resp, rows, e := p.mint(issuance{
		jkt:    req.jkt,
		client: req.client, grant: grant, familyID: old.FamilyID, scopes: t.scopes,
		audience: t.audience, authTime: old.AuthTime, claims: old.Claims, now: now,
		device: old.Device, address: req.address,
	})
	if e != nil {
		return TokenResponse{}, e
	}
	resp.RefreshToken = successor
	if e := p.refreshIDToken(ctx, req.client, old, scopes, now, &resp); e != nil {
		return TokenResponse{}, e
	}
	err = p.Store.IssueWithinGrace(ctx, old.Hash, secret.Hash(successor), now.Add(-grace), now, rows)
	if errors.Is(err, store.ErrAlreadyUsed) || errors.Is(err, store.ErrNotFound) {
		return TokenResponse{}, p.refreshReused(ctx, old, "the successor was already used or revoked")
	}
	if err != nil {
		return TokenResponse{}, p.storeError(ctx, "issue within grace", err)
	}
	p.refreshReuseSeen(ctx, refreshReuse{token: old, grace: true, since: now.Sub(old.RotatedAt)})
	return resp, nil
}

// refreshReused revokes every token of the family of a reused refresh token.
func (p *Provider) refreshReused(ctx context.Context, old store.Token, reason string) *Error {
	n, err := p.Store.RevokeFamily(ctx, old.FamilyID, p.Now())
	if err != nil {
		return p.storeError(ctx, "revoke family", err)
	}
	p.refreshReuseSeen(ctx, refreshReuse{token: old, reason: reason, revoked: n})
	p.Activity.Record(ctx, store.Activity{UserID: old.UserID, ClientID: old.ClientID, Kind: store.ActivityRevoked, Device: old.Device,
		Detail: "an old refresh token was used again, so this device was signed out to be safe"})
	return InvalidGrant("the refresh token is invalid or was already used")
}

// refreshReuse is one presentation of a rotated refresh token.
type refreshReuse struct {
	token store.Token // the rotated token presented (its hash only: never a token value)
	// grace: answered with its successor within the reuse grace, since
	// after its rotation; otherwise reuse, which revoked the family's
	// revoked tokens, for reason.
	grace   bool
	since   time.Duration
	reason  string
	revoked int
}

// refreshReuseSeen reports a rotated refresh token presented again, both
// outcomes, once each: the hook for audit events and metrics. It logs no
// token value.
func (p *Provider) refreshReuseSeen(ctx context.Context, r refreshReuse) {
	if r.grace {
		p.Logger.InfoContext(ctx, "rotated refresh token presented again within the reuse grace; answered with its successor",
			"client_id", r.token.ClientID, "grant_id", r.token.GrantID, "since_rotation", r.since)
		p.Metrics.Refreshed("grace", r.token.ClientID)
		p.emit(ctx, audit.Event{Name: audit.EventGraceReuse, ClientID: r.token.ClientID, UserID: r.token.UserID,
			Device: r.token.Device, Detail: "presented again " + r.since.Round(time.Millisecond).String() + " after its rotation"})
		return
	}
	p.Logger.WarnContext(ctx, "refresh token reused; its family is revoked",
		"client_id", r.token.ClientID, "grant_id", r.token.GrantID, "revoked", r.revoked, "reason", r.reason)
	p.reuseDetected(ctx, "refresh_token", r.token.ClientID, r.token.UserID, r.revoked)
}

// keepsSuccessors reports whether rotations keep their successor for the
// reuse grace: a positive grace and a key to seal with.
func (p *Provider) keepsSuccessors() bool {
	return p.Tokens.RefreshReuseGrace > 0 && p.SuccessorKey != nil
}

// sealSuccessor seals the successor refresh token of oldHash for its row:
// AES-256-GCM under SuccessorKey, bound to oldHash so that it opens only
// as the successor of that token.
func (p *Provider) sealSuccessor(oldHash, successor string) ([]byte, error) {
	return secret.Seal(p.SuccessorKey, []byte(successor), []byte(oldHash))
}

// openSuccessor reverses sealSuccessor for the rotated token old.
func (p *Provider) openSuccessor(old store.Token) ([]byte, error) {
	plain, err := secret.Open(p.SuccessorKey, old.Successor, []byte(old.Hash))
	if err != nil && p.PreviousSuccessorKey != nil {
		// Sealed by a node still on the previous system secret.
		if prev, perr := secret.Open(p.PreviousSuccessorKey, old.Successor, []byte(old.Hash)); perr == nil {
			return prev, nil
		}
	}
	return plain, err
}
