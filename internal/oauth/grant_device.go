package oauth

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/oidc"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// deviceSlowDown is how much a device's interval grows each time it polls
// too soon. RFC 8628 §3.5, slow_down: "the interval MUST be increased by 5
// seconds for this and all subsequent requests."
const deviceSlowDown = 5 * time.Second

// deviceError is one of RFC 8628 §3.5's answers to a poll: 400, as every
// token endpoint error but invalid_client (RFC 6749 §5.2).
func deviceError(code, format string, args ...any) *Error {
	return newError(code, 400, format, args...)
}

// grantDeviceCode answers a device's poll (RFC 8628 §3.4, §3.5): tokens
// once the user approved, else authorization_pending, slow_down,
// access_denied or expired_token. Every poll is recorded, so that one that
// comes sooner than the device's interval is told slow_down and the
// interval grows for good; the slack allowed for network jitter and for
// nodes whose clocks differ is a fifth of the configured interval.
func (p *Provider) grantDeviceCode(ctx context.Context, req tokenRequest) (TokenResponse, *Error) {
	client := req.client
	raw := req.q["device_code"]
	if raw == "" {
		return TokenResponse{}, InvalidRequest("device_code is missing")
	}
	if !secret.HasPrefix(raw, secret.PrefixDeviceCode) {
		return TokenResponse{}, InvalidGrant("the device code is invalid")
	}
	now := p.Now()
	slack := cmpDuration(p.Tokens.DevicePollInterval, defaultDevicePollInterval) / 5
	dc, tooSoon, err := p.Store.PollDeviceCode(ctx, secret.Hash(raw), client.ID, now, slack, deviceSlowDown)
	if errors.Is(err, store.ErrNotFound) {
		// Unknown, or another client's: RFC 6749 §5.2 invalid_grant, "issued
		// to another client". Another client's poll changed nothing.
		return TokenResponse{}, InvalidGrant("the device code is invalid")
	}
	if err != nil {
		return TokenResponse{}, p.storeError(ctx, "poll device code", err)
	}
	switch {
	case !dc.UsedAt.IsZero():
		return TokenResponse{}, p.deviceCodeReplayed(ctx, dc)
	case !now.Before(dc.ExpiresAt):
		return TokenResponse{}, deviceError("expired_token", "the device code has expired; start again")
	case dc.Status == store.DeviceCodeDenied:
		return TokenResponse{}, deviceError("access_denied", "the user denied the request")
	case dc.Status == store.DeviceCodePending && tooSoon:
		return TokenResponse{}, deviceError("slow_down", "poll no more often than every %d seconds", int64(dc.Interval/time.Second))
	case dc.Status == store.DeviceCodePending:
		return TokenResponse{}, deviceError("authorization_pending", "the user has not yet approved the request")
	}
	grant, err := p.Store.GetGrant(ctx, dc.GrantID)
	if errors.Is(err, store.ErrNotFound) {
		return TokenResponse{}, InvalidGrant("the grant of this device code was revoked")
	}
	if err != nil {
		return TokenResponse{}, p.storeError(ctx, "get grant", err)
	}
	if !grant.Active(now) {
		return TokenResponse{}, InvalidGrant("the grant of this device code was revoked or has expired")
	}
	// The device is one of the user's devices: the family its tokens
	// begin is listed on /account under the device's own description.
	t, e := p.targetFor(ctx, client, dc.Scopes, req.q.list(paramResource), dc.Resources)
	if e != nil {
		return TokenResponse{}, e
	}
	resp, rows, e := p.mint(issuance{
		jkt:    req.jkt,
		client: client, grant: grant, familyID: dc.Hash, scopes: t.scopes, refreshScopes: dc.Scopes,
		audience: t.audience, resources: dc.Resources,
		authTime: dc.AuthTime, refresh: AllowsGrant(client, GrantRefreshToken), now: now,
		device: dc.Device, address: req.address,
	})
	if e != nil {
		return TokenResponse{}, e
	}
	if slices.Contains(dc.Scopes, oidc.ScopeOpenID) {
		// OpenID Connect Core §3.1.3.3 as for a code. No sid: the device
		// does not share the session of the browser that approved it.
		acr := oidc.ACRSession
		if !dc.AuthTime.Before(dc.CreatedAt) {
			acr = oidc.ACRLogin // the user signed in for this very code
		}
		resp.IDToken, e = p.signIDToken(ctx, idTokenInput{
			client: client, userID: dc.UserID, authTime: dc.AuthTime, acr: acr,
			accessToken: resp.AccessToken, scopes: dc.Scopes, now: now,
		})
		if e != nil {
			return TokenResponse{}, e
		}
	}
	err = p.Store.RedeemDeviceCode(ctx, dc.Hash, now, rows)
	if errors.Is(err, store.ErrAlreadyUsed) {
		// Another poll redeemed it first, or it expired or lost its grant
		// in between: as for any second redemption.
		return TokenResponse{}, p.deviceCodeReplayed(ctx, dc)
	}
	if err != nil {
		return TokenResponse{}, p.storeError(ctx, "redeem device code", err)
	}
	p.Logger.InfoContext(ctx, "device code redeemed", "client_id", client.ID, "grant_id", grant.ID)
	p.Activity.RecordWith(ctx, store.Activity{UserID: dc.UserID, ClientID: client.ID, Kind: store.ActivityIssued,
		Device: dc.Device, Address: req.address, Detail: FormatScope(dc.Scopes)}, p.issuedEvent(GrantDeviceCode, client))
	return resp, nil
}

// deviceCodeReplayed answers a second redemption of a device code as a
// code's (RFC 6749 §4.1.2: deny it, and revoke what the first issued):
// only the device that redeemed first could hold those tokens, and a
// device code presented twice may have been stolen.
func (p *Provider) deviceCodeReplayed(ctx context.Context, dc store.DeviceCode) *Error {
	n, err := p.Store.RevokeFamily(ctx, dc.Hash, p.Now())
	if err != nil {
		return p.storeError(ctx, "revoke family", err)
	}
	p.Logger.WarnContext(ctx, "device code redeemed again; its tokens are revoked", "client_id", dc.ClientID, "grant_id", dc.GrantID, "revoked", n)
	p.reuseDetected(ctx, "device_code", dc.ClientID, dc.UserID, n)
	return InvalidGrant("the device code is invalid or was already used")
}
