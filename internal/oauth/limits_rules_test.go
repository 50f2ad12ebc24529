package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// The size limits on what a client sends are inclusive: input of exactly
// the limit is accepted and one byte more is refused (SECURITY.md c.6).

// TestRFC6749_2_3_1_BasicPayloadLimit: a Basic payload of exactly 4096
// characters is parsed; 4097 (the same with a trailing space) is not.
func TestRFC6749_2_3_1_BasicPayloadLimit(t *testing.T) {
	raw := "c:" + strings.Repeat("s", 3070) // 3072 bytes, 4096 in base64
	payload := base64.StdEncoding.EncodeToString([]byte(raw))
	if len(payload) != 4096 {
		t.Fatalf("payload is %d characters", len(payload))
	}
	t.Run("SECURITY_c.6/payload_of_exactly_4096_characters_is_parsed", func(t *testing.T) {
		id, sec, e := parseBasic("Basic " + payload)
		if e != nil || id != "c" || len(sec) != 3070 {
			t.Fatalf("parseBasic = %q, %d-byte secret, %v", id, len(sec), e)
		}
	})
	t.Run("SECURITY_c.6/payload_of_4097_characters_is_refused", func(t *testing.T) {
		_, _, e := parseBasic("Basic " + payload + " ")
		if e == nil {
			t.Fatal("a 4097-character payload was parsed")
		}
		checkBasicInvalidClient(t, e)
	})
}

// TestRFC7523_2_2_UnverifiedSubjectLimit: the sub of a client assertion is
// read only from a compact JWT of at most 8 KiB.
func TestRFC7523_2_2_UnverifiedSubjectLimit(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"printer"}`))
	jwtOf := func(size int) string {
		head := size - len(payload) - len(".") - len(".sig")
		return strings.Repeat("h", head) + "." + payload + ".sig"
	}
	if sub, ok := unverifiedSubject(jwtOf(maxAssertionBytes)); !ok || sub != "printer" {
		t.Fatalf("an assertion of exactly %d bytes: sub %q, ok %v", maxAssertionBytes, sub, ok)
	}
	if _, ok := unverifiedSubject(jwtOf(maxAssertionBytes + 1)); ok {
		t.Fatalf("an assertion of %d bytes was read", maxAssertionBytes+1)
	}
}

// TestRFC6750_2_1_B64TokenSyntax: b64token = 1*( ALPHA / DIGIT / "-" /
// "." / "_" / "~" / "+" / "/" ) *"=", of at most 8 KiB.
func TestRFC6750_2_1_B64TokenSyntax(t *testing.T) {
	for _, tc := range []struct {
		name  string
		token string
		want  bool
	}{
		{"every_allowed_character", "azAZ09-._~+/", true},
		{"one_trailing_equals", "abc=", true},
		{"two_trailing_equals", "abc==", true},
		{"exactly_8_KiB", strings.Repeat("a", maxBearerLen), true},
		{"exactly_8_KiB_with_padding", strings.Repeat("a", maxBearerLen-2) + "==", true},
		{"one_byte_over_8_KiB", strings.Repeat("a", maxBearerLen+1), false},
		{"empty", "", false},
		{"only_equals", "==", false},
		{"equals_inside", "ab=c", false},
		{"space", "ab c", false},
		{"comma", "ab,c", false},
	} {
		t.Run("RFC6750_2.1/"+tc.name, func(t *testing.T) {
			if got := validB64Token(tc.token); got != tc.want {
				t.Fatalf("validB64Token(%.20q…) = %v, want %v", tc.token, got, tc.want)
			}
		})
	}
}

// TestValidateClient_JWKSSizeLimit: a jwks of exactly 64 KiB registers;
// one byte more does not.
func TestValidateClient_JWKSSizeLimit(t *testing.T) {
	// A P-256 public key (RFC 7517 Appendix A.1).
	key := `{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","use":"sig","kid":"1"}`
	jwks := func(size int) string {
		s := `{"keys":[` + key + `]}`
		return s + strings.Repeat(" ", size-len(s)) // JSON allows trailing white space
	}
	c := validClient()
	c.SecretHash, c.TokenEndpointAuthMethod = "", AuthPrivateKeyJWT
	c.JWKS = jwks(jwksMaxBytes)
	if err := ValidateClient(c, testScopes()); err != nil {
		t.Fatalf("a jwks of exactly 64 KiB: %v", err)
	}
	c.JWKS = jwks(jwksMaxBytes + 1)
	if err := ValidateClient(c, testScopes()); err == nil || !strings.Contains(err.Error(), "64 KiB") {
		t.Fatalf("a jwks of 64 KiB + 1 byte: %v", err)
	}
}

// countingClients is a client store that counts its reads.
type countingClients struct {
	store.ClientStore
	mu    sync.Mutex
	reads int
}

func (s *countingClients) GetClient(_ context.Context, id string) (store.Client, error) {
	s.mu.Lock()
	s.reads++
	s.mu.Unlock()
	if strings.HasPrefix(id, "missing") {
		return store.Client{}, store.ErrNotFound
	}
	return store.Client{ID: id}, nil
}

func (s *countingClients) count() int { s.mu.Lock(); defer s.mu.Unlock(); return s.reads }

