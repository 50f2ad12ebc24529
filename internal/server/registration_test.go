package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
)

// openRegistration turns registration on, open to anyone.
func openRegistration(c *config.Config) {
	c.Registration.Enabled = true
	c.Registration.Mode = config.RegistrationOpen
}

// registered is a client information response (RFC 7591 §3.2.1).
type registered struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret"`
	ClientIDIssuedAt        *int64   `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at"`
	RegistrationAccessToken string   `json:"registration_access_token"`
	RegistrationClientURI   string   `json:"registration_client_uri"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ClientName              string   `json:"client_name"`
	Scope                   string   `json:"scope"`
	Contacts                []string `json:"contacts"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Error                   string   `json:"error"`
	ErrorDescription        string   `json:"error_description"`
}

// registrationCall sends a JSON request with an optional Bearer token and decodes the
// answer.
func (e *env) registrationCall(method, uri, bearer string, body any) (*http.Response, registered) {
	e.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, uri, rd)
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	raw := readBody(e.t, resp)
	var r registered
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			e.t.Fatalf("%s %s: %d %q is not JSON", method, uri, resp.StatusCode, raw)
		}
	}
	return resp, r
}

func (e *env) register(bearer string, body any) (*http.Response, registered) {
	e.t.Helper()
	return e.registrationCall(http.MethodPost, e.issuer+"/register", bearer, body)
}

var webMetadata = map[string]any{
	"redirect_uris": []string{"https://rp.example/cb"},
	"client_name":   "Third-party notes",
	"grant_types":   []string{"authorization_code", "refresh_token"},
	"scope":         "openid profile",
	"contacts":      []string{"ops@rp.example"},
	"client_id":     "chosen-by-the-client",
}

// TestRFC7591_3_OpenRegistrationThenSignIn: anyone may register; the
// answer carries the credentials and every registered field, the client
// signs a user in with golang.org/x/oauth2, its consent page says it is not
// verified, and it never skips consent.
func TestRFC7591_3_OpenRegistrationThenSignIn(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnvConfig(t, backend, dbtest.Open(t, backend), openRegistration)
			resp, r := e.register("", webMetadata)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("status %d %+v, want 201", resp.StatusCode, r)
			}
			if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Pragma") != "no-cache" {
				t.Fatalf("RFC 7591 §3.2.1: Cache-Control %q Pragma %q", resp.Header.Get("Cache-Control"), resp.Header.Get("Pragma"))
			}
			if r.ClientID == "" || r.ClientID == "chosen-by-the-client" {
				t.Fatalf("client_id %q: the server assigns it (RFC 9700 §4.15.1)", r.ClientID)
			}
			if r.ClientSecret == "" || r.ClientSecretExpiresAt == nil || *r.ClientSecretExpiresAt != 0 || r.ClientIDIssuedAt == nil {
				t.Fatalf("RFC 7591 §3.2.1: secret %q, expires_at %v, issued_at %v", r.ClientSecret, r.ClientSecretExpiresAt, r.ClientIDIssuedAt)
			}
			if r.RegistrationAccessToken == "" || r.RegistrationClientURI != e.issuer+"/register/"+r.ClientID {
				t.Fatalf("RFC 7592 §3: token %q, uri %q", r.RegistrationAccessToken, r.RegistrationClientURI)
			}
			if r.ClientName != "Third-party notes" || r.Scope != "openid profile" || len(r.Contacts) != 1 ||
				r.TokenEndpointAuthMethod != "client_secret_basic" || strings.Join(r.ResponseTypes, " ") != "code" {
				t.Fatalf("registered metadata not all returned: %+v", r)
			}
			stored, err := e.store.GetClient(context.Background(), r.ClientID)
			if err != nil || !stored.SelfRegistered || stored.RegistrationTokenHash == r.RegistrationAccessToken {
				t.Fatalf("stored client %+v, %v: self-registered, token stored hashed", stored, err)
			}

			c := testClient{id: r.ClientID, secret: r.ClientSecret, redirect: "https://rp.example/cb"}
			conf := e.oauth2Config(c, "openid", "profile")
			b := e.browser()
			verifier := oauth2.GenerateVerifier()
			authURL := conf.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier))
			loc := e.authorize(b, authURL)
			tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil || tok.AccessToken == "" || tok.Extra("id_token") == nil {
				t.Fatalf("exchange: %v %+v", err, tok)
			}

			// Signed in and granted, it still gets the consent page, with
			// the notice; prompt=none answers consent_required.
			resp2, err := b.Get(conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier)))
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp2)
			if resp2.Request.URL.Path != "/consent" || !strings.Contains(body, "data-unverified") || !strings.Contains(body, "Not verified by") {
				t.Fatalf("RFC 6819 §5.2.3.2: a self-registered client must be asked again, with the notice; got %s", resp2.Request.URL)
			}
			resp3, err := b.Get(conf.AuthCodeURL("s3", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none")))
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, resp3)
			l3, _ := resp3.Location()
			if l3 == nil || l3.Query().Get("error") != "consent_required" {
				t.Fatalf("prompt=none for a self-registered client: %v, want consent_required", l3)
			}
		})
	}
}

