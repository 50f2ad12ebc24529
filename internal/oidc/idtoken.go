package oidc

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"

	"github.com/latchkey/latchkey/internal/token"
)

// ID token signing algorithms Latchkey offers. RS256 is the default: "The
// default, if omitted, is RS256" (OpenID Connect Registration §2,
// id_token_signed_response_alg) and every provider MUST support it
// (Discovery §3).
const DefaultIDTokenAlg = token.RS256

// IDTokenAlgs are the algorithms a client may register for its ID tokens.
var IDTokenAlgs = []string{token.RS256, token.ES256, token.EdDSA}

// IDTokenAlg returns the algorithm that signs c's ID tokens.
func IDTokenAlg(registered string) string {
	if registered == "" {
		return DefaultIDTokenAlg
	}
	return registered
}

// TypeIDToken is the typ header of ID tokens: plain "JWT", which every
// relying-party library accepts.
const TypeIDToken = token.TypeIDToken

// AMRPassword is the amr value of a password sign-in (RFC 8176 §2).
const AMRPassword = "pwd"

// ACR values (Core §2 acr): "1" when the user entered a password for this
// very authorization, "0" when an existing single sign-on session answered
// it, as Keycloak reports them. Relying parties that need a fresh sign-in
// send max_age or prompt=login.
const (
	ACRSession = "0"
	ACRLogin   = "1"
)

// IDTokenClaims are the claims of an ID token (Core §2, §3.1.3.6,
// §3.3.2.11).
type IDTokenClaims struct {
	Issuer   string         `json:"iss"`
	Subject  string         `json:"sub"`
	Audience token.Audience `json:"aud"`
	Expiry   int64          `json:"exp"`
	IssuedAt int64          `json:"iat"`
	AuthTime int64          `json:"auth_time,omitempty"`
	Nonce    string         `json:"nonce,omitempty"`
	ACR      string         `json:"acr,omitempty"`
	AMR      []string       `json:"amr,omitempty"`
	// AZP is the client the token was issued to (Core §2: "the OAuth 2.0
	// Client ID of this party").
	AZP       string `json:"azp,omitempty"`
	SessionID string `json:"sid,omitempty"`
	ATHash    string `json:"at_hash,omitempty"`
	CHash     string `json:"c_hash,omitempty"`
	UserClaims
}

// HalfHash is the at_hash or c_hash of value for an ID token signed with
// alg (Core §3.1.3.6, §3.3.2.11): "the base64url encoding of the left-most
// half of the hash of the octets of the ASCII representation" of value,
// with the hash of the alg: SHA-256 for RS256 and ES256, and SHA-512 for
// EdDSA with Ed25519 (whose signatures use SHA-512).
func HalfHash(alg, value string) string {
	if alg == token.EdDSA {
		h := sha512.Sum512([]byte(value))
		return base64.RawURLEncoding.EncodeToString(h[:len(h)/2])
	}
	h := sha256.Sum256([]byte(value))
	return base64.RawURLEncoding.EncodeToString(h[:len(h)/2])
}

// TypeLogoutToken is the typ of back-channel logout tokens, explicitly typed
// as Back-Channel Logout 1.0 §2.4 recommends so that a logout token can
// never pass for an ID token.
const TypeLogoutToken = token.TypeLogoutToken

// EventBackchannelLogout is the event a logout token carries (Back-Channel
// Logout 1.0 §2.4).
const EventBackchannelLogout = "http://schemas.openid.net/event/backchannel-logout"

// LogoutTokenClaims are the claims of a logout token (Back-Channel Logout
// 1.0 §2.4): never a nonce, always events, and sid and sub.
type LogoutTokenClaims struct {
	Issuer    string                    `json:"iss"`
	Subject   string                    `json:"sub,omitempty"`
	Audience  token.Audience            `json:"aud"`
	IssuedAt  int64                     `json:"iat"`
	Expiry    int64                     `json:"exp"`
	JTI       string                    `json:"jti"`
	Events    map[string]map[string]any `json:"events"`
	SessionID string                    `json:"sid,omitempty"`
}
