package server_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// jwks fetches /jwks.json as a relying resource server would.
func (e *env) jwks() jose.JSONWebKeySet {
	e.t.Helper()
	resp, err := http.Get(e.issuer + "/jwks.json")
	if err != nil {
		e.t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(readBody(e.t, resp)), &set); err != nil {
		e.t.Fatal(err)
	}
	return set
}

// atClaims are RFC 9068 §2.2's claims as a resource server reads them.
type atClaims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	AuthTime int64  `json:"auth_time"`
}

// verifyJWT checks an access token with go-jose against /jwks.json.
func (e *env) verifyJWT(raw string) atClaims {
	e.t.Helper()
	c := e.verifyJWTAnyAudience(raw)
	if !slices.Contains(c.Audience, e.issuer) {
		e.t.Fatalf("aud %v, want the issuer among them", c.Audience)
	}
	return c
}

// verifyJWTAnyAudience is verifyJWT for a token meant for a resource.
func (e *env) verifyJWTAnyAudience(raw string) atClaims {
	e.t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		e.t.Fatalf("parse JWT: %v", err)
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders["typ"].(string); typ != "at+jwt" {
		e.t.Fatalf("RFC 9068 §2.1: typ %q, want at+jwt", typ)
	}
	set := e.jwks()
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		e.t.Fatalf("kid %q is not in /jwks.json", h.KeyID)
	}
	var c atClaims
	if err := tok.Claims(keys[0].Key, &c); err != nil {
		e.t.Fatalf("signature: %v", err)
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: e.issuer, Time: e.clock.Now()}, 0); err != nil {
		e.t.Fatalf("claims: %v", err)
	}
	if c.ID == "" || c.IssuedAt == nil || c.Expiry == nil || c.ClientID == "" || c.Subject == "" {
		e.t.Fatalf("RFC 9068 §2.2: a required claim is missing: %+v", c)
	}
	return c
}

func (e *env) ccConfig(c testClient, scopes ...string) *clientcredentials.Config {
	return &clientcredentials.Config{ClientID: c.id, ClientSecret: c.secret, TokenURL: e.issuer + "/token", Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader}
}

func TestRFC6749_4_4_ClientCredentials(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := context.Background()

			t.Run("RFC9068/JWT_access_token_verifies_against_jwks", func(t *testing.T) {
				tok, err := e.ccConfig(e.svc, "photos.read").Token(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if tok.RefreshToken != "" {
					t.Fatal("RFC 6749 §4.4.3: a refresh token SHOULD NOT be included")
				}
				c := e.verifyJWT(tok.AccessToken)
				if c.Subject != e.svc.id || c.ClientID != e.svc.id || c.Scope != "photos.read" {
					t.Fatalf("claims %+v: sub and client_id are the client", c)
				}
				if c.AuthTime != 0 {
					t.Fatal("no user signed in, so no auth_time")
				}
			})

			t.Run("opaque_format_per_client", func(t *testing.T) {
				tok, err := e.ccConfig(e.opaque).Token(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(tok.AccessToken, "lk_at_") {
					t.Fatalf("opaque token %q", tok.AccessToken)
				}
				if got := tok.Extra("scope"); got != "notes.read photos.read offline_access" {
					t.Fatalf("RFC 6749 §3.3: omitted scope defaults to the client's; got %v", got)
				}
			})

			t.Run("RFC6749_3_3/scope_outside_the_client_is_invalid_scope", func(t *testing.T) {
				_, err := e.ccConfig(e.svc, "notes.write").Token(ctx)
				if oauthErrorCode(err) != "invalid_scope" {
					t.Fatalf("got %v", err)
				}
			})

			t.Run("RFC6749_5_2/client_without_the_grant_is_unauthorized_client", func(t *testing.T) {
				wantError(t, e.postToken(url.Values{"grant_type": {"client_credentials"}}, &e.web, true), 400, "unauthorized_client")
				wantError(t, e.postToken(url.Values{"grant_type": {"client_credentials"}}, &e.native, false), 400, "unauthorized_client")
			})
		})
	}
}

