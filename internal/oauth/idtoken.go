package oauth

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/oidc"
	"github.com/latchkey/latchkey/internal/store"
)

// idTokenInput is what an ID token is made of.
type idTokenInput struct {
	client      store.Client
	userID      string
	authTime    time.Time
	nonce       string
	sessionID   string
	acr         string
	code        string // issued with it (c_hash), if any
	accessToken string // issued with it (at_hash), if any
	scopes      []string
	claims      string // the claims request parameter
	now         time.Time
}

// hasOpenID reports whether a raw scope parameter asks for openid.
func hasOpenID(raw string) bool {
	scopes, e := ParseScope(raw)
	return e == nil && slices.Contains(scopes, oidc.ScopeOpenID)
}

// signIDToken makes an ID token (OpenID Connect Core §2) for the client,
// signed with the algorithm it registered (RS256 by default). It carries the
// user claims the scopes and the claims request allow, so a relying party
// need not call /userinfo (§5.4 lets them go in the ID token).
func (p *Provider) signIDToken(ctx context.Context, in idTokenInput) (string, *Error) {
	alg := oidc.IDTokenAlg(in.client.IDTokenAlg)
	c := oidc.IDTokenClaims{
		Issuer: p.Issuer, Subject: in.userID, Audience: []string{in.client.ID}, AZP: in.client.ID,
		IssuedAt: in.now.Unix(), Expiry: in.now.Add(p.accessTTL(in.client)).Unix(),
		Nonce: in.nonce, SessionID: in.sessionID, ACR: in.acr, AMR: []string{oidc.AMRPassword},
	}
	if !in.authTime.IsZero() {
		c.AuthTime = in.authTime.Unix()
	}
	if in.code != "" {
		c.CHash = oidc.HalfHash(alg, in.code)
	}
	if in.accessToken != "" {
		c.ATHash = oidc.HalfHash(alg, in.accessToken)
	}
	req, _ := oidc.ParseClaimsRequest(in.claims) // checked at /authorize
	if wantsUserClaims(in.scopes, req.IDToken) {
		u, err := p.Store.GetUser(ctx, in.userID)
		if errors.Is(err, store.ErrNotFound) {
			return "", InvalidGrant("the user no longer exists")
		}
		if err != nil {
			return "", p.storeError(ctx, "get user", err)
		}
		c.UserClaims = oidc.ReleaseClaims(u, in.scopes, req.IDToken)
	}
	idt, err := p.JWT.SignWith(alg, oidc.TypeIDToken, c)
	if err != nil {
		p.Logger.ErrorContext(ctx, "sign ID token", "alg", alg, "err", err)
		return "", ServerError()
	}
	return idt, nil
}

// wantsUserClaims reports whether any claim about the user beyond sub is
// allowed, so that the user's row must be read.
func wantsUserClaims(scopes, requested []string) bool {
	return len(requested) > 0 || slices.Contains(scopes, oidc.ScopeProfile) || slices.Contains(scopes, oidc.ScopeEmail)
}

// verifyOwnIDToken checks that raw is an ID token this server signed for
// one of its clients, whether or not it has expired: an id_token_hint or a
// logout hint may be an old one (RP-Initiated Logout §2: "The OP need not
// be listed as an audience ... when it is used as an id_token_hint").
func (p *Provider) verifyOwnIDToken(raw string) (oidc.IDTokenClaims, bool) {
	var c oidc.IDTokenClaims
	if p.JWT == nil || p.JWT.Verify(raw, oidc.TypeIDToken, &c) != nil {
		return c, false
	}
	if c.Issuer != p.Issuer || c.Subject == "" || len(c.Audience) == 0 {
		return c, false
	}
	return c, true
}
