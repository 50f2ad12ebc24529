package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

// RFC 7636 Appendix B.
const (
	rfc7636Verifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfc7636Challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestRFC7636_4_6_S256 checks the S256 transform against the RFC's own
// example: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge.
func TestRFC7636_4_6_S256(t *testing.T) {
	if got := s256(rfc7636Verifier); got != rfc7636Challenge {
		t.Fatalf("test helper s256 = %q, want the RFC 7636 Appendix B challenge", got)
	}
	if !VerifyPKCE(rfc7636Verifier, rfc7636Challenge, "S256") {
		t.Fatal("VerifyPKCE rejected RFC 7636 Appendix B")
	}
	if !validChallenge(rfc7636Challenge) {
		t.Error("validChallenge rejected the RFC 7636 Appendix B challenge")
	}
}

// TestRFC7636_PKCEVerify enforces SECURITY.md C3 and C5.
func TestRFC7636_PKCEVerify(t *testing.T) {
	v42 := strings.Repeat("a", 42)
	v43 := strings.Repeat("a", 43)
	v128 := strings.Repeat("Z", 128)
	v129 := strings.Repeat("Z", 129)
	allChars := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
	tests := []struct {
		name                        string
		verifier, challenge, method string
		want                        bool
	}{
		{"RFC7636_4.6/appendix_b", rfc7636Verifier, rfc7636Challenge, "S256", true},
		{"RFC7636_4.1/length_43", v43, s256(v43), "S256", true},
		{"RFC7636_4.1/length_128", v128, s256(v128), "S256", true},
		{"RFC7636_4.1/every_unreserved_char", allChars, s256(allChars), "S256", true},
		{"RFC7636_4.1/length_42", v42, s256(v42), "S256", false},
		{"RFC7636_4.1/length_129", v129, s256(v129), "S256", false},
		{"RFC7636_4.1/empty_verifier", "", s256(""), "S256", false},
		{"RFC7636_4.1/plus", v43[:42] + "+", s256(v43[:42] + "+"), "S256", false},
		{"RFC7636_4.1/slash", v43[:42] + "/", s256(v43[:42] + "/"), "S256", false},
		{"RFC7636_4.1/equals", v43[:42] + "=", s256(v43[:42] + "="), "S256", false},
		{"RFC7636_4.1/space", v43[:42] + " ", s256(v43[:42] + " "), "S256", false},
		{"RFC7636_4.1/percent", v43[:42] + "%", s256(v43[:42] + "%"), "S256", false},
		{"RFC7636_4.1/nul", v43[:42] + "\x00", s256(v43[:42] + "\x00"), "S256", false},
		{"RFC7636_4.1/non_ascii", v43[:41] + "é", s256(v43[:41] + "é"), "S256", false},
		{"RFC7636_4.6/wrong_verifier", v43, rfc7636Challenge, "S256", false},
		{"RFC7636_4.6/empty_challenge", rfc7636Verifier, "", "S256", false},
		{"RFC7636_4.6/padded_challenge", rfc7636Verifier, rfc7636Challenge + "=", "S256", false},
		{"RFC7636_4.6/std_alphabet_challenge", rfc7636Verifier, strings.NewReplacer("-", "+", "_", "/").Replace(rfc7636Challenge), "S256", false},
		{"RFC7636_4.6/challenge_case_differs", rfc7636Verifier, strings.ToLower(rfc7636Challenge), "S256", false},
		{"RFC7636_4.6/truncated_challenge", rfc7636Verifier, rfc7636Challenge[:42], "S256", false},
		{"RFC9700_2.1.1/plain_never", rfc7636Verifier, rfc7636Verifier, "plain", false},
		{"RFC9700_2.1.1/plain_with_s256_challenge", rfc7636Verifier, rfc7636Challenge, "plain", false},
		{"RFC7636_4.3/missing_method_is_not_plain", rfc7636Verifier, rfc7636Verifier, "", false},
		{"RFC7636_4.3/missing_method_with_s256_challenge", rfc7636Verifier, rfc7636Challenge, "", false},
		{"RFC7636_4.2/method_lower_case", rfc7636Verifier, rfc7636Challenge, "s256", false},
		{"RFC7636_4.2/method_with_space", rfc7636Verifier, rfc7636Challenge, "S256 ", false},
		{"RFC7636_4.2/unknown_method", rfc7636Verifier, rfc7636Challenge, "S512", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := VerifyPKCE(tc.verifier, tc.challenge, tc.method); got != tc.want {
				t.Errorf("VerifyPKCE(%q, %q, %q) = %v, want %v", tc.verifier, tc.challenge, tc.method, got, tc.want)
			}
		})
	}
}

