package secret

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestRFC6819_5_1_4_1_3_PasswordHash: passwords are stored salted with a slow
// hash (argon2id, OWASP parameters) and checked in constant time.
func TestRFC6819_5_1_4_1_3_PasswordHash(t *testing.T) {
	const pw = "correct horse battery staple ✓"
	h := HashPassword(pw)
	t.Run("phc_format", func(t *testing.T) {
		prefix := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", argonMemory, argonTime, argonThreads)
		if !strings.HasPrefix(h, prefix) {
			t.Errorf("HashPassword = %q, want prefix %q", h, prefix)
		}
		if strings.Contains(h, pw) {
			t.Error("the hash contains the password")
		}
	})
	t.Run("round_trip", func(t *testing.T) {
		ok, err := CheckPassword(h, pw)
		if err != nil || !ok {
			t.Errorf("CheckPassword(hash, password) = %v, %v; want true, nil", ok, err)
		}
	})
	t.Run("wrong_passwords", func(t *testing.T) {
		for _, wrong := range []string{"", "correct horse battery staple", pw + " ", strings.ToUpper(pw), pw[:len(pw)-1]} {
			ok, err := CheckPassword(h, wrong)
			if err != nil || ok {
				t.Errorf("CheckPassword(hash, %q) = %v, %v; want false, nil", wrong, ok, err)
			}
		}
	})
	t.Run("salted", func(t *testing.T) {
		if h2 := HashPassword(pw); h2 == h {
			t.Error("two hashes of one password are equal: no salt")
		}
	})
	t.Run("empty_password_round_trip", func(t *testing.T) {
		he := HashPassword("")
		if ok, err := CheckPassword(he, ""); err != nil || !ok {
			t.Errorf("CheckPassword(HashPassword(\"\"), \"\") = %v, %v", ok, err)
		}
	})
	t.Run("burn_password_check", func(t *testing.T) {
		if BurnPasswordCheck(pw) {
			t.Error("BurnPasswordCheck returned true")
		}
	})
}

// TestCheckPassword_MalformedHash: a hash Latchkey cannot read is an error,
// never a panic and never a match.
func TestCheckPassword_MalformedHash(t *testing.T) {
	const salt, key = "c2FsdHNhbHRzYWx0", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	tests := []struct{ name, phc string }{
		{"empty", ""},
		{"plain_text", "hunter2"},
		{"sha256_verifier", HashClientSecret("x")},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", "$argon2i$v=19$m=8,t=1,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=8,t=1,p=1$" + salt + "$" + key},
		{"upper_case_variant", "$ARGON2ID$v=19$m=8,t=1,p=1$" + salt + "$" + key},
		{"too_few_parts", "$argon2id$v=19$m=8,t=1,p=1$" + salt},
		{"too_many_parts", "$argon2id$v=19$m=8,t=1,p=1$" + salt + "$" + key + "$x"},
		{"no_leading_dollar", "argon2id$v=19$m=8,t=1,p=1$" + salt + "$" + key + "$"},
		{"old_version", "$argon2id$v=16$m=8,t=1,p=1$" + salt + "$" + key},
		{"version_missing", "$argon2id$$m=8,t=1,p=1$" + salt + "$" + key},
		{"version_not_number", "$argon2id$v=x$m=8,t=1,p=1$" + salt + "$" + key},
		{"params_missing", "$argon2id$v=19$$" + salt + "$" + key},
		{"params_reordered", "$argon2id$v=19$t=1,m=8,p=1$" + salt + "$" + key},
		{"memory_zero", "$argon2id$v=19$m=0,t=1,p=1$" + salt + "$" + key},
		{"memory_negative", "$argon2id$v=19$m=-8,t=1,p=1$" + salt + "$" + key},
		{"memory_over_bound_256MiB", "$argon2id$v=19$m=262145,t=1,p=1$" + salt + "$" + key},
		{"memory_overflows_uint32", "$argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key},
		{"time_zero", "$argon2id$v=19$m=8,t=0,p=1$" + salt + "$" + key},
		{"time_over_bound", "$argon2id$v=19$m=8,t=17,p=1$" + salt + "$" + key},
		{"threads_zero", "$argon2id$v=19$m=8,t=1,p=0$" + salt + "$" + key},
		{"threads_overflow_uint8", "$argon2id$v=19$m=8,t=1,p=256$" + salt + "$" + key},
		{"threads_over_bound", "$argon2id$v=19$m=8,t=1,p=17$" + salt + "$" + key},
		{"salt_bad_base64", "$argon2id$v=19$m=8,t=1,p=1$!!!$" + key},
		{"salt_padded_base64", "$argon2id$v=19$m=8,t=1,p=1$c2FsdA==$" + key},
		{"key_bad_base64", "$argon2id$v=19$m=8,t=1,p=1$" + salt + "$***"},
		{"key_empty", "$argon2id$v=19$m=8,t=1,p=1$" + salt + "$"},
		{"key_too_long", "$argon2id$v=19$m=8,t=1,p=1$" + salt + "$" + strings.Repeat("A", 176)},
		{"nul_bytes", "$argon2id\x00$v=19$m=8,t=1,p=1$" + salt + "$" + key},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := CheckPassword(tc.phc, "password")
			if !errors.Is(err, ErrMalformedHash) {
				t.Errorf("CheckPassword(%q) error = %v, want ErrMalformedHash", tc.phc, err)
			}
			if ok {
				t.Errorf("CheckPassword(%q) = true for a malformed hash", tc.phc)
			}
		})
	}
	// Well-formed but unusual parameters are computed, never a panic.
	for _, phc := range []string{
		"$argon2id$v=19$m=8,t=1,p=1$$" + key,              // empty salt
		"$argon2id$v=19$m=1,t=1,p=16$" + salt + "$" + key, // memory below 8*threads
		"$argon2id$v=19$m=8,t=1,p=1$" + salt + "$AA",      // one-byte key
	} {
		t.Run("unusual_but_readable/"+phc[len("$argon2id$v=19$"):][:12], func(t *testing.T) {
			ok, err := CheckPassword(phc, "password")
			if err != nil || ok {
				t.Errorf("CheckPassword(%q) = %v, %v; want false, nil", phc, ok, err)
			}
		})
	}
}