// TestRFC7591_3_GatedRegistration: with mode initial_access_token a
// registration needs a valid initial access token, used up after its uses.
func TestRFC7591_3_GatedRegistration(t *testing.T) {
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) { c.Registration.Enabled = true })
	for _, bearer := range []string{"", "lk_ia_unknown"} {
		resp, r := e.register(bearer, webMetadata)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("token %q: status %d %+v, want 401 with a Bearer challenge", bearer, resp.StatusCode, r)
		}
	}
	tok, _, err := oauth.IssueInitialAccessToken(context.Background(), e.store, e.clock.Now(), time.Hour, 1, "test")
	if err != nil {
		t.Fatal(err)
	}
	// A refused registration does not spend the token.
	if resp, r := e.register(tok.String(), map[string]any{"redirect_uris": []string{"http://rp.example/cb"}}); r.Error != "invalid_redirect_uri" {
		t.Fatalf("refused metadata with a valid token: %d %+v", resp.StatusCode, r)
	}
	if resp, r := e.register(tok.String(), webMetadata); resp.StatusCode != http.StatusCreated {
		t.Fatalf("with a valid token: %d %+v", resp.StatusCode, r)
	}
	if resp, _ := e.register(tok.String(), webMetadata); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a one-use token used twice: %d, want 401", resp.StatusCode)
	}
	expiring, _, err := oauth.IssueInitialAccessToken(context.Background(), e.store, e.clock.Now(), time.Minute, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	if resp, _ := e.register(expiring.String(), webMetadata); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an expired token: %d, want 401", resp.StatusCode)
	}
}

