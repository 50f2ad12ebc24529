package oidc

import (
	"crypto/sha512"
	"encoding/base64"
	"slices"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

func TestCore_3_1_2_1_Prompt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"", "", true},
		{"none", "none", true},
		{"login consent", "login consent", true},
		{"consent  consent", "consent", true},
		{"select_account", "select_account", true},
		{"none login", "", false},
		{"login none", "", false},
		{"LOGIN", "", false},
		{"bogus", "", false},
	} {
		p, err := ParsePrompt(tc.in)
		if (err == nil) != tc.ok || tc.ok && p.String() != tc.want {
			t.Errorf("ParsePrompt(%q) = %q, %v", tc.in, p.String(), err)
		}
	}
}

func TestCore_5_5_ClaimsRequest(t *testing.T) {
	good, err := ParseClaimsRequest(`{"userinfo":{"email":{"essential":true},"given_name":null,"name":null},"id_token":{"auth_time":{"essential":true},"email_verified":{"values":[true]}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(good.UserInfo, []string{"email", "name"}) || !slices.Equal(good.IDToken, []string{"email_verified"}) {
		t.Fatalf("parsed %+v: unknown claims are ignored, known ones kept", good)
	}
	for _, bad := range []string{`[]`, `{"userinfo":[1]}`, `{"userinfo":{"email":1}}`, `{"userinfo":{"email":{"essential":"yes"}}}`, `{"userinfo":{"email":{"values":1}}}`, `{} x`, `{`, string(make([]byte, 5000))} {
		if _, err := ParseClaimsRequest(bad); err == nil {
			t.Errorf("ParseClaimsRequest(%.40q) accepted", bad)
		}
	}
}

func TestCore_5_4_ScopesReleaseClaims(t *testing.T) {
	u := store.User{ID: "u1", Username: "alice", Name: "Alice", Email: "a@example.com", EmailVerified: true}
	if c := ReleaseClaims(u, []string{"openid"}, nil); c != (UserClaims{}) {
		t.Errorf("openid alone released %+v", c)
	}
	c := ReleaseClaims(u, []string{"openid", "profile"}, nil)
	if c.Name != "Alice" || c.PreferredUsername != "alice" || c.Email != "" {
		t.Errorf("profile released %+v", c)
	}
	c = ReleaseClaims(u, []string{"openid", "email"}, nil)
	if c.Email != "a@example.com" || c.EmailVerified == nil || !*c.EmailVerified || c.Name != "" {
		t.Errorf("email released %+v", c)
	}
	if c := ReleaseClaims(u, []string{"openid"}, []string{"email"}); c.Email != "a@example.com" {
		t.Errorf("a requested claim was not released: %+v", c)
	}
	if c := ReleaseClaims(store.User{}, []string{"email"}, nil); c.EmailVerified != nil {
		t.Error("email_verified without an email")
	}
}

func TestCore_3_3_2_11_HalfHash(t *testing.T) {
	// The example of OpenID Connect Core §A.3: access token
	// jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y gives at_hash
	// 77QmUPtjPfzWtF2AnpK9RQ with RS256.
	if got := HalfHash("RS256", "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"); got != "77QmUPtjPfzWtF2AnpK9RQ" {
		t.Errorf("RS256 at_hash = %q", got)
	}
	h := sha512.Sum512([]byte("x"))
	if got := HalfHash("EdDSA", "x"); got != base64.RawURLEncoding.EncodeToString(h[:32]) {
		t.Errorf("EdDSA uses the left half of SHA-512, got %q", got)
	}
}
