package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/store"
)

// leftHalf is at_hash / c_hash for RS256, computed here independently of
// the server's code (OpenID Connect Core §3.3.2.11).
func leftHalf(v string) string {
	h := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

func TestOIDCCore_3_3_HybridAndImplicit(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	rp := e.oidcClient("rp", nil)
	p := e.provider(ctx)
	verifier := p.Verifier(&gooidc.Config{ClientID: rp.id})
	b := e.browser()
	e.signIn(ctx, b, p, e.rpConfig(p, rp, "openid", "email"))

	t.Run("code_id_token_has_c_hash_in_the_fragment", func(t *testing.T) {
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid email", "response_type", "code id_token", "nonce", "n1", "code_challenge", strings.Repeat("A", 43), "code_challenge_method", "S256"))
		loc, _ := resp.Location()
		if loc.RawQuery != "" || loc.Fragment == "" {
			t.Fatalf("Multiple Response Types §3: default mode is fragment; got %s", loc)
		}
		q := responseParams(t, resp)
		idt, err := verifier.Verify(ctx, q.Get("id_token"))
		if err != nil {
			t.Fatal(err)
		}
		c := claimsOf(t, idt)
		if c.Nonce != "n1" || c.CHash != leftHalf(q.Get("code")) || q.Get("code") == "" || q.Get("state") != "s1" || q.Get("iss") != e.issuer {
			t.Fatalf("nonce %q c_hash %q code %q state %q", c.Nonce, c.CHash, q.Get("code"), q.Get("state"))
		}
	})
	t.Run("id_token_token_has_at_hash", func(t *testing.T) {
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid email", "response_type", "id_token token", "nonce", "n2"))
		q := responseParams(t, resp)
		idt, err := verifier.Verify(ctx, q.Get("id_token"))
		if err != nil {
			t.Fatal(err)
		}
		if err := idt.VerifyAccessToken(q.Get("access_token")); err != nil || q.Get("token_type") != "Bearer" {
			t.Fatalf("at_hash: %v (token_type %q)", err, q.Get("token_type"))
		}
	})
	t.Run("id_token_alone_carries_the_user_claims", func(t *testing.T) {
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid email", "response_type", "id_token", "nonce", "n3"))
		q := responseParams(t, resp)
		idt, err := verifier.Verify(ctx, q.Get("id_token"))
		if err != nil {
			t.Fatal(err)
		}
		if c := claimsOf(t, idt); c.Email != "alice@example.com" || q.Has("access_token") || q.Has("code") {
			t.Fatalf("claims %+v, response %v", c, q)
		}
	})
	t.Run("Core_3.2.2.1/implicit_without_nonce_is_invalid_request", func(t *testing.T) {
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid", "response_type", "id_token token"))
		if q := responseParams(t, resp); q.Get("error") != "invalid_request" {
			t.Fatalf("response %v", q)
		}
	})
	t.Run("code_flow_without_nonce_succeeds", func(t *testing.T) {
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid email"))
		if q := responseParams(t, resp); q.Get("code") == "" {
			t.Fatalf("response %v", q)
		}
	})
	t.Run("response_mode_query_cannot_carry_tokens", func(t *testing.T) {
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid", "response_type", "id_token", "nonce", "n", "response_mode", "query"))
		if q := responseParams(t, resp); q.Get("error") != "invalid_request" {
			t.Fatalf("response %v", q)
		}
	})
	t.Run("hybrid_needs_the_implicit_grant", func(t *testing.T) {
		codeOnly := e.oidcClient("code-only", func(c *store.Client) { c.GrantTypes = c.GrantTypes[:2] })
		resp, _ := e.authorizeGet(b, rpQuery(codeOnly, "openid", "response_type", "code id_token", "nonce", "n"))
		if q := responseParams(t, resp); q.Get("error") != "unauthorized_client" {
			t.Fatalf("response %v", q)
		}
	})
	t.Run("FormPost_2/response_is_an_auto_posting_form", func(t *testing.T) {
		resp, body := e.authorizeGet(b, rpQuery(rp, "openid email", "response_mode", "form_post", "state", `"><script>x</script>`))
		if resp.StatusCode != 200 || resp.Header.Get("Location") != "" {
			t.Fatalf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if !strings.Contains(body, `action="`+rpRedirect+`"`) || !strings.Contains(body, `name="code"`) || !strings.Contains(body, `name="iss"`) {
			t.Fatalf("form:\n%s", body)
		}
		if strings.Contains(body, "<script>x") {
			t.Fatal("state is not escaped")
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "form-action https://rp.example") || strings.Contains(csp, "unsafe-inline") {
			t.Fatalf("CSP %q", csp)
		}
	})
	t.Run("FormPost_2/errors_are_posted_too", func(t *testing.T) {
		resp, body := e.authorizeGet(b, rpQuery(rp, "openid nope", "response_mode", "form_post"))
		if resp.StatusCode != 200 || !strings.Contains(body, `name="error" value="invalid_scope"`) {
			t.Fatalf("status %d:\n%s", resp.StatusCode, body)
		}
	})
}

// TestRFC8252_8_6_NativePublicClientAlwaysAsks: a public client whose
// redirect URI any local program can claim is never answered silently.
func TestRFC8252_8_6_NativePublicClientAlwaysAsks(t *testing.T) {
	e := newEnv(t, "sqlite")
	b := e.browser()
	q := url.Values{"response_type": {"code"}, "client_id": {e.native.id}, "redirect_uri": {"http://127.0.0.1:5000/cb"},
		"scope": {"notes.read"}, "code_challenge": {strings.Repeat("B", 43)}, "code_challenge_method": {"S256"}}
	loc := e.authorize(b, e.issuer+"/authorize?"+q.Encode())
	if loc.Query().Get("code") == "" {
		t.Fatalf("first authorization: %s", loc)
	}
	// Consent is remembered now; an attacker's program asks with the
	// app's client id and its own PKCE challenge.
	q.Set("code_challenge", strings.Repeat("C", 43))
	resp, _ := e.authorizeGet(b, q)
	if resp.Request.URL.Path != "/consent" {
		t.Fatalf("landed on %s (status %d), want the consent page again", resp.Request.URL, resp.StatusCode)
	}
	q.Set("prompt", "none")
	resp, _ = e.authorizeGet(b, q)
	loc, _ = resp.Location()
	if loc == nil || loc.Query().Get("error") != "consent_required" {
		t.Fatalf("prompt=none: %v", loc)
	}
}

func TestRFC6750_3_UserInfoErrors(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	rp := e.oidcClient("rp", nil)
	p := e.provider(ctx)
	_, tok := e.signIn(ctx, e.browser(), p, e.rpConfig(p, rp, "openid", "profile"))
	notOpenID := e.postToken(url.Values{"grant_type": {"password"}, "username": {testUser}, "password": {testPassword}, "scope": {"notes.read"}}, &e.app, true).str("access_token")
	machine := e.postToken(url.Values{"grant_type": {"client_credentials"}, "scope": {"notes.read"}}, &e.svc, true).str("access_token")

	call := func(method, auth, body string) *http.Response {
		u := e.issuer + "/userinfo"
		if method == "GET?" {
			method, u = "GET", u+"?access_token="+url.QueryEscape(tok.AccessToken)
		}
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		name, method, auth, body string
		status                   int
		wwwAuth                  string
	}{
		{"no_token_has_no_error_code", "GET", "", "", 401, `Bearer realm="latchkey"`},
		{"unknown_token_is_invalid_token", "GET", "Bearer lk_at_nope", "", 401, `error="invalid_token"`},
		{"token_without_openid_is_insufficient_scope", "GET", "Bearer " + notOpenID, "", 403, `error="insufficient_scope"`},
		{"token_without_a_user_is_invalid_token", "GET", "Bearer " + machine, "", 401, `error="invalid_token"`},
		{"token_in_the_query_is_invalid_request", "GET?", "", "", 400, `error="invalid_request"`},
		{"two_methods_is_invalid_request", "POST", "Bearer " + tok.AccessToken, "access_token=" + tok.AccessToken, 400, `error="invalid_request"`},
		{"malformed_header_is_invalid_request", "GET", "Bearer a b", "", 400, `error="invalid_request"`},
		{"GET_with_header_works", "GET", "Bearer " + tok.AccessToken, "", 200, ""},
		{"POST_with_body_works", "POST", "", "access_token=" + url.QueryEscape(tok.AccessToken), 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := call(tc.method, tc.auth, tc.body)
			if resp.StatusCode != tc.status || !strings.Contains(resp.Header.Get("WWW-Authenticate"), tc.wwwAuth) {
				t.Fatalf("status %d WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("Core_5.5/claims_request_releases_email_without_the_email_scope", func(t *testing.T) {
		conf := e.rpConfig(p, rp, "openid")
		_, tok := e.signIn(ctx, e.browser(), p, conf)
		ui, _ := p.UserInfo(ctx, oauthStatic(tok))
		if ui.Email != "" {
			t.Fatal("email without the email scope or a claims request")
		}
		// A new user-agent, so consent is asked for the new request.
		_, tok = e.signIn(ctx, e.browser(), p, conf, authParam("claims", `{"userinfo":{"email":{"essential":true}}}`))
		ui, err := p.UserInfo(ctx, oauthStatic(tok))
		if err != nil || ui.Email != "alice@example.com" {
			t.Fatalf("userinfo %v %v", ui, err)
		}
	})
}

// logoutRecorder is a relying party's back-channel logout endpoint that
// verifies every logout token it receives against Latchkey's JWKS.
type logoutRecorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	tokens []map[string]any
	errs   []string
}

func (e *env) logoutRecorder(t *testing.T, clientID string) *logoutRecorder {
	lr := &logoutRecorder{}
	lr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := r.PostFormValue("logout_token")
		claims, err := e.verifyLogoutToken(raw, clientID)
		lr.mu.Lock()
		defer lr.mu.Unlock()
		if err != "" {
			lr.errs = append(lr.errs, err)
			w.WriteHeader(400)
			return
		}
		lr.tokens = append(lr.tokens, claims)
	}))
	t.Cleanup(lr.srv.Close)
	return lr
}