// TestRFC7591_3_2_2_PolicyRefusals: refused metadata answers 400 with
// invalid_redirect_uri or invalid_client_metadata and a description.
func TestRFC7591_3_2_2_PolicyRefusals(t *testing.T) {
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) {
		openRegistration(c)
		c.Registration.PerAddressPerHour = 0
	})
	with := func(k string, v any) map[string]any {
		m := map[string]any{"redirect_uris": []string{"https://rp.example/cb"}, "client_name": "x"}
		if k != "" {
			m[k] = v
		}
		return m
	}
	public := func(m map[string]any) map[string]any { m["token_endpoint_auth_method"] = "none"; return m }
	for _, tc := range []struct {
		name string
		body map[string]any
		want string
	}{
		{"InvalidRedirectURI/http_not_loopback", with("redirect_uris", []string{"http://rp.example/cb"}), "invalid_redirect_uri"},
		{"InvalidRedirectURI/javascript", with("redirect_uris", []string{"JaVaScRiPt:alert(1)"}), "invalid_redirect_uri"},
		{"InvalidRedirectURI/fragment", with("redirect_uris", []string{"https://rp.example/cb#x"}), "invalid_redirect_uri"},
		{"InvalidRedirectURI/code_in_query", with("redirect_uris", []string{"https://rp.example/cb?code=1"}), "invalid_redirect_uri"},
		{"InvalidRedirectURI/custom_scheme", public(with("redirect_uris", []string{"com.example.app:/cb"})), "invalid_redirect_uri"},
		{"InvalidRedirectURI/loopback_for_confidential", with("redirect_uris", []string{"http://127.0.0.1/cb"}), "invalid_redirect_uri"},
		{"InvalidRedirectURI/none_for_code", with("redirect_uris", []string{}), "invalid_redirect_uri"},
		{"InvalidClientMetadata/implicit", with("grant_types", []string{"implicit"}), "invalid_client_metadata"},
		{"InvalidClientMetadata/password", with("grant_types", []string{"password"}), "invalid_client_metadata"},
		{"InvalidClientMetadata/token_response_type", with("response_types", []string{"token"}), "invalid_client_metadata"},
		{"InvalidClientMetadata/RFC7591_2_1_inconsistent", func() map[string]any {
			m := with("grant_types", []string{"refresh_token"})
			m["response_types"] = []string{"code"}
			return m
		}(), "invalid_client_metadata"},
		{"InvalidClientMetadata/grant_outside_policy", with("grant_types", []string{"client_credentials"}), "invalid_client_metadata"},
		{"InvalidClientMetadata/scope_outside_policy", with("scope", "openid notes.write"), "invalid_client_metadata"},
		{"InvalidClientMetadata/unknown_auth_method", with("token_endpoint_auth_method", "tls_client_auth"), "invalid_client_metadata"},
		{"InvalidClientMetadata/jwks_uri", with("jwks_uri", "https://rp.example/jwks"), "invalid_client_metadata"},
		{"InvalidClientMetadata/http_logo", with("logo_uri", "http://rp.example/logo.png"), "invalid_client_metadata"},
		{"InvalidClientMetadata/wrong_type", with("redirect_uris", "https://rp.example/cb"), "invalid_client_metadata"},
		{"InvalidClientMetadata/private_key_jwt_without_keys", with("token_endpoint_auth_method", "private_key_jwt"), "invalid_client_metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, r := e.register("", tc.body)
			if resp.StatusCode != http.StatusBadRequest || r.Error != tc.want || r.ErrorDescription == "" {
				t.Fatalf("status %d error %q %q, want 400 %s with a description", resp.StatusCode, r.Error, r.ErrorDescription, tc.want)
			}
		})
	}
	t.Run("native_app_with_loopback_is_accepted", func(t *testing.T) {
		resp, r := e.register("", public(with("redirect_uris", []string{"http://127.0.0.1/cb"})))
		if resp.StatusCode != http.StatusCreated || r.ClientSecret != "" || r.TokenEndpointAuthMethod != "none" {
			t.Fatalf("status %d %+v: a public native client gets no secret", resp.StatusCode, r)
		}
	})
	t.Run("https_only_policy_refuses_loopback", func(t *testing.T) {
		e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) {
			openRegistration(c)
			c.Registration.Policy.RedirectURIs = config.RedirectHTTPS
		})
		if resp, r := e.register("", public(with("redirect_uris", []string{"http://127.0.0.1/cb"}))); r.Error != "invalid_redirect_uri" {
			t.Fatalf("status %d %+v", resp.StatusCode, r)
		}
	})
	t.Run("no_public_clients_policy", func(t *testing.T) {
		e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) {
			openRegistration(c)
			c.Registration.Policy.AllowPublic = false
		})
		if resp, r := e.register("", public(with("", nil))); r.Error != "invalid_client_metadata" {
			t.Fatalf("status %d %+v", resp.StatusCode, r)
		}
	})
}

