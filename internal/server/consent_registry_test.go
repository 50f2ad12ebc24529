package server_test

import (
	"net/url"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// TestScopeRegistry_SkipConsent: a confidential client asking only for
// scopes that need no consent goes straight back after sign-in; a public
// client is always asked (RFC 6819 §5.2.3.2); other scopes are asked.
func TestScopeRegistry_SkipConsent(t *testing.T) {
	// The default registry asks consent for everything; this server's
	// registry marks openid skip_consent.
	e2 := newEnvWithScopes(t, []config.Scope{{Name: "openid", Description: "Sign you in", SkipConsent: true}, {Name: "notes.read", Description: "Read your notes"}})
	_, hash := oauth.NewClientSecret()
	e2.mustCreateClient(store.Client{ID: "portal", SecretHash: hash, Name: "Portal", RedirectURIs: []string{"https://portal.example/cb"},
		GrantTypes: []string{oauth.GrantAuthorizationCode}, Scopes: []string{"openid", "notes.read"}})
	b := e2.browser()
	q := url.Values{"response_type": {"code"}, "client_id": {"portal"}, "redirect_uri": {"https://portal.example/cb"}, "scope": {"openid"}, "state": {"s"}}
	resp, err := b.Get(e2.issuer + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	csrf, req := formFields(t, body)
	r, _ := e2.login(b, csrf, req, testUser, testPassword)
	loc, err := r.Location()
	if err != nil || loc.Host != "portal.example" || loc.Query().Get("code") == "" {
		t.Fatalf("openid alone: landed on %v (%d), want the client with a code", r.Request.URL, r.StatusCode)
	}
	q.Set("scope", "openid notes.read")
	resp, err = b.Get(e2.issuer + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.Request.URL.Path != "/consent" {
		t.Fatalf("notes.read needs consent; landed on %s", resp.Request.URL)
	}
	e2.mustCreateClient(store.Client{ID: "portal-phone", Name: "Portal for phone", Public: true, RedirectURIs: []string{"http://127.0.0.1/cb"},
		GrantTypes: []string{oauth.GrantAuthorizationCode}, Scopes: []string{"openid"}})
	q = url.Values{"response_type": {"code"}, "client_id": {"portal-phone"}, "redirect_uri": {"http://127.0.0.1:4000/cb"}, "scope": {"openid"},
		"state": {"s"}, "code_challenge": {testChallenge}, "code_challenge_method": {"S256"}}
	resp, err = b.Get(e2.issuer + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.Request.URL.Path != "/consent" {
		t.Fatalf("a public client is always asked; landed on %s", resp.Request.URL)
	}
}
