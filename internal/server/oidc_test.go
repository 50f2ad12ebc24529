package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/oidc"
	"github.com/latchkey/latchkey/internal/store"
)

const rpRedirect = "https://rp.example/callback"

// oidcClient registers a confidential OpenID relying party that may use
// every response type, with a post-logout URI; edit adjusts it.
func (e *env) oidcClient(id string, edit func(*store.Client)) testClient {
	e.t.Helper()
	sec, hash := oauth.NewClientSecret()
	c := store.Client{
		ID: id, SecretHash: hash, Name: "RP " + id, RedirectURIs: []string{rpRedirect},
		GrantTypes:             []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantImplicit},
		Scopes:                 []string{"openid", "profile", "email", "notes.read", "offline_access"},
		PostLogoutRedirectURIs: []string{"https://rp.example/bye"},
	}
	if edit != nil {
		edit(&c)
	}
	e.mustCreateClient(c)
	return testClient{id: id, secret: sec.String(), redirect: rpRedirect}
}

// provider discovers Latchkey with go-oidc, a relying-party library nobody
// here wrote.
func (e *env) provider(ctx context.Context) *gooidc.Provider {
	e.t.Helper()
	p, err := gooidc.NewProvider(ctx, e.issuer)
	if err != nil {
		e.t.Fatalf("go-oidc discovery: %v", err)
	}
	return p
}

func (e *env) rpConfig(p *gooidc.Provider, c testClient, scopes ...string) *oauth2.Config {
	return &oauth2.Config{ClientID: c.id, ClientSecret: c.secret, RedirectURL: c.redirect, Endpoint: p.Endpoint(), Scopes: scopes}
}

// signIn runs the code flow for an OpenID client and returns the verified
// ID token and the token response.
func (e *env) signIn(ctx context.Context, b *http.Client, p *gooidc.Provider, conf *oauth2.Config, opts ...oauth2.AuthCodeOption) (*gooidc.IDToken, *oauth2.Token) {
	e.t.Helper()
	verifier := oauth2.GenerateVerifier()
	opts = append(opts, oauth2.S256ChallengeOption(verifier))
	loc := e.authorize(b, conf.AuthCodeURL("state-1", opts...))
	if loc.Query().Get("code") == "" {
		e.t.Fatalf("no code: %s", loc)
	}
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		e.t.Fatal("OpenID Connect Core §3.1.3.3: the token response carries no id_token")
	}
	idt, err := p.Verifier(&gooidc.Config{ClientID: conf.ClientID}).Verify(ctx, raw)
	if err != nil {
		e.t.Fatalf("go-oidc rejects the ID token: %v", err)
	}
	return idt, tok
}

type idClaims struct {
	Nonce, ACR, AZP, SID, Email, Name, PreferredUsername string
	AMR                                                  []string `json:"amr"`
	AuthTime                                             int64    `json:"auth_time"`
	EmailVerified                                        *bool    `json:"email_verified"`
	ATHash                                               string   `json:"at_hash"`
	CHash                                                string   `json:"c_hash"`
}