// TestRFC7592_ReadUpdateDelete: the registration access token reads,
// replaces and deletes the client; a wrong token or client gets 401 alike.
func TestRFC7592_ReadUpdateDelete(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnvConfig(t, backend, dbtest.Open(t, backend), openRegistration)
			_, r := e.register("", webMetadata)
			uri, token := r.RegistrationClientURI, r.RegistrationAccessToken

			t.Run("RFC7592_2_1_read", func(t *testing.T) {
				resp, got := e.registrationCall(http.MethodGet, uri, token, nil)
				if resp.StatusCode != http.StatusOK || got.ClientID != r.ClientID || got.ClientName != "Third-party notes" ||
					got.Scope != "openid profile" || got.ClientSecret != "" || got.RegistrationAccessToken != token ||
					got.RegistrationClientURI != uri {
					t.Fatalf("read: %d %+v", resp.StatusCode, got)
				}
			})
			t.Run("RFC7592_3_wrong_token_or_client_is_401_alike", func(t *testing.T) {
				other := e.issuer + "/register/cloud-print"
				for _, c := range []struct{ uri, token string }{{uri, "lk_ra_wrong"}, {uri, ""}, {e.issuer + "/register/nope", token}, {other, token}} {
					resp, got := e.registrationCall(http.MethodGet, c.uri, c.token, nil)
					if resp.StatusCode != http.StatusUnauthorized || got.ClientID != "" {
						t.Fatalf("%s with %q: %d %+v, want 401 without the client", c.uri, c.token, resp.StatusCode, got)
					}
				}
			})
			t.Run("RFC7592_2_2_update_checks_client_id_and_secret", func(t *testing.T) {
				for _, body := range []map[string]any{
					{"redirect_uris": []string{"https://rp.example/cb"}},
					{"client_id": "other", "redirect_uris": []string{"https://rp.example/cb"}},
					{"client_id": r.ClientID, "client_secret": "wrong", "redirect_uris": []string{"https://rp.example/cb"}},
					{"client_id": r.ClientID, "registration_access_token": token, "redirect_uris": []string{"https://rp.example/cb"}},
				} {
					if resp, got := e.registrationCall(http.MethodPut, uri, token, body); resp.StatusCode != http.StatusBadRequest {
						t.Fatalf("update %v: %d %+v, want 400", body, resp.StatusCode, got)
					}
				}
			})
			var newToken string
			t.Run("RFC7592_2_2_update_replaces_metadata_and_rotates_the_token", func(t *testing.T) {
				resp, got := e.registrationCall(http.MethodPut, uri, token, map[string]any{
					"client_id": r.ClientID, "client_secret": r.ClientSecret,
					"redirect_uris": []string{"https://rp.example/new"}, "client_name": "Renamed", "scope": "openid",
				})
				if resp.StatusCode != http.StatusOK || got.ClientName != "Renamed" || got.Scope != "openid" ||
					len(got.Contacts) != 0 || got.RedirectURIs[0] != "https://rp.example/new" {
					t.Fatalf("update: %d %+v (omitted fields are removed)", resp.StatusCode, got)
				}
				if got.RegistrationAccessToken == "" || got.RegistrationAccessToken == token {
					t.Fatal("the registration access token must rotate on update")
				}
				newToken = got.RegistrationAccessToken
				if resp, _ := e.registrationCall(http.MethodGet, uri, token, nil); resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("the old token still reads: %d", resp.StatusCode)
				}
				if resp, _ := e.registrationCall(http.MethodPut, uri, newToken, map[string]any{"client_id": r.ClientID,
					"redirect_uris": []string{"http://evil.example/cb"}}); resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("an update the policy refuses: %d", resp.StatusCode)
				}
			})
			t.Run("RFC7592_2_3_delete", func(t *testing.T) {
				resp, _ := e.registrationCall(http.MethodDelete, uri, newToken, nil)
				if resp.StatusCode != http.StatusNoContent {
					t.Fatalf("delete: %d, want 204", resp.StatusCode)
				}
				if _, err := e.store.GetClient(context.Background(), r.ClientID); err == nil {
					t.Fatal("the client is still stored")
				}
				if resp, _ := e.registrationCall(http.MethodGet, uri, newToken, nil); resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("read after delete: %d, want 401", resp.StatusCode)
				}
				var changes []string
				for _, ev := range e.auditEvents(t) {
					if ev["event"] == "client.changed" && ev["client_id"] == r.ClientID && ev["actor"] == "registration" {
						changes = append(changes, ev["detail"])
					}
				}
				if want := []string{"registered itself", "updated its registration", "deleted its registration"}; !slices.Equal(changes, want) {
					t.Errorf("audit events of the client's own changes %q, want %q", changes, want)
				}
			})
			t.Run("RFC7592_operator_clients_are_not_managed_here", func(t *testing.T) {
				resp, _ := e.registrationCall(http.MethodDelete, e.issuer+"/register/cloud-print", strings.Repeat("0", 64), nil)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("%d", resp.StatusCode)
				}
			})
		})
	}
}

