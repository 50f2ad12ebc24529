package server_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
)

// introspect asks /introspect as client c (nil: unauthenticated).
func (e *env) introspect(c *testClient, tok string) tokenAnswer {
	e.t.Helper()
	return e.postTo("/introspect", url.Values{"token": {tok}}, c)
}

func (e *env) revoke(c *testClient, tok string) int {
	e.t.Helper()
	req := e.formRequest("/revoke", url.Values{"token": {tok}}, c)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	body := readBody(e.t, resp)
	if resp.StatusCode >= 500 {
		e.t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	return resp.StatusCode
}

func (e *env) formRequest(path string, form url.Values, c *testClient) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c != nil {
		req.SetBasicAuth(c.id, c.secret)
	}
	return req
}

func (e *env) postTo(path string, form url.Values, c *testClient) tokenAnswer {
	e.t.Helper()
	return e.doToken(e.formRequest(path, form, c))
}

func active(a tokenAnswer) bool { v, _ := a.body["active"].(bool); return v && a.status == 200 }

func TestRFC7662_Introspection(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := context.Background()
			jwtTok, err := e.ccConfig(e.svc, "photos.read").Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			opaqueTok, err := e.ccConfig(e.opaque, "notes.read").Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			user := e.redeem(e.codeFor(e.browser(), "notes.read offline_access", ""), "")

			t.Run("RFC7662_2_2/active_JWT_with_claims", func(t *testing.T) {
				a := e.introspect(&e.svc, jwtTok.AccessToken)
				if !active(a) || a.str("client_id") != e.svc.id || a.str("scope") != "photos.read" || a.str("sub") != e.svc.id || a.str("token_type") != "Bearer" || a.str("iss") != e.issuer {
					t.Fatalf("%v", a.body)
				}
			})
			t.Run("RFC7662_2_2/active_opaque_and_refresh", func(t *testing.T) {
				if a := e.introspect(&e.opaque, opaqueTok.AccessToken); !active(a) || a.str("scope") != "notes.read" {
					t.Fatalf("%v", a.body)
				}
				if a := e.introspect(&e.web, user.str("refresh_token")); !active(a) || a.str("sub") != "u1" {
					t.Fatalf("%v", a.body)
				}
			})
			t.Run("RFC7662_4/resource_server_in_the_audience_may_introspect", func(t *testing.T) {
				if a := e.introspect(&e.api, user.str("access_token")); !active(a) {
					t.Fatalf("%v", a.body)
				}
			})
			t.Run("RFC7662_2_2/inactive_cases", func(t *testing.T) {
				header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`))
				parts := strings.Split(jwtTok.AccessToken, ".")
				hs := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"at+jwt"}`))
				for name, tok := range map[string]string{
					"unknown":            "lk_at_" + strings.Repeat("A", 43),
					"malformed":          "not a token",
					"alg_none":           header + "." + parts[1] + ".",
					"HS256_same_payload": hs + "." + parts[1] + "." + parts[2],
					"tampered_payload":   parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2],
					"dots":               strings.Repeat(".", 5000),
					"another_clients":    opaqueTok.AccessToken, // asked by svc below
				} {
					if a := e.introspect(&e.svc, tok); active(a) || len(a.body) != 1 {
						t.Fatalf("%s: %v, want exactly {\"active\": false}", name, a.body)
					}
				}
			})
			t.Run("RFC7662_2_1/caller_must_authenticate", func(t *testing.T) {
				wantError(t, e.introspect(nil, jwtTok.AccessToken), 401, "invalid_client")
				wantError(t, e.postTo("/introspect", url.Values{"token": {jwtTok.AccessToken}, "client_id": {e.native.id}}, nil), 401, "invalid_client")
				wantError(t, e.postTo("/introspect", url.Values{}, &e.svc), 400, "invalid_request")
			})
			// Each token is asked about by its own client, the one caller to
			// whom it is active until it expires: an answer of inactive then
			// comes from the expiry alone.
			type owned struct {
				name  string
				owner *testClient
				tok   string
			}
			accessTokens := []owned{
				{"JWT access token", &e.svc, jwtTok.AccessToken},
				{"opaque access token", &e.opaque, opaqueTok.AccessToken},
				{"user's access token", &e.web, user.str("access_token")},
			}
			t.Run("RFC7662_2_2/expired_access_tokens_are_inactive_to_their_owner", func(t *testing.T) {
				for _, o := range accessTokens {
					if a := e.introspect(o.owner, o.tok); !active(a) {
						t.Fatalf("%s: inactive to its owner before it expired: %v", o.name, a.body)
					}
				}
				e.clock.Advance(2 * time.Hour)
				defer e.clock.Advance(-2 * time.Hour)
				for _, o := range accessTokens {
					if a := e.introspect(o.owner, o.tok); active(a) || len(a.body) != 1 {
						t.Fatalf("%s: expired, yet its owner is told %v, want exactly {\"active\": false}", o.name, a.body)
					}
				}
			})
			t.Run("RFC7662_2_2/expired_refresh_token_is_inactive_to_its_owner", func(t *testing.T) {
				ttl := config.Default().Tokens.RefreshTokenTTL
				rt := user.str("refresh_token")
				e.clock.Advance(ttl - time.Second)
				defer e.clock.Advance(-ttl - time.Second)
				if a := e.introspect(&e.web, rt); !active(a) {
					t.Fatalf("a second before it expires the refresh token is inactive: %v", a.body)
				}
				e.clock.Advance(2 * time.Second)
				if a := e.introspect(&e.web, rt); active(a) || len(a.body) != 1 {
					t.Fatalf("an expired refresh token: its owner is told %v, want exactly {\"active\": false}", a.body)
				}
				// RFC 6749 §5.2: an expired refresh token is invalid_grant.
				wantError(t, e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, &e.web, true), 400, "invalid_grant")
			})
		})
	}
}

