package oauth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// Introspection is an RFC 7662 §2.2 answer. Inactive tokens carry nothing
// but active: false.
type Introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	JTI       string   `json:"jti,omitempty"`
	AuthTime  int64    `json:"auth_time,omitempty"`
	// Username is the resource owner's username (§2.2), for user tokens.
	Username string `json:"username,omitempty"`
	// Cnf is the key a DPoP-bound token is bound to (RFC 9449 §6.2), and
	// token_type is then "DPoP".
	Cnf *token.Confirmation `json:"cnf,omitempty"`
}

var inactive = Introspection{}

// HandleIntrospect is the introspection endpoint (RFC 7662). Only
// authenticated confidential clients may ask (§2.1, against token
// scanning). A registered resource learns only about access tokens meant
// for it (its URI in their aud, RFC 8707); a client, about tokens issued to
// it or naming its id in their aud (§4). Anything else, and anything
// expired, revoked, unknown or malformed, is {"active": false}.
func (p *Provider) HandleIntrospect(w http.ResponseWriter, r *http.Request) {
	client, q, e := p.backChannel(w, r, true)
	if e == nil && q["token"] == "" {
		e = InvalidRequest("token is missing")
	}
	if e != nil {
		WriteError(w, e)
		return
	}
	resp, e := p.introspect(r.Context(), client, q["token"])
	if e != nil {
		WriteError(w, e)
		return
	}
	WriteJSON(w, http.StatusOK, resp)
}

func (p *Provider) introspect(ctx context.Context, client store.Client, raw string) (Introspection, *Error) {
	resource, err := p.resourceOf(ctx, client.ID)
	if err != nil {
		return inactive, p.storeError(ctx, "list resources", err)
	}
	out, e := p.VerifyAccess(ctx, raw)
	if e != nil || !out.Active {
		return inactive, e
	}
	if caller := (introspector{clientID: client.ID, resource: resource}); !caller.may(out.ClientID, out.Aud) {
		return inactive, nil
	}
	return out, nil
}

// VerifyAccess tells what a token is, whoever asks: an opaque token by its
// stored row, a JWT by its signature, issuer and expiry and then its row
// (revoked or not) or, for a client's own JWT, its client. Anything
// expired, revoked, unknown or malformed is {"active": false}. Refresh
// tokens answer token_type "refresh_token": callers that want an access
// token check it. It is introspection without the caller's restriction,
// so every protected part of the server (introspection, the admin API)
// verifies tokens in one way.
func (p *Provider) VerifyAccess(ctx context.Context, raw string) (Introspection, *Error) {
	now := p.Now()
	switch {
	case secret.HasPrefix(raw, secret.PrefixRefreshToken), secret.HasPrefix(raw, secret.PrefixAccessToken):
		t, username, err := p.Store.GetTokenWithUsername(ctx, secret.Hash(raw))
		if errors.Is(err, store.ErrNotFound) {
			return inactive, nil
		}
		if err != nil {
			return inactive, p.storeError(ctx, "get token", err)
		}
		var aud []string
		if t.Kind == store.KindAccess {
			aud = p.audienceOr(t.Resources)
		}
		if !t.Active(now) {
			return inactive, nil
		}
		out := Introspection{
			Active: true, Scope: FormatScope(t.Scopes), ClientID: t.ClientID, Exp: t.ExpiresAt.Unix(),
			Iat: t.CreatedAt.Unix(), Sub: t.UserID, Iss: p.Issuer,
		}
		if out.Sub == "" {
			out.Sub = t.ClientID
		}
		// A refresh token is no access token: its type says so, and it
		// has no audience (rs refuses such an answer).
		out.TokenType = "refresh_token"
		if t.Kind == store.KindAccess {
			out.TokenType, out.Aud = "Bearer", aud
			if t.JKT != "" {
				out.TokenType = "DPoP"
			}
		}
		if t.JKT != "" {
			out.Cnf = &token.Confirmation{JKT: t.JKT}
		}
		if !t.AuthTime.IsZero() {
			out.AuthTime = t.AuthTime.Unix()
		}
		out.Username = username
		return out, nil
	case p.JWT != nil && strings.Count(raw, ".") == 2:
		c, ok := p.verifyAccessToken(raw)
		if !ok || c.Issuer != p.Issuer || now.Unix() >= c.Expiry {
			return inactive, nil
		}
		// A revoked JWT is denied until it expires (its row says so). A
		// user's JWT always has a row: none left means its user, client or
		// grant was deleted, and the token went with them.
		t, username, err := p.Store.GetTokenWithUsername(ctx, jtiHash(c.JTI))
		switch {
		case err == nil && !t.Active(now):
			return inactive, nil
		case errors.Is(err, store.ErrNotFound) && c.Subject != c.ClientID:
			return inactive, nil
		case errors.Is(err, store.ErrNotFound):
			// A client's own token (RFC 9068 §2.2: sub is the client id)
			// ends with the client.
			if _, err := p.clients.Get(ctx, c.ClientID); errors.Is(err, store.ErrNotFound) {
				return inactive, nil
			}
		case err != nil:
			return inactive, p.storeError(ctx, "get token", err)
		}
		out := Introspection{
			Active: true, Scope: c.Scope, ClientID: c.ClientID, TokenType: "Bearer", Exp: c.Expiry, Iat: c.IssuedAt,
			Sub: c.Subject, Aud: c.Audience, Iss: c.Issuer, JTI: c.JTI, AuthTime: c.AuthTime,
			Username: username, // only user tokens have a row with a user
		}
		if c.Confirmation != nil && c.Confirmation.JKT != "" {
			out.TokenType, out.Cnf = "DPoP", c.Confirmation
		}
		return out, nil
	}
	return inactive, nil
}

// introspector is who asks at the introspection endpoint: a client, or a
// registered resource (resource set) through its client.
type introspector struct{ clientID, resource string }

// may reports whether the caller may learn about a token of owner with
// audience aud (nil for refresh tokens): a resource, only if the token is
// meant for it; a client, if the token is its own or names its id in aud
// (a resource server registered as a client under tokens.audience).
func (c introspector) may(owner string, aud []string) bool {
	if c.resource != "" {
		return slices.Contains(aud, c.resource)
	}
	return c.clientID == owner || slices.Contains(aud, c.clientID)
}