// verifyLogoutToken applies Back-Channel Logout 1.0 §2.6 with go-jose.
func (e *env) verifyLogoutToken(raw, clientID string) (map[string]any, string) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		return nil, "parse: " + err.Error()
	}
	if typ, _ := tok.Headers[0].ExtraHeaders["typ"].(string); typ != "logout+jwt" {
		return nil, "typ " + typ
	}
	var claims map[string]any
	var std jwt.Claims
	if err := tok.Claims(e.jwks(), &claims, &std); err != nil {
		return nil, "signature: " + err.Error()
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: e.issuer, AnyAudience: []string{clientID}, Time: e.clock.Now()}, time.Minute); err != nil {
		return nil, "claims: " + err.Error()
	}
	ev, _ := claims["events"].(map[string]any)
	if _, ok := ev["http://schemas.openid.net/event/backchannel-logout"]; !ok || claims["nonce"] != nil || claims["sid"] == nil || claims["jti"] == nil {
		return nil, "events, nonce, sid or jti wrong"
	}
	return claims, ""
}

func (lr *logoutRecorder) received() ([]map[string]any, []string) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return append([]map[string]any(nil), lr.tokens...), append([]string(nil), lr.errs...)
}

func TestOIDCLogout(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := context.Background()
			p := e.provider(ctx)
			var recA *logoutRecorder
			recA = e.logoutRecorder(t, "app-a")
			a := e.oidcClient("app-a", func(c *store.Client) { c.BackchannelLogoutURI = recA.srv.URL + "/bcl" })
			bcl := e.oidcClient("app-b", func(c *store.Client) { c.FrontchannelLogoutURI = "https://b.example/fcl" })
			b := e.browser()
			idtA, tokA := e.signIn(ctx, b, p, e.rpConfig(p, a, "openid", "offline_access"))
			e.signIn(ctx, b, p, e.rpConfig(p, bcl, "openid"))
			hintA, _ := tokA.Extra("id_token").(string)
			sid := claimsOf(t, idtA).SID

			t.Run("RPInitiated_3/unregistered_post_logout_uri_is_an_error_page", func(t *testing.T) {
				resp, err := b.Get(e.issuer + "/logout?" + url.Values{"id_token_hint": {hintA}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
				if err != nil {
					t.Fatal(err)
				}
				assertErrorPage(t, resp, readBody(t, resp))
			})
			t.Run("RPInitiated_2/without_a_hint_the_user_confirms", func(t *testing.T) {
				resp, err := b.Get(e.issuer + "/logout?" + url.Values{"client_id": {a.id}, "post_logout_redirect_uri": {"https://rp.example/bye"}, "state": {"st"}}.Encode())
				if err != nil {
					t.Fatal(err)
				}
				body := readBody(t, resp)
				if resp.StatusCode != 200 || !strings.Contains(body, `action="/logout"`) {
					t.Fatalf("status %d:\n%s", resp.StatusCode, body)
				}
				// Still signed in: prompt=none still answers.
				r2, _ := e.authorizeGet(b, rpQuery(a, "openid", "prompt", "none"))
				if q := responseParams(t, r2); q.Get("code") == "" {
					t.Fatalf("a logout link signed the user out: %v", q)
				}
			})
			t.Run("RPInitiated_2/with_a_valid_hint_logs_out_and_returns_with_state", func(t *testing.T) {
				resp, err := b.Get(e.issuer + "/logout?" + url.Values{"id_token_hint": {hintA}, "post_logout_redirect_uri": {"https://rp.example/bye"}, "state": {"st"}}.Encode())
				if err != nil {
					t.Fatal(err)
				}
				body := readBody(t, resp)
				// app-b has a front channel: the page loads its URI in an iframe first.
				if resp.StatusCode != 200 || !strings.Contains(body, `<iframe src="https://b.example/fcl?iss=`) || !strings.Contains(body, "sid="+sid) {
					t.Fatalf("status %d:\n%s", resp.StatusCode, body)
				}
				if m := regexp.MustCompile(`url=([^"]+)"`).FindStringSubmatch(body); m == nil || !strings.Contains(m[1], "https://rp.example/bye?state=st") {
					t.Fatalf("the page does not go on to the post-logout URI:\n%s", body)
				}
			})
			t.Run("BackChannel_2.5/app_a_receives_a_valid_logout_token", func(t *testing.T) {
				e.server.WaitBackchannel()
				toks, errs := recA.received()
				if len(errs) > 0 || len(toks) != 1 || toks[0]["sid"] != sid || toks[0]["sub"] != "u1" {
					t.Fatalf("tokens %v errors %v", toks, errs)
				}
			})
			t.Run("Core_3.1.2.6/prompt_none_after_logout_is_login_required", func(t *testing.T) {
				r2, _ := e.authorizeGet(b, rpQuery(a, "openid", "prompt", "none"))
				if q := responseParams(t, r2); q.Get("error") != "login_required" {
					t.Fatalf("response %v", q)
				}
			})
			t.Run("offline_access_survives_logout_by_default", func(t *testing.T) {
				if _, err := refresh(ctx, e.rpConfig(p, a, "openid"), tokA.RefreshToken); err != nil {
					t.Fatalf("refresh after logout: %v", err)
				}
			})
		})
	}
}