// TestRegistration_OffByDefault: no /register and no registration_endpoint
// unless registration is on.
func TestRegistration_OffByDefault(t *testing.T) {
	for _, on := range []bool{false, true} {
		e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) { c.Registration.Enabled = on })
		resp, err := http.Get(e.issuer + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var md struct {
			RegistrationEndpoint string `json:"registration_endpoint"`
		}
		json.Unmarshal([]byte(readBody(t, resp)), &md)
		if want := map[bool]string{true: e.issuer + "/register"}[on]; md.RegistrationEndpoint != want {
			t.Fatalf("enabled %v: registration_endpoint %q, want %q", on, md.RegistrationEndpoint, want)
		}
		resp, err = http.Post(e.issuer+"/register", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if !on && resp.StatusCode != http.StatusNotFound {
			t.Fatalf("registration off: POST /register answered %d, want 404", resp.StatusCode)
		}
	}
}

// TestRegistration_PerAddressLimit: registrations from one address are
// bounded per hour; the next answers 429 with a JSON error.
func TestRegistration_PerAddressLimit(t *testing.T) {
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) {
		openRegistration(c)
		c.Registration.PerAddressPerHour = 2
	})
	for i := range 2 {
		if resp, r := e.register("", webMetadata); resp.StatusCode != http.StatusCreated {
			t.Fatalf("registration %d: %d %+v", i, resp.StatusCode, r)
		}
	}
	resp, r := e.register("", webMetadata)
	if resp.StatusCode != http.StatusTooManyRequests || r.Error == "" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third registration: %d %+v, want 429 with a JSON error and Retry-After", resp.StatusCode, r)
	}
	e.clock.Advance(time.Hour + time.Second)
	if resp, _ := e.register("", webMetadata); resp.StatusCode != http.StatusCreated {
		t.Fatalf("an hour later: %d, want 201", resp.StatusCode)
	}
}

// TestRegistration_UnusedClientsExpire: the janitor deletes a
// self-registered client nobody used for unused_client_ttl, and keeps one in
// use and the operator's clients.
func TestRegistration_UnusedClientsExpire(t *testing.T) {
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) {
		openRegistration(c)
		c.Registration.UnusedClientTTL = 48 * time.Hour
	})
	_, unused := e.register("", webMetadata)
	_, used := e.register("", webMetadata)
	conf := e.oauth2Config(testClient{id: used.ClientID, secret: used.ClientSecret}, "openid")
	e.clock.Advance(47 * time.Hour)
	// A use: a token request authenticates the client (the code is bogus).
	if _, err := conf.Exchange(context.Background(), "lk_ac_bogus"); oauthErrorCode(err) != "invalid_grant" {
		t.Fatalf("exchange: %v", err)
	}
	e.clock.Advance(2 * time.Hour)
	if _, err := e.server.Janitor().RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.GetClient(context.Background(), unused.ClientID); err == nil {
		t.Fatal("the unused self-registered client was kept")
	}
	for _, id := range []string{used.ClientID, e.web.id} {
		if _, err := e.store.GetClient(context.Background(), id); err != nil {
			t.Fatalf("client %s deleted: %v", id, err)
		}
	}
}

