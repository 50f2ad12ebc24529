package oauth

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/secret"
)

// MaxPasswordLen bounds a user password in bytes (argon2id hashes it all).
const MaxPasswordLen = 1024

// CheckPassword is the rule for a password an operator sets, from the
// command line or the admin API: valid UTF-8, at least
// config.MinPasswordLen characters, at most MaxPasswordLen bytes.
func CheckPassword(pw string) error {
	switch n := utf8.RuneCountInString(pw); {
	case !utf8.ValidString(pw):
		return errors.New("the password must be valid UTF-8")
	case n < config.MinPasswordLen:
		return fmt.Errorf("the password must be at least %d characters (got %d)", config.MinPasswordLen, n)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("the password must be at most %d bytes", MaxPasswordLen)
	}
	return nil
}

// DefaultGrantTypes are a new client's grant types when none are given.
var DefaultGrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}

// HashGivenSecret returns the stored verifier of a client secret given by
// an operator: a secret of exactly the form Latchkey generates (lk_cs_ and
// 256 bits) is stored as SHA-256, any other with argon2id (its entropy is
// unknown).
func HashGivenSecret(plain string) string {
	if secret.HasPrefix(plain, secret.PrefixClientSecret) {
		return secret.HashClientSecret(plain)
	}
	return secret.HashImportedSecret(plain)
}

// ValidateEmail accepts an empty address or a bare addr-spec (RFC 5322 §3.4.1).
func ValidateEmail(email string) error {
	if email == "" {
		return nil
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return fmt.Errorf("invalid email address %q", email)
	}
	return nil
}

// ValidateName checks a user's full name.
func ValidateName(name string) error {
	if !shortText(name) {
		return errors.New("the name must be at most 200 characters without control characters")
	}
	return nil
}

// ValidateDescription checks what an operator writes to say what something
// is for (an initial access token's description).
func ValidateDescription(d string) error {
	if !shortText(d) {
		return errors.New("the description must be at most 200 characters without control characters")
	}
	return nil
}

// shortText is at most 200 bytes of valid UTF-8 without control characters.
func shortText(s string) bool {
	return len(s) <= 200 && utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f })
}
