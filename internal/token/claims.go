package token

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Token types: the typ header Sign writes and Verify wants.
const (
	// TypeAccessToken is the typ of JWT access tokens (RFC 9068 §2.1).
	TypeAccessToken = "at+jwt"
	// TypeIDToken is the typ of ID tokens: OpenID Connect defines none, and
	// "JWT" is what relying parties accept (RFC 7519 §5.1).
	TypeIDToken = "JWT"
	// TypeLogoutToken is the typ of back-channel logout tokens, explicitly
	// typed as OpenID Connect Back-Channel Logout 1.0 §2.4 recommends (RFC
	// 8725 §3.11), so that no other JWT passes for one.
	TypeLogoutToken = "logout+jwt"
)

// AccessClaims are the claims of a JWT access token (RFC 9068 §2.2). Times
// are NumericDate seconds (RFC 7519 §2).
type AccessClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  Audience `json:"aud"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope,omitempty"`
	Expiry    int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf,omitempty"`
	JTI       string   `json:"jti"`
	AuthTime  int64    `json:"auth_time,omitempty"`
	// GrantID names the consent the token belongs to, so that revoking the
	// grant can deny its tokens.
	GrantID string `json:"lk_gid,omitempty"`
	// Confirmation binds the token to a key (RFC 7800 §3.1; DPoP, RFC 9449
	// §6.1: cnf.jkt).
	Confirmation *Confirmation `json:"cnf,omitempty"`
}

// Confirmation is the cnf claim.
type Confirmation struct {
	JKT string `json:"jkt,omitempty"`
}

// Audience is the aud claim: "In the general case, the 'aud' value is an
// array of case-sensitive strings ... In the special case when the JWT has
// one audience, the 'aud' value MAY be a single case-sensitive string"
// (RFC 7519 §4.1.3). It marshals as a string when it has one member, an
// array otherwise, and unmarshals from either.
type Audience []string

// MarshalJSON writes one audience as a string, others as an array.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	if a == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON reads a string or an array of strings (null: no audience).
func (a *Audience) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*a = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = Audience{s}
		return nil
	}
	if len(b) > 0 && b[0] == '[' {
		var l []string
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		*a = l
		return nil
	}
	return errors.New("token: aud must be a string or an array of strings")
}

// Contains reports whether aud is one of the audiences.
func (a Audience) Contains(aud string) bool {
	for _, v := range a {
		if v == aud {
			return true
		}
	}
	return false
}