// fromAddress returns an HTTP client whose connections leave from ip, so a
// test can play a second network address on loopback.
func fromAddress(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

func TestRFC6749_4_3_PasswordGrant(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := context.Background()
			conf := e.oauth2Config(e.app, "notes.read", "offline_access")

			tok, err := conf.PasswordCredentialsToken(ctx, testUser, testPassword)
			if err != nil {
				t.Fatal(err)
			}
			c := e.verifyJWT(tok.AccessToken)
			if c.Subject != "u1" || c.AuthTime == 0 || tok.RefreshToken == "" {
				t.Fatalf("claims %+v, refresh %q", c, tok.RefreshToken)
			}
			if _, err := refresh(ctx, conf, tok.RefreshToken); err != nil {
				t.Fatalf("refresh: %v", err)
			}

			t.Run("RFC6749_4_3_2/wrong_password_and_unknown_user_look_alike", func(t *testing.T) {
				a := e.postToken(url.Values{"grant_type": {"password"}, "username": {testUser}, "password": {"wrong-1"}}, &e.app, true)
				b := e.postToken(url.Values{"grant_type": {"password"}, "username": {"nobody"}, "password": {"wrong-1"}}, &e.app, true)
				wantError(t, a, 400, "invalid_grant")
				if a.status != b.status || a.str("error_description") != b.str("error_description") {
					t.Fatalf("answers differ: %v and %v", a.body, b.body)
				}
			})

			t.Run("RFC6749_4_3_2/missing_password_is_invalid_request", func(t *testing.T) {
				wantError(t, e.postToken(url.Values{"grant_type": {"password"}, "username": {testUser}}, &e.app, true), 400, "invalid_request")
			})

			t.Run("RFC9700_2_4/client_without_the_grant_is_unauthorized_client", func(t *testing.T) {
				wantError(t, e.postToken(url.Values{"grant_type": {"password"}, "username": {testUser}, "password": {testPassword}}, &e.web, true), 400, "unauthorized_client")
			})

			t.Run("RFC6749_4_3_2/guessing_is_throttled_per_account_and_address", func(t *testing.T) {
				form := url.Values{"grant_type": {"password"}, "username": {testUser}, "password": {"guess"}}
				var last tokenAnswer
				for range 6 {
					last = e.postToken(form, &e.app, true)
				}
				wantError(t, last, http.StatusTooManyRequests, "invalid_grant")
				if last.header.Get("Retry-After") == "" {
					t.Fatal("429 without Retry-After")
				}
				// Even the right password waits now, from this address...
				right := url.Values{"grant_type": {"password"}, "username": {testUser}, "password": {testPassword}}
				wantError(t, e.postToken(right, &e.app, true), http.StatusTooManyRequests, "invalid_grant")
				// ...but the user is not locked out from another address
				// (no lockout denial of service, SECURITY.md B1).
				req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(right.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(e.app.id, e.app.secret)
				resp, err := fromAddress("127.0.0.2").Do(req)
				if err != nil {
					t.Fatal(err)
				}
				if body := readBody(t, resp); resp.StatusCode != 200 {
					t.Fatalf("from another address: %d %s", resp.StatusCode, body)
				}
			})

			t.Run("T19/the_password_is_never_logged", func(t *testing.T) {
				if strings.Contains(e.logs.String(), testPassword) || strings.Contains(e.logs.String(), "wrong-1") {
					t.Fatal("a password reached the log")
				}
			})
		})
	}
}

// clientCacheTTL is how long the token endpoint may serve a client record
// from memory (internal/oauth's client cache): a change to a client is seen
// after it.
const clientCacheTTL = 5 * time.Second

