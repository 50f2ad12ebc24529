package oauth

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/latchkey/latchkey/internal/oidc"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// grantPassword is the resource owner password credentials grant (RFC 6749
// §4.3), for first-party clients that enable it. A wrong password and an
// unknown user get the same invalid_grant; attempts are throttled per
// username and per client address, sharing the login page's counters, and a
// throttled attempt is answered 429 with Retry-After before any hashing.
// The password is never logged or stored.
func (p *Provider) grantPassword(ctx context.Context, req tokenRequest) (TokenResponse, *Error) {
	client, q := req.client, req.q
	username, password := q["username"], q["password"]
	if username == "" || password == "" {
		return TokenResponse{}, InvalidRequest("username and password are required")
	}
	scopes, e := p.requestedScopes(client, q["scope"], false)
	if e != nil {
		return TokenResponse{}, e
	}
	// Checked before the password, so a request the server would refuse
	// anyway costs no hash and counts no failure.
	t, e := p.targetFor(ctx, client, scopes, q.list(paramResource), nil)
	if e != nil {
		return TokenResponse{}, e
	}
	user, err := p.Passwords.Check(ctx, username, password, req.address)
	p.signIn(ctx, "password_grant", client.ID, req.address, err)
	var tooMany *TooManyAttempts
	switch {
	case errors.As(err, &tooMany):
		p.Logger.WarnContext(ctx, "password grant throttled", "client_id", client.ID, "client", req.address)
		return TokenResponse{}, &Error{Code: "invalid_grant", Status: http.StatusTooManyRequests,
			Description: "too many failed attempts; retry later", RetryAfter: tooMany.Seconds()}
	case errors.Is(err, ErrBadCredentials):
		p.Logger.InfoContext(ctx, "password grant refused", "client_id", client.ID)
		return TokenResponse{}, InvalidGrant("the username or password is incorrect")
	case errors.Is(err, ErrBusy):
		p.Logger.WarnContext(ctx, "password grant not checked: the hash gate is full", "client_id", client.ID)
		return TokenResponse{}, TemporarilyUnavailable()
	case err != nil:
		return TokenResponse{}, p.storeError(ctx, "check password", err)
	}
	now := p.Now()
	grant, e := p.grantFor(ctx, user.ID, client.ID, scopes)
	if e != nil {
		return TokenResponse{}, e
	}
	resp, rows, e := p.mint(issuance{
		jkt:    req.jkt,
		client: client, grant: grant, familyID: secret.RandomString(16), scopes: t.scopes, refreshScopes: scopes,
		audience: t.audience, resources: q.list(paramResource),
		authTime: now, refresh: AllowsGrant(client, GrantRefreshToken), now: now,
		device: DescribeDevice(req.userAgent), address: req.address,
	})
	if e != nil {
		return TokenResponse{}, e
	}
	if slices.Contains(scopes, oidc.ScopeOpenID) {
		resp.IDToken, e = p.signIDToken(ctx, idTokenInput{
			client: client, userID: user.ID, authTime: now, acr: oidc.ACRLogin, accessToken: resp.AccessToken,
			scopes: scopes, now: now,
		})
		if e != nil {
			return TokenResponse{}, e
		}
	}
	if err := p.Store.CreateTokens(ctx, rows); err != nil {
		return TokenResponse{}, p.storeError(ctx, "create tokens", err)
	}
	p.Activity.RecordWith(ctx, store.Activity{UserID: user.ID, ClientID: client.ID, Kind: store.ActivityIssued,
		Device: DescribeDevice(req.userAgent), Address: req.address, Detail: FormatScope(scopes) + " (with your password)"},
		p.issuedEvent(GrantPassword, client))
	return resp, nil
}

// grantFor returns the user's active grant to the client if it covers
// scopes, or saves the app's grant extended with them: a password sign-in
// is the user's consent, and the grant lets the user see and revoke the app
// like any other.
func (p *Provider) grantFor(ctx context.Context, userID, clientID string, scopes []string) (store.Grant, *Error) {
	for attempt := 1; ; attempt++ {
		g, found, e := p.findGrant(ctx, userID, clientID)
		if e != nil {
			return store.Grant{}, e
		}
		if found && g.Active(p.Now()) && Subset(scopes, g.Scopes) {
			return g, nil
		}
		// The app's grant gains these scopes (one grant per app).
		g = p.extendGrant(g, found, userID, clientID, scopes, KeepLifetime)
		err := p.Store.SaveGrant(ctx, g)
		if err == nil {
			return g, nil
		}
		// A concurrent first grant (ErrConflict), or a revocation meanwhile
		// (ErrAlreadyUsed): look again, once.
		if attempt == 2 || !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrAlreadyUsed) {
			return store.Grant{}, p.storeError(ctx, "save grant", err)
		}
	}
}
