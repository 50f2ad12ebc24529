package rs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// introspection is an RFC 7662 §2.2 answer.
type introspection struct {
	Active    *bool            `json:"active"`
	Scope     string           `json:"scope"`
	ClientID  string           `json:"client_id"`
	Username  string           `json:"username"`
	TokenType string           `json:"token_type"`
	Expiry    *jwt.NumericDate `json:"exp"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	AuthTime  *jwt.NumericDate `json:"auth_time"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Issuer    string           `json:"iss"`
	JTI       string           `json:"jti"`
}

// introspect asks the issuer about raw (RFC 7662) and returns the token
// with how long the answer may be cached. An inactive answer is cached for
// IntrospectionCacheTTL too, replacing whatever the cache held for the
// token; a failure to get an answer is not cached.
func (g *Guard) introspect(ctx context.Context, k cacheKey, raw string, now time.Time) (*Token, time.Time, *Error) {
	ans, all, err := g.askIntrospection(ctx, raw)
	if err != nil {
		return nil, time.Time{}, unavailable("the authorization server's introspection endpoint could not be used", err)
	}
	tok, e := g.checkIntrospection(ans, all, now)
	until := now.Add(g.cfg.IntrospectionCacheTTL)
	if e != nil {
		g.cache.put(k, entry{until: until}, now) // replaces a verified entry
		return nil, time.Time{}, e
	}
	if ans.Expiry != nil && ans.Expiry.Time().Before(until) {
		until = ans.Expiry.Time()
	}
	return tok, until, nil
}

// askIntrospection POSTs token and token_type_hint (RFC 7662 §2.1) with
// client_secret_basic: "The client identifier is encoded using the
// application/x-www-form-urlencoded encoding algorithm ... and the encoded
// value is used as the username; the client password is encoded using the
// same algorithm and used as the password" (RFC 6749 §2.3.1).
func (g *Guard) askIntrospection(ctx context.Context, raw string) (*introspection, map[string]any, error) {
	m, err := g.metadata(ctx)
	if err != nil {
		return nil, nil, err
	}
	if m.IntrospectionEndpoint == "" {
		return nil, nil, errors.New("the issuer's metadata has no introspection_endpoint")
	}
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}.Encode()
	req, err := http.NewRequest(http.MethodPost, m.IntrospectionEndpoint, strings.NewReader(form))
	if err != nil {
		return nil, nil, err
	}
	cred := url.QueryEscape(g.cfg.ClientID) + ":" + url.QueryEscape(g.cfg.ClientSecret)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cred)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	body, err := g.do(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	var ans introspection
	var all map[string]any
	if json.Unmarshal(body, &ans) != nil || json.Unmarshal(body, &all) != nil || ans.Active == nil {
		return nil, nil, errors.New("the introspection answer is not an RFC 7662 §2.2 object")
	}
	return &ans, all, nil
}

// checkIntrospection turns an answer into a Token, or invalid_token.
func (g *Guard) checkIntrospection(ans *introspection, all map[string]any, now time.Time) (*Token, *Error) {
	switch {
	case !*ans.Active:
		return nil, invalidToken("the access token is not active")
	// RFC 7662 §2.2 token_type is the type of RFC 6749 §7.1: Bearer, or
	// DPoP for a token bound to a key (RFC 9449 §6.2), whose proof the
	// request must then carry (verifyRequest); anything else is refused.
	case ans.TokenType != "" && !strings.EqualFold(ans.TokenType, "Bearer") && !strings.EqualFold(ans.TokenType, "DPoP"):
		return nil, invalidToken("the access token is neither a Bearer nor a DPoP token")
	case strings.EqualFold(ans.TokenType, "DPoP") && (&Token{Claims: all}).DPoPKey() == "":
		return nil, invalidToken("the DPoP token's introspection answer names no key (cnf.jkt)")
	case ans.Issuer != "" && ans.Issuer != g.cfg.Issuer:
		return nil, invalidToken("the access token is from another issuer")
	// RFC 7662 §4: the resource server must check that the token is meant
	// for it. An answer without aud cannot say so (it is, for example, the
	// introspection of a refresh token by its own client), so it is refused.
	case !slices.Contains(ans.Audience, g.cfg.Resource):
		return nil, invalidToken("the access token is not meant for this resource")
	}
	if e := g.checkTimes(ans.Expiry, ans.NotBefore, nil, now); e != nil {
		return nil, e
	}
	iss := ans.Issuer
	if iss == "" {
		iss = g.cfg.Issuer
	}
	return &Token{
		Subject: ans.Subject, ClientID: ans.ClientID, Scopes: strings.Fields(ans.Scope), Audience: ans.Audience,
		Issuer: iss, Expiry: timeOf(ans.Expiry), IssuedAt: timeOf(ans.IssuedAt), AuthTime: timeOf(ans.AuthTime),
		JTI: ans.JTI, Username: ans.Username, Claims: all,
	}, nil
}
