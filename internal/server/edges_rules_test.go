package server_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// Rules at their exact edges: sizes, lifetimes and the second a token
// expires, each checked on both sides of the edge through real HTTP.

// TestRFC7523_3_AssertionEdges: a client assertion of exactly 8 KiB
// authenticates and one byte more does not; an assertion may live up to
// ten minutes plus a minute of clock skew, not a second more.
func TestRFC7523_3_AssertionEdges(t *testing.T) {
	e := newEnv(t, "sqlite")
	kc, jwks := newKeyedClient(t)
	e.mustCreateClient(store.Client{ID: kc.id, Name: "Printer backend", GrantTypes: []string{oauth.GrantClientCredentials},
		Scopes: []string{"photos.read"}, TokenEndpointAuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jwks})
	post := func(assertion string) tokenAnswer {
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
		return e.postToken(form, nil, false)
	}
	// sign signs claims valid at the server's clock, with exp at now+life
	// and header and payload padded by hpad and ppad characters.
	sign := func(life time.Duration, hpad, ppad int) string {
		t.Helper()
		opts := (&jose.SignerOptions{}).WithHeader("kid", kc.kid).WithType("JWT")
		if hpad > 0 {
			opts = opts.WithHeader("x", strings.Repeat("h", hpad))
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: kc.key}, opts)
		if err != nil {
			t.Fatal(err)
		}
		now := e.clock.Now()
		c := jwt.Claims{Issuer: kc.id, Subject: kc.id, Audience: jwt.Audience{e.issuer}, Expiry: jwt.NewNumericDate(now.Add(life)),
			IssuedAt: jwt.NewNumericDate(now), ID: secret.RandomString(16)}
		pad := struct {
			Pad string `json:"pad"`
		}{strings.Repeat("p", ppad)}
		s, err := jwt.Signed(signer).Claims(c).Claims(pad).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// ofSize returns an assertion of exactly n bytes.
	ofSize := func(n int) string {
		t.Helper()
		base := len(sign(time.Minute, 0, 0))
		for hpad := range 8 {
			for ppad := max(0, (n-base)*3/4-8); ppad < (n-base)*3/4+8; ppad++ {
				if s := sign(time.Minute, hpad, ppad); len(s) == n {
					return s
				}
			}
		}
		t.Fatalf("no assertion of %d bytes", n)
		return ""
	}

	t.Run("SECURITY_c.6/assertion_of_exactly_8_KiB_authenticates", func(t *testing.T) {
		if a := post(ofSize(8 << 10)); a.status != 200 {
			t.Fatalf("%d %v", a.status, a.body)
		}
	})
	t.Run("SECURITY_c.6/assertion_of_8_KiB_and_one_byte_is_invalid_client", func(t *testing.T) {
		wantError(t, post(ofSize(8<<10+1)), 401, "invalid_client")
	})
	t.Run("RFC7523_3/ten_minutes_and_the_skew_allowed", func(t *testing.T) {
		if a := post(sign(11*time.Minute, 0, 0)); a.status != 200 {
			t.Fatalf("an assertion living 11 minutes: %d %v", a.status, a.body)
		}
	})
	t.Run("RFC7523_3/a_second_longer_is_invalid_client", func(t *testing.T) {
		wantError(t, post(sign(11*time.Minute+time.Second, 0, 0)), 401, "invalid_client")
	})
}

// TestRFC6749_2_3_1_RetryAfterCoversTheWindow: a client refused for too
// many failed authentications is told, in Retry-After, a wait that ends
// the window: no longer than the window, and enough to be let through.
func TestRFC6749_2_3_1_RetryAfterCoversTheWindow(t *testing.T) {
	e := newEnv(t, "sqlite")
	bad := testClient{id: e.svc.id, secret: "lk_cs_guess"}
	form := url.Values{"grant_type": {"client_credentials"}}
	for range 20 {
		wantError(t, e.postToken(form, &bad, true), 401, "invalid_client")
	}
	e.clock.Advance(20 * time.Second)
	a := e.postToken(form, &e.svc, true)
	wantError(t, a, http.StatusTooManyRequests, "invalid_client")
	wait, err := strconv.Atoi(a.header.Get("Retry-After"))
	if err != nil || wait < 40 || wait > 41 {
		t.Fatalf("Retry-After %q, 20 s into a one-minute window: want 40 or 41", a.header.Get("Retry-After"))
	}
	e.clock.Advance(time.Duration(wait) * time.Second)
	if a := e.postToken(form, &e.svc, true); a.status != 200 {
		t.Fatalf("after waiting Retry-After: %d %v", a.status, a.body)
	}
}