// TestRFC7591_2_3_SoftwareStatements: a statement signed by a trusted key
// takes precedence over the request and may pre-approve scopes beyond the
// policy; an unsigned one is invalid_software_statement, one signed by
// another key unapproved_software_statement.
func TestRFC7591_2_3_SoftwareStatements(t *testing.T) {
	trusted, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &trusted.PublicKey, KeyID: "publisher", Algorithm: "ES256", Use: "sig"}}})
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) {
		openRegistration(c)
		c.Registration.SoftwareStatementKeys = string(set)
	})
	sign := func(key *ecdsa.PrivateKey, claims map[string]any) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "publisher"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(claims)
		obj, err := signer.Sign(b)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := obj.CompactSerialize()
		return s
	}
	claims := map[string]any{"iss": "https://publisher.example", "software_id": "notes-pro", "client_name": "Notes Pro",
		"scope": "openid notes.write", "redirect_uris": []string{"https://notes-pro.example/cb"}, "exp": time.Now().Add(time.Hour).Unix()}
	body := func(statement string) map[string]any {
		return map[string]any{"software_statement": statement, "client_name": "Impostor", "redirect_uris": []string{"https://evil.example/cb"}}
	}

	t.Run("trusted_statement_takes_precedence_and_pre_approves", func(t *testing.T) {
		resp, r := e.register("", body(sign(trusted, claims)))
		if resp.StatusCode != http.StatusCreated || r.ClientName != "Notes Pro" || r.Scope != "openid notes.write" ||
			r.RedirectURIs[0] != "https://notes-pro.example/cb" {
			t.Fatalf("%d %+v: the statement's claims must win, notes.write pre-approved", resp.StatusCode, r)
		}
	})
	t.Run("without_a_statement_the_policy_holds", func(t *testing.T) {
		if _, r := e.register("", map[string]any{"scope": "openid notes.write", "redirect_uris": []string{"https://x.example/cb"}}); r.Error != "invalid_client_metadata" {
			t.Fatalf("%+v", r)
		}
	})
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"x","scope":"notes.write"}`)) + "."
	expired := maps.Clone(claims)
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	for _, tc := range []struct{ name, statement, want string }{
		{"unsigned", unsigned, "invalid_software_statement"},
		{"not_a_jwt", "hello", "invalid_software_statement"},
		{"untrusted_key", sign(other, claims), "unapproved_software_statement"},
		{"expired", sign(trusted, expired), "unapproved_software_statement"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, r := e.register("", body(tc.statement))
			if resp.StatusCode != http.StatusBadRequest || r.Error != tc.want || r.ErrorDescription == "" {
				t.Fatalf("%d %+v, want 400 %s", resp.StatusCode, r, tc.want)
			}
		})
	}
}

// TestRFC7591_Interop_NodeOpenIDClientRegistersAndSignsIn: node
// openid-client finds registration_endpoint through discovery, registers
// with an initial access token (dynamicClientRegistration), and signs a
// user in with the credentials it got: code flow with PKCE, its ID token
// and userinfo checked by the library.
func TestRFC7591_Interop_NodeOpenIDClientRegistersAndSignsIn(t *testing.T) {
	nodeRP(t)
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) { c.Registration.Enabled = true })
	iat, _, err := oauth.IssueInitialAccessToken(context.Background(), e.store, e.clock.Now(), time.Hour, 1, "node")
	if err != nil {
		t.Fatal(err)
	}
	p := startNodeScript(t, "register.mjs",
		"LATCHKEY_ISSUER="+e.issuer,
		"RP_REDIRECT_URI=https://node-rp.example/cb",
		"RP_INITIAL_ACCESS_TOKEN="+iat.String(),
	)
	var start struct {
		ClientID              string `json:"client_id"`
		RegistrationClientURI string `json:"registration_client_uri"`
		AuthorizationURL      string `json:"authorization_url"`
	}
	p.receive(&start)
	c, err := e.store.GetClient(context.Background(), start.ClientID)
	if err != nil || !c.SelfRegistered || c.Name != "Node DCR client" || start.RegistrationClientURI != e.issuer+"/register/"+c.ID {
		t.Fatalf("registered client %+v, %v; registration_client_uri %q", c, err, start.RegistrationClientURI)
	}
	callback := e.authorize(e.browser(), start.AuthorizationURL)
	p.send(map[string]string{"callback_url": callback.String()})
	var got struct {
		IDTokenClaims nodeClaims `json:"id_token_claims"`
		Userinfo      nodeClaims `json:"userinfo"`
	}
	p.receive(&got)
	if got.IDTokenClaims.Iss != e.issuer || got.IDTokenClaims.Sub == "" || got.Userinfo.Sub != got.IDTokenClaims.Sub ||
		!strings.Contains(string(got.IDTokenClaims.Aud), start.ClientID) || got.Userinfo.Email != "alice@example.com" {
		t.Fatalf("openid-client got %+v", got)
	}
}

// TestRFC9700_4_11_2_SelfRegisteredClientIsNoOpenRedirector: an error for
// a self-registered client is shown on the error page, not sent to its
// redirect URI, until someone is signed in in the browser; prompt=none
// included.
func TestRFC9700_4_11_2_SelfRegisteredClientIsNoOpenRedirector(t *testing.T) {
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), openRegistration)
	_, r := e.register("", map[string]any{"redirect_uris": []string{"https://phish.example/cb"}, "client_name": "Totally legit"})
	conf := e.oauth2Config(testClient{id: r.ClientID, secret: r.ClientSecret, redirect: "https://phish.example/cb"}, "no-such-scope")
	verifier := oauth2.GenerateVerifier()
	b := e.browser()
	for name, u := range map[string]string{
		"invalid_scope": conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)),
		"prompt_none":   e.oauth2Config(testClient{id: r.ClientID, redirect: "https://phish.example/cb"}, "openid").AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none")),
	} {
		resp, err := noRedirects(nil).Get(u)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Fatalf("%s, nobody signed in: %d Location %q, want the error page", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// Signed in (through an operator's client), the error goes to the client.
	e.authorize(b, e.oauth2Config(e.web, "notes.read").AuthCodeURL("w", oauth2.S256ChallengeOption(verifier)))
	resp, err := b.Get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	loc, _ := resp.Location()
	if loc == nil || loc.Host != "phish.example" || loc.Query().Get("error") != "invalid_scope" {
		t.Fatalf("signed in: %d %v, want invalid_scope at the client", resp.StatusCode, loc)
	}
}

// TestRFC7591_StoreOutageIs503: with the database gone, a registration is
// answered 503 temporarily_unavailable with Retry-After, never a 500 and
// never a client that was not stored.
func TestRFC7591_StoreOutageIs503(t *testing.T) {
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), openRegistration)
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	resp, got := e.registrationCall("POST", e.issuer+"/register", "", map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb"}, "token_endpoint_auth_method": "none"})
	if resp.StatusCode != http.StatusServiceUnavailable || got.Error != "temporarily_unavailable" || resp.Header.Get("Retry-After") == "" || got.ClientID != "" {
		t.Fatalf("registration with the database closed: %d %+v", resp.StatusCode, got)
	}
}