// TestClientCacheBound: the client cache answers repeated lookups from
// memory and never holds more than its bound of 10,000 clients, however
// many distinct ids are asked for (unknown ids included), so a flood of
// bogus client ids neither reaches the database on every request nor grows
// memory without limit.
func TestClientCacheBound(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := &countingClients{}
	c := newClientCache(st, func() time.Time { return now })

	t.Run("a_repeated_lookup_is_served_from_memory", func(t *testing.T) {
		for _, id := range []string{"a", "b", "a", "b", "a"} {
			if got, err := c.Get(ctx, id); err != nil || got.ID != id {
				t.Fatalf("Get(%q) = %+v, %v", id, got, err)
			}
		}
		if n := st.count(); n != 2 {
			t.Fatalf("%d store reads for two clients, want 2", n)
		}
	})
	t.Run("at_most_10000_entries", func(t *testing.T) {
		for i := range clientCacheMax + 1 {
			id := fmt.Sprintf("c%d", i)
			if i%2 == 1 {
				id = "missing" + id
			}
			c.Get(ctx, id)
			c.mu.RLock()
			n := len(c.items)
			c.mu.RUnlock()
			if n > clientCacheMax {
				t.Fatalf("after %d distinct ids the cache holds %d entries, more than %d", i+3, n, clientCacheMax)
			}
		}
	})
}

// TestRFC8414_2_SigningAlgMetadata: the metadata names the algorithms that
// sign ID tokens (RS256 when none is configured, OpenID Connect Discovery
// §3) and, only when access tokens are JWTs, the one that signs them.
func TestRFC8414_2_SigningAlgMetadata(t *testing.T) {
	meta := func(p *Provider) Metadata {
		t.Helper()
		p.Issuer, p.Scopes = "https://idp.example", testScopes()
		var m Metadata
		if err := json.Unmarshal(p.buildMetadata(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	t.Run("RFC8414_2/JWT_access_tokens_name_their_algorithm", func(t *testing.T) {
		m := meta(&Provider{JWT: nopSigner{}, SigningAlgorithm: "ES256", IDTokenAlgs: []string{"RS256", "ES256", "EdDSA"}})
		if fmt.Sprint(m.AccessTokenSigningAlgValuesSupported) != "[ES256]" || fmt.Sprint(m.IDTokenSigningAlgValuesSupported) != "[RS256 ES256 EdDSA]" {
			t.Fatalf("access tokens %v, ID tokens %v", m.AccessTokenSigningAlgValuesSupported, m.IDTokenSigningAlgValuesSupported)
		}
	})
	t.Run("RFC8414_2/opaque_access_tokens_name_no_algorithm", func(t *testing.T) {
		m := meta(&Provider{SigningAlgorithm: "ES256"})
		if m.AccessTokenSigningAlgValuesSupported != nil || fmt.Sprint(m.IDTokenSigningAlgValuesSupported) != "[RS256]" {
			t.Fatalf("access tokens %v, ID tokens %v", m.AccessTokenSigningAlgValuesSupported, m.IDTokenSigningAlgValuesSupported)
		}
	})
	t.Run("RFC8414_2/no_algorithm_configured_names_none", func(t *testing.T) {
		if m := meta(&Provider{JWT: nopSigner{}}); m.AccessTokenSigningAlgValuesSupported != nil {
			t.Fatalf("access tokens %v", m.AccessTokenSigningAlgValuesSupported)
		}
	})
}

// nopSigner stands for a configured JWT signer; the metadata never signs.
type nopSigner struct{}

func (nopSigner) Sign(string, any) (string, error)             { return "", nil }
func (nopSigner) SignWith(string, string, any) (string, error) { return "", nil }
func (nopSigner) Verify(string, string, any) error             { return nil }

// countingVerifier accepts every token as an access token valid for an
// hour, counting the signature checks.
type countingVerifier struct {
	nopSigner
	now    time.Time
	checks int
}

func (v *countingVerifier) Verify(raw, _ string, claims any) error {
	v.checks++
	c := claims.(*token.AccessClaims)
	c.JTI, c.Expiry = raw, v.now.Add(time.Hour).Unix()
	return nil
}

// TestVerifiedJWTCacheBound: a JWT access token's signature is checked once
// within the cache's lifetime, whatever other tokens are checked between,
// and the cache never holds more than its bound of 10,000 tokens.
func TestVerifiedJWTCacheBound(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := &countingVerifier{now: now}
	p := &Provider{JWT: v, Now: func() time.Time { return now }, verified: newVerifiedCache()}

	t.Run("a_token_verified_again_is_served_from_memory", func(t *testing.T) {
		for _, raw := range []string{"a", "b", "a", "b", "a"} {
			if c, ok := p.verifyAccessToken(raw); !ok || c.JTI != raw {
				t.Fatalf("verifyAccessToken(%q) = %+v, %v", raw, c, ok)
			}
		}
		if v.checks != 2 {
			t.Fatalf("%d signature checks for two tokens, want 2", v.checks)
		}
	})
	t.Run("at_most_10000_entries", func(t *testing.T) {
		for i := range verifiedMax + 1 {
			p.verifyAccessToken(fmt.Sprintf("t%d", i))
			if n := len(p.verified.m); n > verifiedMax {
				t.Fatalf("after %d distinct tokens the cache holds %d, more than %d", i+3, n, verifiedMax)
			}
		}
	})
}

// TestRFC9700_4_1_3_RedirectURILengthLimit: a redirect URI of exactly the
// limit matches its registration; one byte longer never matches, even a
// registration of the same length.
func TestRFC9700_4_1_3_RedirectURILengthLimit(t *testing.T) {
	uri := func(n int) string {
		const prefix = "https://app.example/cb?p="
		return prefix + strings.Repeat("a", n-len(prefix))
	}
	atLimit, over := uri(maxRedirectURILen), uri(maxRedirectURILen+1)
	if !MatchRedirectURI([]string{atLimit}, atLimit) {
		t.Fatalf("a redirect URI of exactly %d bytes does not match itself", maxRedirectURILen)
	}
	if MatchRedirectURI([]string{over}, over) {
		t.Fatalf("a redirect URI of %d bytes matched", maxRedirectURILen+1)
	}
}
