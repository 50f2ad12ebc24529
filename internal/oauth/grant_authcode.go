package oauth

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/latchkey/latchkey/internal/oidc"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// grantAuthorizationCode redeems an authorization code (RFC 6749 §4.1.3).
func (p *Provider) grantAuthorizationCode(ctx context.Context, req tokenRequest) (TokenResponse, *Error) {
	client, q := req.client, req.q
	code := q["code"]
	if code == "" {
		return TokenResponse{}, InvalidRequest("code is missing")
	}
	if !secret.HasPrefix(code, secret.PrefixCode) {
		return TokenResponse{}, InvalidGrant("the code is invalid")
	}
	// The code and its grant in one lookup.
	ac, grant, err := p.Store.GetCodeWithGrant(ctx, secret.Hash(code))
	if errors.Is(err, store.ErrNotFound) {
		return TokenResponse{}, InvalidGrant("the code is invalid")
	}
	if err != nil {
		return TokenResponse{}, p.storeError(ctx, "get code", err)
	}
	// §4.1.3: "ensure that the authorization code was issued to the
	// authenticated confidential client". A foreign client learns nothing
	// and changes nothing.
	if ac.ClientID != client.ID {
		return TokenResponse{}, InvalidGrant("the code is invalid")
	}
	now := p.Now()
	if !ac.UsedAt.IsZero() {
		return TokenResponse{}, p.codeReplayed(ctx, ac)
	}
	if !now.Before(ac.ExpiresAt) {
		return TokenResponse{}, InvalidGrant("the code has expired")
	}
	// RFC 9449 §10: a code bound with dpop_jkt is redeemed only with a
	// proof of that key. Checked before the redemption: a thief's attempt
	// does not use the code up.
	if ac.DPoPJKT != "" && ac.DPoPJKT != req.jkt {
		return TokenResponse{}, invalidDPoPProof("the code is bound to another DPoP key (dpop_jkt): send a proof of that key")
	}
	// §4.1.3: redirect_uri is REQUIRED if it was included in the
	// authorization request, and the values MUST be identical.
	if uri, given := q["redirect_uri"]; (ac.RedirectURIGiven || given) && uri != ac.RedirectURI {
		return TokenResponse{}, InvalidGrant("redirect_uri does not match the authorization request")
	}
	verifier, hasVerifier := q["code_verifier"]
	switch {
	case ac.CodeChallenge != "" && !hasVerifier:
		return TokenResponse{}, InvalidGrant("code_verifier is missing (RFC 7636 §4.5)")
	case ac.CodeChallenge != "" && !VerifyPKCE(verifier, ac.CodeChallenge, ac.CodeChallengeMethod):
		return TokenResponse{}, InvalidGrant("code_verifier does not match the code_challenge (RFC 7636 §4.6)")
	case ac.CodeChallenge == "" && hasVerifier:
		// RFC 9700 §4.8.2: a verifier for a code issued without a challenge
		// is a PKCE downgrade attempt.
		return TokenResponse{}, InvalidGrant("this code was issued without a code_challenge")
	}
	if grant.ID == "" {
		return TokenResponse{}, InvalidGrant("the grant of this code was revoked")
	}
	if !grant.Active(now) {
		return TokenResponse{}, InvalidGrant("the grant of this code was revoked or has expired")
	}
	t, e := p.targetFor(ctx, client, ac.Scopes, q.list(paramResource), ac.Resources)
	if e != nil {
		return TokenResponse{}, e
	}
	resp, rows, e := p.mint(issuance{
		jkt:    req.jkt,
		client: client, grant: grant, familyID: ac.Hash, scopes: t.scopes, refreshScopes: ac.Scopes,
		audience: t.audience, resources: ac.Resources,
		authTime: ac.AuthTime, claims: ac.Claims, refresh: AllowsGrant(client, GrantRefreshToken), now: now,
		device: cmp.Or(ac.Device, DescribeDevice(req.userAgent)), address: req.address,
	})
	if e != nil {
		return TokenResponse{}, e
	}
	if slices.Contains(ac.Scopes, oidc.ScopeOpenID) {
		// OpenID Connect Core §3.1.3.3: the token response carries the ID
		// token, bound to the access token by at_hash.
		resp.IDToken, e = p.signIDToken(ctx, idTokenInput{
			client: client, userID: ac.UserID, authTime: ac.AuthTime, nonce: ac.Nonce, sessionID: ac.SessionID,
			acr: ac.ACR, accessToken: resp.AccessToken, scopes: ac.Scopes, claims: ac.Claims, now: now,
		})
		if e != nil {
			return TokenResponse{}, e
		}
	}
	err = p.Store.RedeemCode(ctx, ac.Hash, now, rows)
	if errors.Is(err, store.ErrAlreadyUsed) {
		// Another request redeemed it first, or the code expired or lost its
		// grant in between: the answer is the same as for any replay.
		return TokenResponse{}, p.codeReplayed(ctx, ac)
	}
	if err != nil {
		return TokenResponse{}, p.storeError(ctx, "redeem code", err)
	}
	p.Logger.InfoContext(ctx, "code redeemed", "client_id", client.ID, "grant_id", grant.ID)
	p.Activity.RecordWith(ctx, store.Activity{UserID: ac.UserID, ClientID: client.ID, Kind: store.ActivityIssued,
		Device: cmp.Or(ac.Device, DescribeDevice(req.userAgent)), Address: req.address, Detail: FormatScope(ac.Scopes)},
		p.issuedEvent(GrantAuthorizationCode, client))
	return resp, nil
}

// codeReplayed answers a second use of a code. RFC 6749 §4.1.2: "If an
// authorization code is used more than once, the authorization server MUST
// deny the request and SHOULD revoke (when possible) all tokens previously
// issued based on that authorization code."
func (p *Provider) codeReplayed(ctx context.Context, ac store.AuthCode) *Error {
	n, err := p.Store.RevokeFamily(ctx, ac.Hash, p.Now())
	if err != nil {
		return p.storeError(ctx, "revoke family", err)
	}
	p.Logger.WarnContext(ctx, "authorization code replayed; its tokens are revoked", "client_id", ac.ClientID, "grant_id", ac.GrantID, "revoked", n)
	p.reuseDetected(ctx, "code", ac.ClientID, ac.UserID, n)
	return InvalidGrant("the code is invalid or was already used")
}