func claimsOf(t *testing.T, idt *gooidc.IDToken) idClaims {
	t.Helper()
	var c struct {
		idClaims
		AZP               string `json:"azp"`
		SID               string `json:"sid"`
		PreferredUsername string `json:"preferred_username"`
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	c.idClaims.AZP, c.idClaims.SID, c.idClaims.PreferredUsername = c.AZP, c.SID, c.PreferredUsername
	return c.idClaims
}

func TestOIDCCore_3_1_CodeFlowWithGoOIDC(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := context.Background()
			rp := e.oidcClient("rp", nil)
			p := e.provider(ctx)
			conf := e.rpConfig(p, rp, "openid", "profile", "email", "offline_access")
			idt, tok := e.signIn(ctx, e.browser(), p, conf, gooidc.Nonce("n-0S6_WzA2Mj"))
			c := claimsOf(t, idt)

			t.Run("Core_2/claims", func(t *testing.T) {
				if idt.Issuer != e.issuer || idt.Subject != "u1" || len(idt.Audience) != 1 || idt.Audience[0] != rp.id {
					t.Fatalf("iss %q sub %q aud %v", idt.Issuer, idt.Subject, idt.Audience)
				}
				if c.Nonce != "n-0S6_WzA2Mj" {
					t.Fatalf("Core_3.1.2.1: nonce %q, want it echoed", c.Nonce)
				}
				if c.AZP != rp.id || c.SID == "" || c.AuthTime == 0 || len(c.AMR) != 1 || c.AMR[0] != "pwd" || c.ACR != "1" {
					t.Fatalf("azp %q sid %q auth_time %d amr %v acr %q", c.AZP, c.SID, c.AuthTime, c.AMR, c.ACR)
				}
				if c.PreferredUsername != testUser || c.Email != "alice@example.com" || c.EmailVerified == nil {
					t.Fatalf("profile and email claims: %+v", c)
				}
			})
			t.Run("Core_3.1.3.6/at_hash", func(t *testing.T) {
				if c.ATHash == "" {
					t.Fatal("no at_hash")
				}
				if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
					t.Fatalf("go-oidc: at_hash does not match the access token: %v", err)
				}
			})
			t.Run("Core_5.3/userinfo", func(t *testing.T) {
				ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
				if err != nil {
					t.Fatal(err)
				}
				var claims map[string]any
				ui.Claims(&claims)
				if ui.Subject != "u1" || ui.Email != "alice@example.com" || claims["name"] != "Alice" || claims["preferred_username"] != testUser {
					t.Fatalf("userinfo %v", claims)
				}
			})
			t.Run("Core_12.2/refresh_returns_an_ID_token_without_nonce", func(t *testing.T) {
				nt, err := refresh(ctx, conf, tok.RefreshToken)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := nt.Extra("id_token").(string)
				idt2, err := p.Verifier(&gooidc.Config{ClientID: rp.id}).Verify(ctx, raw)
				if err != nil {
					t.Fatal(err)
				}
				c2 := claimsOf(t, idt2)
				if idt2.Subject != idt.Subject || c2.AuthTime != c.AuthTime || c2.Nonce != "" {
					t.Fatalf("refreshed ID token sub %q auth_time %d nonce %q", idt2.Subject, c2.AuthTime, c2.Nonce)
				}
			})
			t.Run("RFC7662_2.2/introspection_names_the_user", func(t *testing.T) {
				a := e.introspect(&testClient{id: rp.id, secret: rp.secret}, tok.AccessToken)
				if !active(a) || a.str("username") != testUser {
					t.Fatalf("introspection %v", a.body)
				}
			})
		})
	}
}

func TestOIDCDiscovery_3_RequiredMetadata(t *testing.T) {
	e := newEnv(t, "sqlite")
	resp := mustGet(t, e.issuer+"/.well-known/openid-configuration")
	var m map[string]any
	if err := jsonUnmarshal(readBody(t, resp), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint",
		"response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported", "claims_supported"} {
		if m[k] == nil {
			t.Errorf("Discovery §3: %s is missing", k)
		}
	}
	algs, _ := m["id_token_signing_alg_values_supported"].([]any)
	if len(algs) == 0 || algs[0] != "RS256" {
		t.Errorf("Discovery §3: RS256 MUST be supported (first); got %v", algs)
	}
	if m["request_uri_parameter_supported"] != false || m["backchannel_logout_supported"] != true {
		t.Errorf("request_uri_parameter_supported %v backchannel_logout_supported %v", m["request_uri_parameter_supported"], m["backchannel_logout_supported"])
	}
	modes, _ := m["response_modes_supported"].([]any)
	if len(modes) != 3 {
		t.Errorf("response_modes_supported %v", modes)
	}
}