// updateClient edits a client's registration in the store, as the CLI or
// another node would, and lets the client cache expire.
func (e *env) updateClient(id string, edit func(*store.Client)) {
	e.t.Helper()
	ctx := context.Background()
	c, err := e.store.GetClient(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	edit(&c)
	c.UpdatedAt = e.clock.Now()
	if err := e.store.UpdateClient(ctx, c); err != nil {
		e.t.Fatal(err)
	}
	e.clock.Advance(clientCacheTTL + time.Second)
}

// TestRFC9700_4_14_2_RefreshRechecksTheClient enforces SECURITY.md T11: a
// refresh is checked against the client's registration as it is now, not as
// it was when the refresh token was issued.
func TestRFC9700_4_14_2_RefreshRechecksTheClient(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			refreshWith := func(c *testClient, rt string, scope ...string) tokenAnswer {
				form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
				if len(scope) > 0 {
					form.Set("scope", strings.Join(scope, " "))
				}
				return e.postToken(form, c, true)
			}
			signIn := func(c *testClient) string {
				a := e.postToken(url.Values{"grant_type": {"password"}, "username": {testUser}, "password": {testPassword}, "scope": {"notes.read photos.read"}}, c, true)
				if a.status != 200 || a.str("refresh_token") == "" || a.str("scope") != "notes.read photos.read" {
					t.Fatalf("password grant: %d %v", a.status, a.body)
				}
				return a.str("refresh_token")
			}

			t.Run("RFC9700_4_14_2/refresh_after_the_clients_scopes_narrowed_is_invalid_scope", func(t *testing.T) {
				c := e.confidential("narrowed-scopes", oauth.GrantPassword, oauth.GrantRefreshToken)
				rt := signIn(&c)
				e.updateClient(c.id, func(cl *store.Client) { cl.Scopes = []string{"notes.read", "offline_access"} })

				// The token's own scope is no longer the client's to use...
				wantError(t, refreshWith(&c, rt), 400, "invalid_scope")
				// ...nor is a part of it the client lost.
				wantError(t, refreshWith(&c, rt, "photos.read"), 400, "invalid_scope")
				// A narrower scope the client still has is fine (RFC 6749 §6),
				// and the refused attempts did not spend the token.
				a := refreshWith(&c, rt, "notes.read")
				if a.status != 200 || a.str("scope") != "notes.read" {
					t.Fatalf("refresh with a scope the client still has: %d %v", a.status, a.body)
				}
				// The new refresh token keeps the original scope, so without
				// a scope parameter it is refused again.
				wantError(t, refreshWith(&c, a.str("refresh_token")), 400, "invalid_scope")
			})

			t.Run("RFC9700_4_14_2/refresh_after_the_refresh_grant_was_removed_is_unauthorized_client", func(t *testing.T) {
				c := e.confidential("lost-refresh", oauth.GrantPassword, oauth.GrantRefreshToken)
				rt := signIn(&c)
				e.updateClient(c.id, func(cl *store.Client) { cl.GrantTypes = []string{oauth.GrantPassword} })
				wantError(t, refreshWith(&c, rt), 400, "unauthorized_client")
			})
		})
	}
}