// TestBackChannelLogout_2_5_SlowApplicationNeverBlocksTheUser: the logout
// answer reaches the browser while an application's back-channel endpoint
// still holds the delivery.
func TestBackChannelLogout_2_5_SlowApplicationNeverBlocksTheUser(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	release := make(chan struct{})
	arrived := make(chan struct{}, 4)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer slow.Close()
	defer close(release)
	rp := e.oidcClient("slow-app", func(c *store.Client) { c.BackchannelLogoutURI = slow.URL + "/bcl" })
	p := e.provider(ctx)
	b := e.browser()
	_, tok := e.signIn(ctx, b, p, e.rpConfig(p, rp, "openid"))
	hint, _ := tok.Extra("id_token").(string)
	resp, err := b.Get(e.issuer + "/logout?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://rp.example/bye"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if loc, _ := resp.Location(); resp.StatusCode != http.StatusFound || loc == nil || loc.String() != "https://rp.example/bye" {
		t.Fatalf("status %d location %v", resp.StatusCode, loc)
	}
	select {
	case <-arrived: // the delivery is under way and still held
	case <-time.After(10 * time.Second):
		t.Fatal("the back-channel logout was never sent")
	}
}

func TestOIDCLogout_RevokeRefreshOnLogout(t *testing.T) {
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) { c.Session.RevokeRefreshOnLogout = true })
	ctx := context.Background()
	rp := e.oidcClient("tv", nil)
	p := e.provider(ctx)
	b := e.browser()
	conf := e.rpConfig(p, rp, "openid", "offline_access")
	_, tok := e.signIn(ctx, b, p, conf)
	hint, _ := tok.Extra("id_token").(string)
	resp, err := b.Get(e.issuer + "/logout?" + url.Values{"id_token_hint": {hint}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if _, err := refresh(ctx, conf, tok.RefreshToken); oauthErrorCode(err) != "invalid_grant" {
		t.Fatalf("refresh after logout with revoke_refresh_on_logout: %v", err)
	}
	if e.tokenActive(tok.AccessToken) {
		t.Fatal("the access token of the revoked family is still active")
	}
}

// TestRFC6749_10_12_LogoutFormNeedsThisBrowsersToken: the sign-out form
// takes effect only with this browser's CSRF token; a cross-site POST
// without one is asked to confirm, a forged one is refused, and neither
// signs the user out.
func TestRFC6749_10_12_LogoutFormNeedsThisBrowsersToken(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	rp := e.oidcClient("rp", nil)
	p := e.provider(ctx)
	b := e.browser()
	e.signIn(ctx, b, p, e.rpConfig(p, rp, "openid"))
	stillSignedIn := func() bool {
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid", "prompt", "none"))
		return responseParams(t, resp).Get("code") != ""
	}
	resp, err := b.PostForm(e.issuer+"/logout", url.Values{"client_id": {rp.id}})
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != 200 || !strings.Contains(body, "Sign out?") || !stillSignedIn() {
		t.Fatalf("POST without a token: status %d, signed in %v", resp.StatusCode, stillSignedIn())
	}
	resp, err = b.PostForm(e.issuer+"/logout", url.Values{"csrf_token": {"forged"}})
	if err != nil {
		t.Fatal(err)
	}
	if readBody(t, resp); resp.StatusCode != http.StatusForbidden || !stillSignedIn() {
		t.Fatalf("POST with a forged token: status %d", resp.StatusCode)
	}
	// The confirmation page's own form signs out.
	resp, _ = b.Get(e.issuer + "/logout")
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(readBody(t, resp))
	if csrf == nil {
		t.Fatal("no confirmation form")
	}
	resp, err = b.PostForm(e.issuer+"/logout", url.Values{"csrf_token": {csrf[1]}, "decision": {"logout"}})
	if err != nil {
		t.Fatal(err)
	}
	if readBody(t, resp); stillSignedIn() {
		t.Fatal("the confirmed sign-out left the session alive")
	}
}