// authorizeGet sends an authorization request from browser b without
// following redirects out of Latchkey, and returns the last response.
func (e *env) authorizeGet(b *http.Client, q url.Values) (*http.Response, string) {
	e.t.Helper()
	resp, err := b.Get(e.issuer + "/authorize?" + q.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, readBody(e.t, resp)
}

func rpQuery(c testClient, scope string, extra ...string) url.Values {
	q := url.Values{"response_type": {"code"}, "client_id": {c.id}, "redirect_uri": {c.redirect}, "scope": {scope}, "state": {"s1"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return q
}

// responseParams returns the parameters of a redirect to the client, from
// the query or the fragment.
func responseParams(t *testing.T, resp *http.Response) url.Values {
	t.Helper()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("status %d, no redirect to the client", resp.StatusCode)
	}
	if !strings.HasPrefix(loc.String(), rpRedirect) {
		t.Fatalf("redirect to %s", loc)
	}
	if loc.Fragment != "" {
		q, _ := url.ParseQuery(loc.Fragment)
		return q
	}
	return loc.Query()
}

func TestOIDCCore_3_1_2_1_RequestParameters(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	rp := e.oidcClient("rp", nil)
	p := e.provider(ctx)
	b := e.browser()
	first, _ := e.signIn(ctx, b, p, e.rpConfig(p, rp, "openid", "email"))
	firstSID := claimsOf(t, first).SID

	t.Run("prompt_none_signed_in_with_consent_answers_at_once", func(t *testing.T) {
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid email", "prompt", "none"))
		if q := responseParams(t, resp); q.Get("code") == "" || q.Get("state") != "s1" {
			t.Fatalf("response %v", q)
		}
	})
	t.Run("prompt_none_without_consent_is_consent_required", func(t *testing.T) {
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid notes.read", "prompt", "none"))
		if q := responseParams(t, resp); q.Get("error") != "consent_required" || q.Get("iss") != e.issuer {
			t.Fatalf("response %v", q)
		}
	})
	t.Run("prompt_none_signed_out_is_login_required", func(t *testing.T) {
		resp, _ := e.authorizeGet(e.browser(), rpQuery(rp, "openid", "prompt", "none"))
		if q := responseParams(t, resp); q.Get("error") != "login_required" || q.Get("state") != "s1" {
			t.Fatalf("response %v", q)
		}
	})
	t.Run("prompt_none_with_another_value_is_invalid_request", func(t *testing.T) {
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid", "prompt", "none login"))
		if q := responseParams(t, resp); q.Get("error") != "invalid_request" {
			t.Fatalf("response %v", q)
		}
	})
	for _, tc := range []struct{ name, key, value string }{
		{"prompt_login_asks_for_the_password_again", "prompt", "login"},
		{"max_age_0_asks_for_the_password_again", "max_age", "0"},
		{"prompt_select_account_shows_the_sign_in_page", "prompt", "select_account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := e.authorizeGet(b, rpQuery(rp, "openid email", tc.key, tc.value))
			if resp.Request.URL.Path != "/login" {
				t.Fatalf("landed on %s (status %d), want /login", resp.Request.URL, resp.StatusCode)
			}
		})
	}
	t.Run("max_age_not_reached_uses_the_session", func(t *testing.T) {
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid email", "max_age", "3600"))
		if q := responseParams(t, resp); q.Get("code") == "" {
			t.Fatalf("response %v", q)
		}
	})
	t.Run("max_age_reached_reauthenticates_and_auth_time_is_fresh", func(t *testing.T) {
		e.clock.Advance(2 * 60 * 1e9)
		conf := e.rpConfig(p, rp, "openid", "email")
		idt, _ := e.signIn(ctx, b, p, conf, oauth2.SetAuthURLParam("max_age", "60"))
		c := claimsOf(t, idt)
		if c.AuthTime != e.clock.Now().Unix() || c.ACR != oidc.ACRLogin {
			t.Fatalf("auth_time %d (now %d) acr %q", c.AuthTime, e.clock.Now().Unix(), c.ACR)
		}
		// The same user signing in again keeps the session's sid, so a
		// later logout still names the sid the first ID token carried.
		if c.SID != firstSID {
			t.Fatalf("sid changed from %q to %q on re-authentication", firstSID, c.SID)
		}
	})
	t.Run("login_hint_fills_in_the_username", func(t *testing.T) {
		_, body := e.authorizeGet(e.browser(), rpQuery(rp, "openid", "login_hint", "bob@example.com"))
		if !strings.Contains(body, `value="bob@example.com"`) {
			t.Fatal("the login page does not show the hinted username")
		}
	})
	t.Run("unknown_response_mode_is_refused", func(t *testing.T) {
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid", "response_mode", "web_message"))
		if q := responseParams(t, resp); q.Get("error") != "invalid_request" {
			t.Fatalf("response %v", q)
		}
	})
	t.Run("RFC9101_6_3_unsigned_request_object_is_an_error_page", func(t *testing.T) {
		resp, body := e.authorizeGet(b, rpQuery(rp, "openid", "request", "eyJhbGciOiJub25lIn0.e30."))
		assertErrorPage(t, resp, body)
		if !strings.Contains(body, "invalid_request_object") {
			t.Fatalf("the page does not name invalid_request_object:\n%s", body)
		}
	})
	t.Run("openid_without_redirect_uri_is_an_error_page", func(t *testing.T) {
		q := rpQuery(rp, "openid")
		q.Del("redirect_uri")
		resp, body := e.authorizeGet(b, q)
		assertErrorPage(t, resp, body)
	})
	t.Run("malformed_claims_is_invalid_request", func(t *testing.T) {
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid", "claims", `{"userinfo":[1]}`))
		if q := responseParams(t, resp); q.Get("error") != "invalid_request" {
			t.Fatalf("response %v", q)
		}
	})
	t.Run("id_token_hint_of_the_signed_in_user_answers_prompt_none", func(t *testing.T) {
		_, tok := e.signIn(ctx, b, p, e.rpConfig(p, rp, "openid", "email"))
		hint, _ := tok.Extra("id_token").(string)
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid email", "prompt", "none", "id_token_hint", hint))
		if q := responseParams(t, resp); q.Get("code") == "" {
			t.Fatalf("response %v", q)
		}
		resp, _ = e.authorizeGet(b, rpQuery(rp, "openid email", "prompt", "none", "id_token_hint", hint+"x"))
		if q := responseParams(t, resp); q.Get("error") != "invalid_request" {
			t.Fatalf("a forged hint: response %v", q)
		}
	})
}

func oauthStatic(t *oauth2.Token) oauth2.TokenSource { return oauth2.StaticTokenSource(t) }

func authParam(k, v string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam(k, v) }

// TestOIDCRegistration_2_IDTokenSignedResponseAlg: a client that registered
// ES256 or EdDSA gets ID tokens of that algorithm, verifiable by go-oidc,
// with at_hash computed with that algorithm's hash.
func TestOIDCRegistration_2_IDTokenSignedResponseAlg(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	p := e.provider(ctx)
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			rp := e.oidcClient("rp-"+strings.ToLower(alg), func(c *store.Client) {
				if alg != "RS256" {
					c.IDTokenAlg = alg
				}
			})
			conf := e.rpConfig(p, rp, "openid")
			verifier := oauth2.GenerateVerifier()
			loc := e.authorize(e.browser(), conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
			tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := p.Verifier(&gooidc.Config{ClientID: rp.id, SupportedSigningAlgs: []string{alg}}).Verify(ctx, raw)
			if err != nil {
				t.Fatalf("go-oidc with only %s allowed: %v", alg, err)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Fatalf("at_hash: %v", err)
			}
		})
	}
}