func TestRFC6749_4_2_ImplicitGrant(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			q := url.Values{"response_type": {"token"}, "client_id": {e.spa.id}, "redirect_uri": {e.spa.redirect}, "scope": {"photos.read"}, "state": {"st"}}
			loc := e.authorize(e.browser(), e.issuer+"/authorize?"+q.Encode())
			if loc.RawQuery != "" {
				t.Fatalf("RFC 6749 §4.2.2: the response goes in the fragment, not the query: %v", loc)
			}
			frag, err := url.ParseQuery(loc.Fragment)
			if err != nil {
				t.Fatal(err)
			}
			if frag.Get("token_type") != "Bearer" || frag.Get("state") != "st" || frag.Get("access_token") == "" || frag.Has("refresh_token") {
				t.Fatalf("fragment %v", frag)
			}
			if exp := frag.Get("expires_in"); exp != "900" {
				t.Fatalf("expires_in %s, want 900 (15 minutes)", exp)
			}
			if frag.Has("scope") {
				t.Fatal("scope is sent only when it differs from the request")
			}
			e.verifyJWT(frag.Get("access_token"))

			t.Run("seeds/revoking_the_app_revokes_its_implicit_token", func(t *testing.T) {
				at := frag.Get("access_token")
				if a := e.introspect(&e.api, at); !active(a) {
					t.Fatalf("the implicit token is not active: %v", a.body)
				}
				ctx := context.Background()
				grants, err := e.store.ListGrantsByUser(ctx, "u1")
				if err != nil {
					t.Fatal(err)
				}
				for _, g := range grants {
					if g.ClientID == e.spa.id {
						if err := e.store.RevokeGrant(ctx, g.ID, e.clock.Now()); err != nil {
							t.Fatal(err)
						}
					}
				}
				if a := e.introspect(&e.api, at); active(a) {
					t.Fatalf("the implicit token of a revoked grant is still active: %v", a.body)
				}
			})

			t.Run("RFC6749_4_2_2_1/errors_go_in_the_fragment", func(t *testing.T) {
				q := url.Values{"response_type": {"token"}, "client_id": {e.spa.id}, "redirect_uri": {e.spa.redirect}, "scope": {"admin"}, "state": {"s2"}}
				resp, _ := e.get(q.Encode())
				loc, _ := resp.Location()
				frag, _ := url.ParseQuery(loc.Fragment)
				if loc.RawQuery != "" || frag.Get("error") != "invalid_scope" || frag.Get("state") != "s2" {
					t.Fatalf("location %v", loc)
				}
			})

			t.Run("C11/client_without_implicit_is_unauthorized_client", func(t *testing.T) {
				q := e.authorizeQuery()
				q.Set("response_type", "token")
				resp, _ := e.get(q.Encode())
				loc, _ := resp.Location()
				frag, _ := url.ParseQuery(loc.Fragment)
				if frag.Get("error") != "unauthorized_client" {
					t.Fatalf("location %v", loc)
				}
			})
		})
	}
}

// TestRFC6749_2_3_1_ClientSecretGuessingIsThrottled: "the authorization
// server MUST protect any endpoint utilizing it against brute force
// attacks" (SECURITY.md B2, T7).
func TestRFC6749_2_3_1_ClientSecretGuessingIsThrottled(t *testing.T) {
	e := newEnv(t, "sqlite")
	bad := testClient{id: e.svc.id, secret: "lk_cs_guess"}
	form := url.Values{"grant_type": {"client_credentials"}}
	for range 20 {
		wantError(t, e.postToken(form, &bad, true), 401, "invalid_client")
	}
	a := e.postToken(form, &bad, true)
	wantError(t, a, http.StatusTooManyRequests, "invalid_client")
	if a.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Refused before any check, even with the right secret, from here...
	wantError(t, e.postToken(form, &e.svc, true), http.StatusTooManyRequests, "invalid_client")
	wantError(t, e.postTo("/introspect", url.Values{"token": {"x"}}, &e.svc), http.StatusTooManyRequests, "invalid_client")
	// ...but not from another address, and not for another client.
	req := e.formRequest("/token", form, &e.svc)
	resp, err := fromAddress("127.0.0.3").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != 200 {
		t.Fatalf("from another address: %d %s", resp.StatusCode, body)
	}
	if a := e.postToken(form, &e.opaque, true); a.status != 200 {
		t.Fatalf("another client: %v", a.body)
	}
	// The window ends.
	e.clock.Advance(time.Minute + time.Second)
	if a := e.postToken(form, &e.svc, true); a.status != 200 {
		t.Fatalf("after the window: %v", a.body)
	}
}