// TestRFC6749_2_3_1_CheckClientSecret: client secrets are verified against a
// self-describing stored verifier.
func TestRFC6749_2_3_1_CheckClientSecret(t *testing.T) {
	generated := New(PrefixClientSecret).String()
	shaVerifier := HashClientSecret(generated)
	imported := "an imported secret: p%ss+w"
	argonVerifier := HashImportedSecret(imported)
	sum := sha256.Sum256([]byte(generated))
	tests := []struct {
		name, stored, presented string
		want                    bool
	}{
		{"sha256/match", shaVerifier, generated, true},
		{"sha256/mismatch", shaVerifier, generated + "x", false},
		{"sha256/empty_presented", shaVerifier, "", false},
		{"sha256/verifier_presented_as_secret", shaVerifier, shaVerifier, false},
		{"sha256/hex_presented_as_secret", shaVerifier, hex.EncodeToString(sum[:]), false},
		{"sha256/upper_case_prefix", "SHA256:" + hex.EncodeToString(sum[:]), generated, false},
		{"sha256/truncated_verifier", shaVerifier[:len(shaVerifier)-1], generated, false},
		{"sha256/empty_verifier", "sha256:", generated, false},
		{"sha256/empty_verifier_empty_secret", "sha256:", "", false},
		{"argon2id/match", argonVerifier, imported, true},
		{"argon2id/mismatch", argonVerifier, imported + " ", false},
		{"argon2id/empty_presented", argonVerifier, "", false},
		{"garbage/empty_stored", "", "", false},
		{"garbage/empty_stored_with_secret", "", generated, false},
		{"garbage/plain_text_stored", generated, generated, false},
		{"garbage/unknown_scheme", "md5:" + hex.EncodeToString(sum[:16]), generated, false},
		{"garbage/malformed_argon2id", "$argon2id$v=19$m=0,t=1,p=1$$", "", false},
		{"garbage/bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", "x", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CheckClientSecret(tc.stored, tc.presented); got != tc.want {
				t.Errorf("CheckClientSecret(%q, %q) = %v, want %v", tc.stored, tc.presented, got, tc.want)
			}
		})
	}
	t.Run("sha256/verifier_form", func(t *testing.T) {
		if want := "sha256:" + hex.EncodeToString(sum[:]); shaVerifier != want {
			t.Errorf("HashClientSecret = %q, want %q", shaVerifier, want)
		}
	})
	t.Run("argon2id/verifier_form", func(t *testing.T) {
		if !strings.HasPrefix(argonVerifier, "$argon2id$") || strings.Contains(argonVerifier, imported) {
			t.Errorf("HashImportedSecret = %q", argonVerifier)
		}
	})
}
