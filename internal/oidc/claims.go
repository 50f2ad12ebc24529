// Package oidc holds what is OpenID-only and needs no HTTP: the claims of a
// user for the granted scopes, the claims request parameter, the contents
// of ID tokens and logout tokens, and the hashes that bind them to codes and
// access tokens (OpenID Connect Core 1.0, Back-Channel Logout 1.0).
package oidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"

	"github.com/latchkey/latchkey/internal/store"
)

// Scopes with a meaning in OpenID Connect Core §5.4.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
)

// Claims Latchkey can release about a user, by the scope that allows each
// (Core §5.4): profile gives name and preferred_username, email gives email
// and email_verified. sub is always released.
var scopeClaims = map[string][]string{
	ScopeProfile: {"name", "preferred_username"},
	ScopeEmail:   {"email", "email_verified"},
}

// SupportedClaims lists every claim Latchkey may put in an ID token or a
// userinfo answer (Discovery §3 claims_supported).
var SupportedClaims = []string{
	"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid", "at_hash", "c_hash",
	"name", "preferred_username", "email", "email_verified",
}

// releasable reports whether name is a user claim Latchkey knows.
func releasable(name string) bool {
	for _, cs := range scopeClaims {
		if slices.Contains(cs, name) {
			return true
		}
	}
	return false
}

// UserClaims are the claims about the user in an ID token or a userinfo
// answer. Empty members are left out: Core §5.3.2 "If a Claim is not
// returned, that Claim Name SHOULD be omitted".
type UserClaims struct {
	Name              string `json:"name,omitempty"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	Email             string `json:"email,omitempty"`
	EmailVerified     *bool  `json:"email_verified,omitempty"`
}

// ReleaseClaims returns the claims of u that the scopes allow, plus those
// named in extra (the claims request parameter, Core §5.5), limited to the
// claims Latchkey knows.
func ReleaseClaims(u store.User, scopes []string, extra []string) UserClaims {
	var names []string
	for _, s := range scopes {
		names = append(names, scopeClaims[s]...)
	}
	names = append(names, extra...)
	var c UserClaims
	for _, n := range names {
		switch n {
		case "name":
			c.Name = u.Name
		case "preferred_username":
			c.PreferredUsername = u.Username
		case "email":
			c.Email = u.Email
		case "email_verified":
			if u.Email != "" {
				v := u.EmailVerified
				c.EmailVerified = &v
			}
		}
	}
	return c
}

// maxClaimsRequest bounds the claims parameter.
const maxClaimsRequest = 4 << 10

// ClaimsRequest is the claims request parameter (Core §5.5): the claims
// asked for in the ID token and at the userinfo endpoint. Latchkey keeps
// the names only; every claim it knows is released as it is, so essential,
// value and values change nothing but are checked for form.
type ClaimsRequest struct {
	IDToken  []string
	UserInfo []string
}

// ErrClaimsRequest reports a malformed claims parameter.
var ErrClaimsRequest = errors.New("the claims parameter is not a valid claims request (OpenID Connect Core §5.5)")

// ParseClaimsRequest parses and checks a claims parameter. Members other
// than id_token and userinfo are ignored, as are unknown claim names
// (§5.5: "Claims that are not understood ... MUST be ignored").
func ParseClaimsRequest(raw string) (ClaimsRequest, error) {
	var out ClaimsRequest
	if raw == "" {
		return out, nil
	}
	if len(raw) > maxClaimsRequest {
		return out, ErrClaimsRequest
	}
	var top map[string]json.RawMessage
	if err := strictJSON([]byte(raw), &top); err != nil {
		return out, ErrClaimsRequest
	}
	for member, dst := range map[string]*[]string{"id_token": &out.IDToken, "userinfo": &out.UserInfo} {
		v, ok := top[member]
		if !ok || string(v) == "null" {
			continue
		}
		var set map[string]json.RawMessage
		if err := json.Unmarshal(v, &set); err != nil {
			return ClaimsRequest{}, ErrClaimsRequest
		}
		for name, spec := range set {
			if !validClaimSpec(spec) {
				return ClaimsRequest{}, ErrClaimsRequest
			}
			if releasable(name) && !slices.Contains(*dst, name) {
				*dst = append(*dst, name)
			}
		}
		slices.Sort(*dst)
	}
	return out, nil
}

// validClaimSpec: each requested claim is null or an object (§5.5.1).
func validClaimSpec(spec json.RawMessage) bool {
	spec = bytes.TrimSpace(spec)
	if string(spec) == "null" {
		return true
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(spec, &obj) != nil {
		return false
	}
	if e, ok := obj["essential"]; ok {
		var b bool
		if json.Unmarshal(e, &b) != nil {
			return false
		}
	}
	if vs, ok := obj["values"]; ok {
		var l []json.RawMessage
		if json.Unmarshal(vs, &l) != nil {
			return false
		}
	}
	return true
}

// strictJSON decodes one JSON object with nothing after it.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	if v, ok := v.(*map[string]json.RawMessage); ok && *v == nil {
		return errors.New("not an object")
	}
	return nil
}
