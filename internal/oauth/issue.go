package oauth

import (
	"time"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// TokenResponse is a successful token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// issuance describes the tokens one successful grant hands out.
type issuance struct {
	client        store.Client
	grant         store.Grant // zero for tokens without a user
	familyID      string
	scopes        []string // of the access token
	refreshScopes []string // of the refresh token (RFC 6749 §6: unchanged by narrowing)
	authTime      time.Time
	refresh       bool
	now           time.Time
}

// mint creates the tokens of an issuance: the response to send and the rows
// to store (only hashes). Lifetimes never outlast the grant.
func (p *Provider) mint(is issuance) (TokenResponse, []store.Token) {
	at := secret.New(secret.PrefixAccessToken)
	atExp := capExpiry(is.now.Add(p.accessTTL(is.client)), is.grant)
	rows := []store.Token{{
		Hash: secret.Hash(string(at)), Kind: store.KindAccess, FamilyID: is.familyID, GrantID: is.grant.ID,
		ClientID: is.client.ID, UserID: is.grant.UserID, Scopes: is.scopes, AuthTime: is.authTime,
		CreatedAt: is.now, ExpiresAt: atExp,
	}}
	resp := TokenResponse{
		AccessToken: string(at),
		TokenType:   "Bearer",
		ExpiresIn:   int64(atExp.Sub(is.now).Round(time.Second) / time.Second),
		Scope:       FormatScope(is.scopes),
	}
	if is.refresh {
		rt := secret.New(secret.PrefixRefreshToken)
		rows = append(rows, store.Token{
			Hash: secret.Hash(string(rt)), Kind: store.KindRefresh, FamilyID: is.familyID, GrantID: is.grant.ID,
			ClientID: is.client.ID, UserID: is.grant.UserID, Scopes: is.refreshScopes, AuthTime: is.authTime,
			CreatedAt: is.now, ExpiresAt: capExpiry(is.now.Add(p.refreshTTL(is.client)), is.grant),
		})
		resp.RefreshToken = string(rt)
	}
	return resp, rows
}
