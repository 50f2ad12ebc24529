package oauth

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/secret"
)

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
	if len(name) > 200 || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return errors.New("the name must be at most 200 characters without control characters")
	}
	return nil
}