// TestRFC7636_4_2_ChallengeForm checks the form of an S256 code_challenge:
// the unpadded base64url of 32 bytes.
func TestRFC7636_4_2_ChallengeForm(t *testing.T) {
	tests := []struct {
		name, challenge string
		want            bool
	}{
		{"RFC7636_4.2/appendix_b", rfc7636Challenge, true},
		{"RFC7636_4.2/all_dashes_is_32_bytes", strings.Repeat("-", 42) + "w", true},
		{"RFC7636_4.2/empty", "", false},
		{"RFC7636_4.2/42_chars", rfc7636Challenge[:42], false},
		{"RFC7636_4.2/44_chars", rfc7636Challenge + "A", false},
		{"RFC7636_4.2/padding", rfc7636Challenge[:42] + "=", false},
		{"RFC7636_4.2/std_alphabet", strings.Repeat("+", 42) + "w", false},
		{"RFC7636_4.2/plain_verifier_as_challenge", strings.Repeat("a", 43) + "~", false},
		{"RFC7636_4.2/space", rfc7636Challenge[:42] + " ", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := validChallenge(tc.challenge); got != tc.want {
				t.Errorf("validChallenge(%q) = %v, want %v", tc.challenge, got, tc.want)
			}
		})
	}
}

// TestRFC7636_4_1_VerifierForm checks validVerifier directly.
func TestRFC7636_4_1_VerifierForm(t *testing.T) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") {
		v := strings.Repeat(string(c), 43)
		if !validVerifier(v) {
			t.Errorf("RFC7636_4.1/unreserved_%q rejected", c)
		}
	}
	for c := 0; c < 256; c++ {
		if strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", byte(c)) >= 0 {
			continue
		}
		v := strings.Repeat("a", 42) + string([]byte{byte(c)})
		if validVerifier(v) {
			t.Errorf("RFC7636_4.1/byte_%#02x accepted", c)
		}
	}
}

// verifierCharsetOK is the RFC 7636 §4.1 charset, written independently.
func verifierCharsetOK(v string) bool {
	for _, r := range []byte(v) {
		if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", rune(r)) {
			return false
		}
	}
	return true
}

// FuzzPKCEVerify checks SECURITY.md F7: accept ⇔ method == S256 ∧
// 43 ≤ len ≤ 128 ∧ charset ∧ BASE64URL(SHA256(verifier)) == challenge.
func FuzzPKCEVerify(f *testing.F) {
	// RFC 7636 Appendix B: the one pair that must be accepted.
	f.Add(rfc7636Verifier, rfc7636Challenge, "S256")
	// Well-formed verifiers with a well-formed challenge that is not theirs:
	// each other's challenge, both ways.
	other := "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag"
	f.Add(rfc7636Verifier, s256(other), "S256")
	f.Add(other, rfc7636Challenge, "S256")
	f.Add(strings.Repeat("a", 43), s256(strings.Repeat("b", 43)), "S256")
	// The right challenge but for its last character. 'Q' changes the
	// hash's last 4 bits; 'N' differs only in the 2 padding bits, so a
	// lenient base64 decoder reads the same 32 bytes, yet RFC 7636 §4.6
	// compares the encoded strings and so must refuse it.
	f.Add(rfc7636Verifier, rfc7636Challenge[:42]+"Q", "S256")
	f.Add(rfc7636Verifier, rfc7636Challenge[:42]+"N", "S256")
	f.Add(rfc7636Verifier, rfc7636Verifier, "plain")
	f.Add(rfc7636Verifier, rfc7636Challenge, "")
	f.Add(strings.Repeat("a", 42), s256(strings.Repeat("a", 42)), "S256")
	f.Add(strings.Repeat("a", 43), s256(strings.Repeat("a", 43)), "S256")
	f.Add(strings.Repeat("a", 128), s256(strings.Repeat("a", 128)), "S256")
	f.Add(strings.Repeat("a", 129), s256(strings.Repeat("a", 129)), "S256")
	f.Add(strings.Repeat("a", 42)+"+", s256(strings.Repeat("a", 42)+"+"), "S256")
	f.Fuzz(func(t *testing.T, verifier, challenge, method string) {
		formOK := method == "S256" && len(verifier) >= 43 && len(verifier) <= 128 && verifierCharsetOK(verifier)
		want := formOK && s256(verifier) == challenge
		if got := VerifyPKCE(verifier, challenge, method); got != want {
			t.Fatalf("VerifyPKCE(%q, %q, %q) = %v, want %v", verifier, challenge, method, got, want)
		}
		// The fuzzer rarely guesses a hash, so also try the right challenge.
		if got := VerifyPKCE(verifier, s256(verifier), method); got != formOK {
			t.Fatalf("VerifyPKCE(%q, S256(verifier), %q) = %v, want %v", verifier, method, got, formOK)
		}
	})
}
