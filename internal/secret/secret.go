// Package secret makes and checks Latchkey's secrets: random prefixed tokens,
// SHA-256 lookup hashes, argon2id password hashes and constant-time compares.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"strings"
)

// Prefixes mark each kind of artifact so that secret scanners can spot a
// leak and so that one kind can never be presented in another's slot.
const (
	PrefixCode         = "lk_ac_"
	PrefixAccessToken  = "lk_at_"
	PrefixRefreshToken = "lk_rt_"
	PrefixClientSecret = "lk_cs_"
	PrefixSession      = "lk_ss_"
	PrefixBrowser      = "lk_br_"
	PrefixAuthRequest  = "lk_ar_"
	PrefixDeviceCode   = "lk_dc_"
	// PrefixRegistrationAccess marks a self-registered client's
	// registration access token (RFC 7592 §1.1), PrefixInitialAccess an
	// initial access token that allows a registration (RFC 7591 §3).
	PrefixRegistrationAccess = "lk_ra_"
	PrefixInitialAccess      = "lk_ia_"
	// PrefixRequestURI marks the random part of a pushed request's
	// request_uri (RFC 9126 §2.2).
	PrefixRequestURI = "lk_ru_"
)

// randomBytes is the entropy of every generated token: 256 bits
// (RFC 6749 §10.10 asks for at most 2^-128 guess probability).
const randomBytes = 32

// Value is a secret string whose log form is redacted.
type Value string

// LogValue keeps secrets out of logs.
func (Value) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// String returns the secret itself; use only to send it to its owner.
func (v Value) String() string { return string(v) }

// New returns prefix followed by 256 random bits in unpadded base64url.
func New(prefix string) Value {
	return Value(prefix + RandomString(randomBytes))
}

// RandomString returns n random bytes from crypto/rand as unpadded base64url.
func RandomString(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error on supported platforms (Go 1.24+).
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HasPrefix reports whether s is a well-formed token of the given kind:
// the prefix followed by exactly 43 base64url characters.
func HasPrefix(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(randomBytes) {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Hash returns the hex SHA-256 of s: the only form in which tokens, codes and
// sessions are stored and looked up.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Equal compares two strings in constant time (for equal lengths).
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