func TestRFC7009_Revocation(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := context.Background()

			t.Run("RFC7009_2_1/revoking_a_refresh_token_revokes_its_access_tokens", func(t *testing.T) {
				tok := e.redeem(e.codeFor(e.browser(), "notes.read", ""), "")
				if code := e.revoke(&e.web, tok.str("refresh_token")); code != 200 {
					t.Fatalf("status %d", code)
				}
				for _, raw := range []string{tok.str("refresh_token"), tok.str("access_token")} {
					if a := e.introspect(&e.web, raw); active(a) {
						t.Fatalf("still active: %v", a.body)
					}
				}
			})
			t.Run("RFC7009_2_1/revoked_JWT_is_denied_until_it_expires", func(t *testing.T) {
				tok, err := e.ccConfig(e.svc).Token(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if code := e.revoke(&e.svc, tok.AccessToken); code != 200 {
					t.Fatalf("status %d", code)
				}
				if a := e.introspect(&e.svc, tok.AccessToken); active(a) {
					t.Fatal("a revoked JWT is still active")
				}
				if code := e.revoke(&e.svc, tok.AccessToken); code != 200 {
					t.Fatalf("revoking twice: %d", code)
				}
			})
			t.Run("RFC7009_2_2/unknown_token_answers_200", func(t *testing.T) {
				for _, tok := range []string{"lk_rt_" + strings.Repeat("B", 43), "garbage", "a.b.c"} {
					if code := e.revoke(&e.svc, tok); code != 200 {
						t.Fatalf("%q: status %d", tok, code)
					}
				}
			})
			t.Run("T17/another_clients_token_is_left_alone", func(t *testing.T) {
				tok, err := e.ccConfig(e.svc).Token(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if code := e.revoke(&e.opaque, tok.AccessToken); code != 200 {
					t.Fatalf("status %d", code)
				}
				if a := e.introspect(&e.svc, tok.AccessToken); !active(a) {
					t.Fatal("another client revoked the token")
				}
			})
			t.Run("RFC7009_2_1/errors", func(t *testing.T) {
				wantError(t, e.postTo("/revoke", url.Values{}, &e.svc), 400, "invalid_request")
				wantError(t, e.postTo("/revoke", url.Values{"token": {"x"}}, nil), 401, "invalid_client")
				bad := testClient{id: e.svc.id, secret: "wrong"}
				wantError(t, e.postTo("/revoke", url.Values{"token": {"x"}}, &bad), 401, "invalid_client")
			})
		})
	}
}

func TestRFC8414_Metadata(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		resp, err := http.Get(e.issuer + path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		body := readBody(t, resp)
		if err := jsonUnmarshal(body, &m); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		if m["issuer"] != e.issuer || m["authorization_response_iss_parameter_supported"] != true {
			t.Fatalf("%s: %v", path, m)
		}
		if got := m["code_challenge_methods_supported"].([]any); len(got) != 1 || got[0] != "S256" {
			t.Fatalf("code_challenge_methods_supported %v", got)
		}
		// Every advertised endpoint answers (not 404).
		for _, k := range []string{"authorization_endpoint", "token_endpoint", "jwks_uri", "revocation_endpoint", "introspection_endpoint"} {
			u := m[k].(string)
			if !strings.HasPrefix(u, e.issuer+"/") {
				t.Fatalf("%s = %s", k, u)
			}
			r, err := http.Post(u, "application/x-www-form-urlencoded", strings.NewReader(""))
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, r)
			if r.StatusCode == http.StatusNotFound {
				t.Fatalf("%s %s is advertised but not served", k, u)
			}
		}
		for _, want := range []string{"authorization_code", "refresh_token", "implicit", "password", "client_credentials"} {
			if !strings.Contains(body, `"`+want+`"`) {
				t.Fatalf("grant type %s is not advertised", want)
			}
		}
		for _, want := range []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"} {
			if !strings.Contains(body, `"`+want+`"`) {
				t.Fatalf("auth method %s is not advertised", want)
			}
		}
	}
	resp, err := http.Get(e.issuer + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if !strings.Contains(resp.Header.Get("Cache-Control"), "max-age") {
		t.Fatalf("/jwks.json Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	for _, private := range []string{`"d"`, `"p"`, `"q"`, `"k"`} {
		if strings.Contains(body, private+":") {
			t.Fatalf("JWKS leaks %s: %s", private, body)
		}
	}
}
