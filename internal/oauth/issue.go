package oauth

import (
	"time"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// Access token formats a client may use.
const (
	FormatJWT    = "jwt"
	FormatOpaque = "opaque"
)

// TokenResponse is a successful token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	// IDToken is the OpenID Connect ID token (Core §3.1.3.3), when the
	// scopes include openid and a user is behind the grant.
	IDToken string `json:"id_token,omitempty"`
}

// issuance describes the tokens one successful grant hands out.
type issuance struct {
	client   store.Client
	grant    store.Grant // zero for tokens without a user (client credentials)
	familyID string
	scopes   []string // of the access token
	// audience is the access token's aud (nil: the default audience);
	// resources are what the authorization was given for, kept with the
	// refresh token (RFC 8707).
	audience, resources []string
	refreshScopes       []string // of the refresh token (RFC 6749 §6: unchanged by narrowing)
	authTime            time.Time
	claims              string // the claims request parameter, kept for /userinfo
	refresh             bool
	accessTTL           time.Duration // zero: the client's access token lifetime
	now                 time.Time
	// device describes the device of the family; address is where this
	// request came from (the user's device list).
	device, address string
	// jkt binds the access token (and a public client's refresh token) to
	// the key of the request's DPoP proof (RFC 9449 §5); empty: bearer.
	jkt string
}

// mint creates the tokens of an issuance: the response to send and the rows
// to store (only hashes). Lifetimes never outlast the grant.
//
// A JWT access token of a user's grant is stored by the hash of its jti, in
// the same transaction as its refresh token, so that revoking the grant or
// the family reaches it; a client-credentials JWT is not stored at all (no
// database write on that hot path) and is revoked by recording its jti.
func (p *Provider) mint(is issuance) (TokenResponse, []store.Token, *Error) {
	ttl := is.accessTTL
	if ttl == 0 {
		ttl = p.accessTTL(is.client)
	}
	atExp := capExpiry(is.now.Add(ttl), is.grant)
	subject := is.grant.UserID
	if subject == "" {
		subject = is.client.ID
	}
	var rows []store.Token
	var access string
	if p.accessFormat(is.client) == FormatOpaque {
		at := secret.New(secret.PrefixAccessToken)
		access = string(at)
		rows = append(rows, p.accessRow(is, secret.Hash(access), atExp))
	} else {
		jti := secret.RandomString(24)
		claims := token.AccessClaims{
			Issuer: p.Issuer, Subject: subject, Audience: p.audienceOr(is.audience), ClientID: is.client.ID,
			Scope: FormatScope(is.scopes), Expiry: atExp.Unix(), IssuedAt: is.now.Unix(), JTI: jti,
		}
		if is.jkt != "" {
			claims.Confirmation = &token.Confirmation{JKT: is.jkt}
		}
		if !is.authTime.IsZero() {
			claims.AuthTime = is.authTime.Unix()
		}
		jwt, err := p.JWT.Sign(token.TypeAccessToken, claims)
		if err != nil {
			p.Logger.Error("sign access token", "err", err)
			return TokenResponse{}, nil, ServerError()
		}
		access = jwt
		if is.grant.ID != "" {
			rows = append(rows, p.accessRow(is, jtiHash(jti), atExp))
		}
	}
	tokenType := "Bearer"
	if is.jkt != "" {
		tokenType = "DPoP" // RFC 9449 §5
	}
	resp := TokenResponse{
		AccessToken: access,
		TokenType:   tokenType,
		ExpiresIn:   int64(atExp.Sub(is.now).Round(time.Second) / time.Second),
		Scope:       FormatScope(is.scopes),
	}
	if is.refresh {
		rt := secret.New(secret.PrefixRefreshToken)
		rows = append(rows, store.Token{
			Hash: secret.Hash(string(rt)), Kind: store.KindRefresh, FamilyID: is.familyID, GrantID: is.grant.ID,
			ClientID: is.client.ID, UserID: is.grant.UserID, Scopes: is.refreshScopes, AuthTime: is.authTime,
			Claims: is.claims, CreatedAt: is.now, ExpiresAt: capExpiry(is.now.Add(p.refreshTTL(is.client)), is.grant),
			Device: is.device, Address: is.address, Resources: is.resources,
			// §5: a public client's refresh token is bound to the key too; a
			// confidential client's is bound by its authentication already.
			JKT: refreshJKT(is),
		})
		resp.RefreshToken = string(rt)
	}
	return resp, rows, nil
}

// refreshJKT is the key a refresh token of is is bound to: the proof's, for
// a public client.
func refreshJKT(is issuance) string {
	if is.client.Public {
		return is.jkt
	}
	return ""
}

func (p *Provider) accessRow(is issuance, hash string, exp time.Time) store.Token {
	return store.Token{
		Hash: hash, Kind: store.KindAccess, FamilyID: is.familyID, GrantID: is.grant.ID,
		ClientID: is.client.ID, UserID: is.grant.UserID, Scopes: is.scopes, AuthTime: is.authTime,
		Claims: is.claims, CreatedAt: is.now, ExpiresAt: exp, Device: is.device, Address: is.address,
		Resources: is.audience, JKT: is.jkt,
	}
}

// jtiHash is the stored key of a JWT access token: distinct from the hash of
// any opaque token, so the two kinds never collide.
func jtiHash(jti string) string { return secret.Hash("jti:" + jti) }

// audience is the default aud of access tokens (RFC 9068 §3), for scopes
// no registered resource serves: the configured audience, or the issuer.
func (p *Provider) audience() []string {
	if len(p.Audience) > 0 {
		return p.Audience
	}
	return []string{p.Issuer}
}

// audienceOr returns aud, or the default audience if aud is empty.
func (p *Provider) audienceOr(aud []string) []string {
	if len(aud) > 0 {
		return aud
	}
	return p.audience()
}
