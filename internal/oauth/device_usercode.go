package oauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode"

	"github.com/latchkey/latchkey/internal/secret"
)

// User codes (RFC 8628 §6.1): 8 letters from 20 consonants, shown as
// XXXX-XXXX. "The user code SHOULD be case-insensitive, and characters that
// are not in the alphabet SHOULD be ignored": no vowels (no words, no 0/O or
// 1/I confusion), no Y; typed in any case, with or without the dash or
// spaces.
const (
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLength   = 8
	// maxUserCodeInput bounds what the page reads of a typed code.
	maxUserCodeInput = 64
)

// newUserCode returns a random user code, normalized (8 letters, no dash),
// each letter uniform over the alphabet (rejection sampling of bytes from
// crypto/rand).
func newUserCode() string {
	out := make([]byte, 0, userCodeLength)
	buf := make([]byte, 2*userCodeLength)
	for len(out) < userCodeLength {
		_, _ = rand.Read(buf) // never fails on supported platforms (Go 1.24+)
		for _, b := range buf {
			// 240 = 12 x 20: bytes at or above it would favour the first letters.
			if b < 240 && len(out) < userCodeLength {
				out = append(out, userCodeAlphabet[int(b)%len(userCodeAlphabet)])
			}
		}
	}
	return string(out)
}

// FormatUserCode shows a normalized user code as XXXX-XXXX.
func FormatUserCode(code string) string {
	if len(code) != userCodeLength {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// NormalizeUserCode turns what a user typed into the code it names: ASCII
// letters upper-cased, dashes (any Unicode dash) and spaces dropped. It
// reports false unless exactly 8 letters of the alphabet remain; no other
// folding is done, so two inputs name the same code only by these rules.
func NormalizeUserCode(typed string) (string, bool) {
	if len(typed) > maxUserCodeInput {
		return "", false
	}
	var b strings.Builder
	for _, r := range typed {
		switch {
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		case unicode.IsSpace(r) || unicode.Is(unicode.Pd, r):
			continue
		}
		if !strings.ContainsRune(userCodeAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != userCodeLength {
		return "", false
	}
	return b.String(), true
}

// userCodeHash is the stored lookup key of a normalized user code: an
// HMAC-SHA256 under UserCodeKey, so that the database alone does not give
// the codes away (34 bits are searched in seconds, a plain hash would hide
// nothing); a plain SHA-256 without a key.
func (p *Provider) userCodeHash(code string) string { return userCodeHash(p.UserCodeKey, code) }

func userCodeHash(key []byte, code string) string {
	if len(key) == 0 {
		return secret.Hash("user_code:" + code)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

// Limits on guessing user codes at the device page (RFC 8628 §5.1: "the
// authorization server [...] SHOULD implement rate limiting"). Only wrong
// codes count; entering a right one gives its reservation back.
//
// A code is 8 letters of 20: 20^8 = 2.56e10 values, about 34.6 bits. An
// attacker who entered G wrong codes while a given code lived hits it with
// probability G / 2.56e10. One address is allowed 5 a minute: 50 over a
// 10-minute code, 2e-9. Everywhere together, 1,000 a minute: 10,000 over
// the code's life, 3.9e-7 for that code (SECURITY.md B3 asks < 1e-6), or
// N x 3.9e-7 for one of N codes pending at once. What a hit gains is small
// besides: the attacker can only approve the device for their own account,
// or deny it (§5.1), and must be signed in to try at all.
const (
	userCodeAddressFailures = 5
	// Per signed-in user, from any address: an account guessing through
	// many addresses.
	userCodeUserFailures = 10
	// Everywhere: past this, an address that has entered a wrong code in
	// this window is refused before any check; a user typing their code
	// right the first time still gets in.
	userCodeAllFailures = 1000
	userCodeWindow      = time.Minute
)

// userCodeThrottles are the counters of wrong user codes.
type userCodeThrottles struct {
	address, user, all *Throttle
}

func newUserCodeThrottles() userCodeThrottles {
	return userCodeThrottles{
		address: NewThrottle("user-code-address", userCodeAddressFailures, userCodeWindow, throttleKeys),
		user:    NewThrottle("user-code-user", userCodeUserFailures, userCodeWindow, throttleKeys),
		all:     NewThrottle("user-code-all", userCodeAllFailures, userCodeWindow, 1),
	}
}

func (t userCodeThrottles) list() []*Throttle { return []*Throttle{t.address, t.user, t.all} }
