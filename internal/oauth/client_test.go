package oauth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

func testScopes() *Scopes {
	return NewScopes([]config.Scope{{Name: "openid"}, {Name: "profile"}, {Name: "offline_access"}})
}

// validClient returns a confidential authorization-code client that passes
// ValidateClient; each case changes one thing.
func validClient() store.Client {
	return store.Client{
		ID:              "lk_client1",
		SecretHash:      secret.HashClientSecret("lk_cs_x"),
		Name:            "Notes",
		RedirectURIs:    []string{"https://app.example/cb", "http://127.0.0.1/cb"},
		GrantTypes:      []string{GrantAuthorizationCode, GrantRefreshToken},
		Scopes:          []string{"openid", "profile"},
		CodeTTL:         time.Minute,
		AccessTokenTTL:  time.Hour,
		RefreshTokenTTL: 24 * time.Hour,
	}
}

func TestValidateClient(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *store.Client)
		want   string // substring of the error; "" for valid
	}{
		{"valid/confidential", func(c *store.Client) {}, ""},
		{"valid/public_with_pkce_flow", func(c *store.Client) { c.Public, c.SecretHash = true, "" }, ""},
		{"valid/argon2id_secret", func(c *store.Client) { c.SecretHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5" }, ""},
		{"valid/client_credentials_only_needs_no_redirect", func(c *store.Client) {
			c.GrantTypes, c.RedirectURIs = []string{GrantClientCredentials}, nil
		}, ""},
		{"valid/every_grant_type_confidential", func(c *store.Client) { c.GrantTypes = KnownGrantTypes }, ""},
		{"valid/zero_ttls_mean_default", func(c *store.Client) { c.CodeTTL, c.AccessTokenTTL, c.RefreshTokenTTL = 0, 0, 0 }, ""},
		{"valid/code_ttl_exactly_10m", func(c *store.Client) { c.CodeTTL = 10 * time.Minute }, ""},
		{"valid/id_255_chars", func(c *store.Client) { c.ID = strings.Repeat("a", 255) }, ""},
		{"valid/name_200_chars", func(c *store.Client) { c.Name = strings.Repeat("n", 200) }, ""},
		{"valid/no_scopes", func(c *store.Client) { c.Scopes = nil }, ""},
		{"RFC6749_A.1/id_with_every_VSCHAR_but_space_and_colon", func(c *store.Client) { c.ID = "!~a-._~9" }, ""},
		{"valid/private_key_jwt_with_https_jwks_uri", func(c *store.Client) {
			c.SecretHash, c.TokenEndpointAuthMethod, c.JWKSURI = "", AuthPrivateKeyJWT, "https://app.example/jwks.json"
		}, ""},
		{"SECURITY_S9/jwks_uri_over_plain_http", func(c *store.Client) {
			c.SecretHash, c.TokenEndpointAuthMethod, c.JWKSURI = "", AuthPrivateKeyJWT, "http://app.example/jwks.json"
		}, "jwks_uri"},
		{"valid/openid_metadata", func(c *store.Client) {
			c.PostLogoutRedirectURIs, c.BackchannelLogoutURI, c.FirstParty = []string{"https://app.example/bye"}, "https://app.example/bcl", true
		}, ""},
		{"RPInitiatedLogout_3.1/post_logout_uri_checked_like_a_redirect_uri", func(c *store.Client) {
			c.PostLogoutRedirectURIs = []string{"javascript:alert(1)"}
		}, "post-logout"},
		{"RFC8252_8.6/public_client_cannot_be_first_party", func(c *store.Client) { c.Public, c.SecretHash, c.FirstParty = true, "", true }, "first-party"},

		{"RFC6749_2.2/empty_id", func(c *store.Client) { c.ID = "" }, "client id"},
		{"RFC6749_2.2/id_256_chars", func(c *store.Client) { c.ID = strings.Repeat("a", 256) }, "client id"},
		{"RFC6749_2.3.1/id_with_colon", func(c *store.Client) { c.ID = "a:b" }, "client id"},
		{"RFC6749_2.2/id_with_space", func(c *store.Client) { c.ID = "a b" }, "client id"},
		{"RFC6749_2.2/id_with_tab", func(c *store.Client) { c.ID = "a\tb" }, "client id"},
		{"RFC6749_2.2/id_with_newline", func(c *store.Client) { c.ID = "a\nb" }, "client id"},
		{"RFC6749_2.2/id_with_cr", func(c *store.Client) { c.ID = "a\rb" }, "client id"},
		{"RFC6749_2.2/id_with_nul", func(c *store.Client) { c.ID = "a\x00b" }, "client id"},
		{"RFC6749_A.1/id_with_control_char", func(c *store.Client) { c.ID = "a\x01b" }, "client id"},
		{"RFC6749_A.1/id_with_del", func(c *store.Client) { c.ID = "a\x7fb" }, "client id"},
		{"RFC6749_A.1/id_non_ascii", func(c *store.Client) { c.ID = "clïent" }, "client id"},
		{"name/empty", func(c *store.Client) { c.Name = "" }, "client name"},
		{"name/blank", func(c *store.Client) { c.Name = " \t " }, "client name"},
		{"name/201_chars", func(c *store.Client) { c.Name = strings.Repeat("n", 201) }, "client name"},
		{"RFC6749_2.1/public_with_secret", func(c *store.Client) { c.Public = true }, "public client has no secret"},
		{"RFC6749_2.1/confidential_without_secret", func(c *store.Client) { c.SecretHash = "" }, "confidential client needs a secret"},
		{"RFC6749_4/no_grant_types", func(c *store.Client) { c.GrantTypes = nil }, "at least one grant type"},
		{"RFC6749_4/unknown_grant_type", func(c *store.Client) { c.GrantTypes = append(c.GrantTypes, "magic") }, `unknown grant type "magic"`},
		{"RFC6749_4/grant_type_case", func(c *store.Client) { c.GrantTypes = []string{"Authorization_Code"} }, "unknown grant type"},
		{"RFC6749_4.4/client_credentials_public", func(c *store.Client) {
			c.Public, c.SecretHash, c.GrantTypes = true, "", []string{GrantAuthorizationCode, GrantClientCredentials}
		}, "client_credentials needs a confidential client"},
		{"RFC9700_2.4/password_public", func(c *store.Client) {
			c.Public, c.SecretHash, c.GrantTypes = true, "", []string{GrantAuthorizationCode, GrantPassword}
		}, "password grant is never allowed for public clients"},
		{"RFC6749_3.1.2.2/authorization_code_without_redirect", func(c *store.Client) { c.RedirectURIs = nil }, "at least one redirect URI"},
		{"RFC6749_3.1.2.2/implicit_without_redirect", func(c *store.Client) {
			c.GrantTypes, c.RedirectURIs = []string{GrantImplicit}, nil
		}, "at least one redirect URI"},
		{"RFC9700_2.6/http_redirect", func(c *store.Client) { c.RedirectURIs = []string{"http://app.example/cb"} }, `redirect URI "http://app.example/cb"`},
		{"RFC9700_2.6/javascript_redirect", func(c *store.Client) { c.RedirectURIs = append(c.RedirectURIs, "JaVaScRiPt:alert(1)") }, "redirect URI"},
		{"RFC6749_3.1.2/fragment_redirect", func(c *store.Client) { c.RedirectURIs = []string{"https://a/cb#x"} }, "fragment"},
		{"RFC6749_3.3/unknown_scope", func(c *store.Client) { c.Scopes = []string{"openid", "admin"} }, `unknown scope "admin"`},
		{"ttl/negative_code_ttl", func(c *store.Client) { c.CodeTTL = -time.Second }, "code_ttl must not be negative"},
		{"ttl/negative_access_token_ttl", func(c *store.Client) { c.AccessTokenTTL = -1 }, "access_token_ttl must not be negative"},
		{"ttl/negative_refresh_token_ttl", func(c *store.Client) { c.RefreshTokenTTL = -1 }, "refresh_token_ttl must not be negative"},
		{"RFC6749_4.1.2/code_ttl_over_10m", func(c *store.Client) { c.CodeTTL = 10*time.Minute + time.Nanosecond }, "code_ttl must be at most 10m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validClient()
			tc.change(&c)
			err := ValidateClient(c, testScopes())
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ValidateClient = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateClient = nil, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ValidateClient = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestValidateClient_ReportsEveryProblem: an operator fixes a registration in
// one pass, so every problem is reported at once.
func TestValidateClient_ReportsEveryProblem(t *testing.T) {
	c := store.Client{
		ID:             "bad id",
		Name:           "",
		Public:         true,
		SecretHash:     "sha256:00",
		GrantTypes:     []string{GrantAuthorizationCode, GrantPassword, "magic"},
		RedirectURIs:   []string{"http://app.example/cb", "https://a/cb?code=1"},
		Scopes:         []string{"admin"},
		CodeTTL:        time.Hour,
		AccessTokenTTL: -1,
	}
	err := ValidateClient(c, testScopes())
	if err == nil {
		t.Fatal("ValidateClient = nil")
	}
	want := []string{
		"client id", "client name", "public client has no secret", "password grant", `unknown grant type "magic"`,
		`redirect URI "http://app.example/cb"`, `redirect URI "https://a/cb?code=1"`, `unknown scope "admin"`,
		"access_token_ttl must not be negative", "code_ttl must be at most 10m",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not report %q:\n%v", w, err)
		}
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T does not unwrap to a list", err)
	}
	if n := len(joined.Unwrap()); n != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", n, len(want), err)
	}
	t.Run("redirect_errors_wrap_the_cause", func(t *testing.T) {
		for _, e := range joined.Unwrap() {
			if strings.HasPrefix(e.Error(), "redirect URI ") && errors.Unwrap(e) == nil {
				t.Errorf("%q does not wrap the validation error", e)
			}
		}
	})
}

func TestNewClientCredentials(t *testing.T) {
	t.Run("RFC6749_2.2/client_id_unique_and_prefixed", func(t *testing.T) {
		seen := map[string]bool{}
		for range 1000 {
			id := NewClientID()
			if !strings.HasPrefix(id, "lk_") || len(id) != len("lk_")+16 || seen[id] {
				t.Fatalf("NewClientID() = %q (seen before: %v)", id, seen[id])
			}
			seen[id] = true
			c := validClient()
			c.ID = id
			if err := ValidateClient(c, testScopes()); err != nil {
				t.Fatalf("a generated id is invalid: %v", err)
			}
		}
	})
	t.Run("RFC6749_10.10/client_secret_256_bits", func(t *testing.T) {
		v, verifier := NewClientSecret()
		s := v.String()
		if !secret.HasPrefix(s, secret.PrefixClientSecret) {
			t.Fatalf("NewClientSecret() = %q without the client secret prefix", s)
		}
		if b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, secret.PrefixClientSecret)); err != nil || len(b) != 32 {
			t.Errorf("secret body decodes to %d bytes, %v; want 32", len(b), err)
		}
		if strings.Contains(verifier, s) || !strings.HasPrefix(verifier, "sha256:") {
			t.Errorf("verifier %q must be a hash, not the secret", verifier)
		}
		if !secret.CheckClientSecret(verifier, s) || secret.CheckClientSecret(verifier, s+"x") {
			t.Error("the verifier does not check the secret")
		}
	})
	t.Run("allows_grant", func(t *testing.T) {
		c := validClient()
		if !AllowsGrant(c, GrantAuthorizationCode) || AllowsGrant(c, GrantPassword) || AllowsGrant(c, "") {
			t.Error("AllowsGrant disagrees with GrantTypes")
		}
	})
}
