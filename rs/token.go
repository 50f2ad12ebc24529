package rs

import (
	"context"
	"slices"
	"time"
)

// Token is a verified access token. The middleware shares one Token among
// the requests that present the same token while it is cached: treat it,
// its slices and its Claims as read-only.
type Token struct {
	Subject  string
	ClientID string
	Scopes   []string
	Audience []string
	Issuer   string
	Expiry   time.Time
	IssuedAt time.Time
	AuthTime time.Time // zero when the token does not say
	JTI      string
	Username string // from introspection, when the answer has it (RFC 7662 §2.2)
	// Claims are the JWT's claims or the introspection answer's members,
	// as encoding/json decodes them into any.
	Claims map[string]any
}

// HasScope reports whether s is one of the token's scopes (scope values are
// case-sensitive, RFC 6749 §3.3).
func (t *Token) HasScope(s string) bool {
	return slices.Contains(t.Scopes, s)
}

type tokenKey struct{}

// NewContext returns a copy of ctx carrying t.
func NewContext(ctx context.Context, t *Token) context.Context {
	return context.WithValue(ctx, tokenKey{}, t)
}

// FromContext returns the Token the middleware put in ctx.
func FromContext(ctx context.Context) (*Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(*Token)
	return t, ok && t != nil
}