func TestOIDCCore_3_1_2_1_LimitsAndSessionReuse(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	rp := e.oidcClient("rp", nil)
	p := e.provider(ctx)
	b := e.browser()
	e.signIn(ctx, b, p, e.rpConfig(p, rp, "openid"))
	for _, tc := range []struct {
		name, key string
		n         int
		ok        bool
	}{
		{"state_of_2048_characters_is_echoed", "state", 2048, true},
		{"state_of_2049_characters_is_refused", "state", 2049, false},
		{"nonce_of_2048_characters_is_accepted", "nonce", 2048, true},
		{"nonce_of_2049_characters_is_refused", "nonce", 2049, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := strings.Repeat("n", tc.n)
			resp, _ := e.authorizeGet(b, rpQuery(rp, "openid", tc.key, v))
			q := responseParams(t, resp)
			if tc.ok && (q.Get("code") == "" || tc.key == "state" && q.Get("state") != v) {
				t.Fatalf("response %v", q)
			}
			if !tc.ok && q.Get("error") != "invalid_request" {
				t.Fatalf("response %v", q)
			}
		})
	}
	t.Run("without_max_age_an_hours_old_sign_in_still_answers", func(t *testing.T) {
		e.clock.Advance(time.Hour)
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid", "prompt", "none"))
		if q := responseParams(t, resp); q.Get("code") == "" {
			t.Fatalf("response %v", q)
		}
	})
}