// TestRFC7662_2_2_TokenTypeAndExpiry: introspection names the type of an
// access token (opaque or JWT) and its audience; a refresh token is typed
// refresh_token, with no audience, so no resource server mistakes it for
// an access token; a JWT is inactive from the second of its exp on.
func TestRFC7662_2_2_TokenTypeAndExpiry(t *testing.T) {
	e := newEnv(t, "sqlite")
	opaque := e.postToken(url.Values{"grant_type": {"client_credentials"}, "scope": {"notes.read"}}, &e.opaque, true).str("access_token")
	user := e.redeem(e.codeFor(e.browser(), "notes.read offline_access", ""), "")
	jwtTok := e.postToken(url.Values{"grant_type": {"client_credentials"}, "scope": {"photos.read"}}, &e.svc, true).str("access_token")
	if !strings.HasPrefix(opaque, "lk_at_") || strings.Count(jwtTok, ".") != 2 {
		t.Fatalf("tokens %q, %q", opaque, jwtTok)
	}

	t.Run("RFC7662_2_2/opaque_access_token_is_Bearer_with_its_audience", func(t *testing.T) {
		a := e.introspect(&e.opaque, opaque)
		if !active(a) || a.str("token_type") != "Bearer" || a.body["aud"] == nil {
			t.Fatalf("%v", a.body)
		}
	})
	t.Run("RFC7662_2_2/refresh_token_is_typed_refresh_token_without_audience", func(t *testing.T) {
		a := e.introspect(&e.web, user.str("refresh_token"))
		if !active(a) || a.str("token_type") != "refresh_token" || a.body["aud"] != nil {
			t.Fatalf("%v", a.body)
		}
	})
	t.Run("RFC7519_4_1_4/JWT_is_inactive_from_its_exp_on", func(t *testing.T) {
		exp := e.verifyJWT(jwtTok).Expiry
		if exp == nil {
			t.Fatal("no exp")
		}
		e.clock.Advance(time.Unix(int64(*exp), 0).Sub(e.clock.Now()) - time.Second)
		if a := e.introspect(&e.svc, jwtTok); !active(a) {
			t.Fatalf("a second before exp: %v", a.body)
		}
		e.clock.Advance(time.Second)
		if a := e.introspect(&e.svc, jwtTok); active(a) || len(a.body) != 1 {
			t.Fatalf("at exp: %v, want exactly {\"active\": false}", a.body)
		}
	})
}

// TestOIDCCore_5_3_3_UserInfoRefusesAnExpiredJWT: a JWT access token is
// invalid_token at the userinfo endpoint from the second of its exp on
// (RFC 7519 §4.1.4: "on or after"), though issued half a second into a
// second its stored row expires half a second later.
func TestOIDCCore_5_3_3_UserInfoRefusesAnExpiredJWT(t *testing.T) {
	e := newEnv(t, "sqlite")
	e.clock.Advance(500 * time.Millisecond)
	tok := e.redeem(e.codeFor(e.browser(), "openid", ""), "").str("access_token")
	exp := e.verifyJWT(tok).Expiry
	if exp == nil {
		t.Fatalf("not a JWT with exp: %q", tok)
	}
	userinfo := func() *http.Response {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		return resp
	}
	e.clock.Advance(time.Unix(int64(*exp), 0).Sub(e.clock.Now()) - time.Second)
	if resp := userinfo(); resp.StatusCode != 200 {
		t.Fatalf("a second before exp: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	e.clock.Advance(time.Second)
	if resp := userinfo(); resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("at exp: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// TestRFC7009_2_1_AnotherClientsOpaqueTokensAreLeftAlone: a client that
// presents another client's opaque access or refresh token is answered
// 200, as for an unknown token, and the token stays active (SECURITY.md
// T17; RFC 7009 §2.1: the server checks "whether the token was issued to
// the client making the revocation request").
func TestRFC7009_2_1_AnotherClientsOpaqueTokensAreLeftAlone(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			user := e.redeem(e.codeFor(e.browser(), "notes.read offline_access", ""), "")
			opaque := e.postToken(url.Values{"grant_type": {"client_credentials"}, "scope": {"notes.read"}}, &e.opaque, true).str("access_token")
			for _, tc := range []struct {
				name  string
				owner *testClient
				tok   string
			}{
				{"refresh_token", &e.web, user.str("refresh_token")},
				{"opaque_access_token", &e.opaque, opaque},
			} {
				t.Run("T17/"+tc.name, func(t *testing.T) {
					if code := e.revoke(&e.svc, tc.tok); code != 200 {
						t.Fatalf("status %d", code)
					}
					if a := e.introspect(tc.owner, tc.tok); !active(a) {
						t.Fatalf("another client revoked the token: %v", a.body)
					}
				})
			}
		})
	}
}
