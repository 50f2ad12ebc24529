package oauth

import (
	"context"

	"github.com/latchkey/latchkey/internal/store"
)

// grantClientCredentials issues an access token to a confidential client for
// itself (RFC 6749 §4.4): no user, no refresh token (§4.4.3), sub is the
// client. A JWT access token costs no database write.
func (p *Provider) grantClientCredentials(ctx context.Context, req tokenRequest) (TokenResponse, *Error) {
	client := req.client
	if client.Public {
		// §4.4: "The client credentials grant type MUST only be used by
		// confidential clients."
		return TokenResponse{}, UnauthorizedClient("client_credentials needs a confidential client")
	}
	scopes, e := p.requestedScopes(client, req.q["scope"], true)
	if e != nil {
		return TokenResponse{}, e
	}
	t, e := p.targetFor(ctx, client, scopes, req.q.list(paramResource), nil)
	if e != nil {
		return TokenResponse{}, e
	}
	resp, rows, e := p.mint(issuance{client: client, scopes: t.scopes, audience: t.audience, now: p.Now(), jkt: req.jkt})
	if e != nil {
		return TokenResponse{}, e
	}
	if len(rows) > 0 {
		if err := p.Store.CreateTokens(ctx, rows); err != nil {
			return TokenResponse{}, p.storeError(ctx, "create tokens", err)
		}
	}
	p.Activity.RecordWith(ctx, store.Activity{ClientID: client.ID, Kind: store.ActivityIssued, Address: req.address,
		Detail: FormatScope(t.scopes)}, p.issuedEvent(GrantClientCredentials, client))
	return resp, nil
}