func TestOIDCCore_3_1_2_1_MaxAgeBoundaryAndPostRequests(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	rp := e.oidcClient("rp", nil)
	p := e.provider(ctx)
	b := e.browser()
	e.signIn(ctx, b, p, e.rpConfig(p, rp, "openid"))

	t.Run("max_age_reached_exactly_still_uses_the_session", func(t *testing.T) {
		// Core §3.1.2.1: re-authenticate when the elapsed time "is greater
		// than" max_age.
		e.clock.Advance(60 * time.Second)
		resp, _ := e.authorizeGet(b, rpQuery(rp, "openid", "max_age", "60"))
		if q := responseParams(t, resp); q.Get("code") == "" {
			t.Fatalf("response %v", q)
		}
		e.clock.Advance(time.Second)
		resp, _ = e.authorizeGet(b, rpQuery(rp, "openid", "max_age", "60"))
		if resp.Request.URL.Path != "/login" {
			t.Fatalf("61 s after sign-in with max_age=60: landed on %s", resp.Request.URL)
		}
	})
	t.Run("RFC6749_3_1/POST_authorization_request_succeeds", func(t *testing.T) {
		resp, err := b.PostForm(e.issuer+"/authorize", rpQuery(rp, "openid", "prompt", "none"))
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d, want 303 (RFC 9700 §4.12)", resp.StatusCode)
		}
		if q := responseParams(t, resp); q.Get("code") == "" {
			t.Fatalf("response %v", q)
		}
		resp, err = b.PostForm(e.issuer+"/authorize?client_id="+rp.id, rpQuery(rp, "openid"))
		if err != nil {
			t.Fatal(err)
		}
		assertErrorPage(t, resp, readBody(t, resp))
	})
	t.Run("SECURITY_S6/query_of_8_KiB_is_read_and_one_byte_more_is_refused", func(t *testing.T) {
		base := rpQuery(rp, "openid", "prompt", "none").Encode() + "&pad="
		for _, extra := range []int{0, 1} {
			raw := base + strings.Repeat("a", 8<<10-len(base)+extra)
			resp, err := noRedirects(b.Jar).Get(e.issuer + "/authorize?" + raw)
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if extra == 0 && resp.StatusCode != http.StatusFound {
				t.Fatalf("a query of exactly 8 KiB: status %d", resp.StatusCode)
			}
			if extra == 1 {
				assertErrorPage(t, resp, body)
			}
		}
	})
}
