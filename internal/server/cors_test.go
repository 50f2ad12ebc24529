package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// corsRequest sends method to path with an Origin header, as a browser's
// fetch from origin would.
func (e *env) corsRequest(method, path, origin string, form url.Values, c *testClient) *http.Response {
	e.t.Helper()
	var req *http.Request
	if form != nil {
		req = e.formRequest(path, form, c)
		req.Method = method
	} else {
		req, _ = http.NewRequest(method, e.issuer+path, nil)
	}
	req.Header.Set("Origin", origin)
	if method == http.MethodOptions {
		req.Header.Set("Access-Control-Request-Method", http.MethodPost)
		req.Header.Set("Access-Control-Request-Headers", "content-type, dpop")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	readBody(e.t, resp)
	return resp
}

// TestRFC9700_2_6_NoCORSAtTheAuthorizationEndpoint: "the authorization
// server MUST NOT support CORS at the authorization endpoint" (RFC 9700
// §2.6; SECURITY.md R12).
func TestRFC9700_2_6_NoCORSAtTheAuthorizationEndpoint(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, method := range []string{http.MethodOptions, http.MethodGet} {
		resp := e.corsRequest(method, "/authorize?"+e.authorizeQuery().Encode(), "https://spa.example", nil, nil)
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("%s /authorize: Access-Control-Allow-Origin %q, want none", method, got)
		}
	}
}

// TestRFC9700_2_6_BackChannelCORSPerClient: a public client's page may
// read the answers of /token, /revoke and /par from the origins of its
// registered redirect URIs, and from nowhere else; a confidential client's
// answers are never readable cross-origin (its secret has no place in a
// browser).
func TestRFC9700_2_6_BackChannelCORSPerClient(t *testing.T) {
	e := newEnv(t, "sqlite")
	const spaOrigin = "https://spa.example" // e.spa's redirect URI is https://spa.example/cb
	public := url.Values{"client_id": {e.spa.id}, "grant_type": {"refresh_token"}, "refresh_token": {"unknown"}}

	for _, path := range []string{"/token", oauth.PARPath, "/revoke", "/device_authorization"} {
		pre := e.corsRequest(http.MethodOptions, path, spaOrigin, nil, nil)
		if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != spaOrigin ||
			!strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "DPoP") || pre.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight of %s: %d %v", path, pre.StatusCode, pre.Header)
		}
	}

	cases := []struct {
		name, path, origin string
		form               url.Values
		client             *testClient
		want               string // Access-Control-Allow-Origin
	}{
		{"public client, its own origin", "/token", spaOrigin, public, nil, spaOrigin},
		{"public client, another origin", "/token", "https://evil.example", public, nil, ""},
		{"public client, its origin with another port", "/token", "https://spa.example:8443", public, nil, ""},
		{"public client revoking, its own origin", "/revoke", spaOrigin, url.Values{"client_id": {e.spa.id}, "token": {"unknown"}}, nil, spaOrigin},
		{"confidential client, its redirect URI's origin", "/token", "https://print.example", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"unknown"}}, &e.web, ""},
		{"unknown client", "/token", spaOrigin, url.Values{"client_id": {"nobody"}, "grant_type": {"refresh_token"}, "refresh_token": {"x"}}, nil, ""},
	}
	for _, c := range cases {
		resp := e.corsRequest(http.MethodPost, c.path, c.origin, c.form, c.client)
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != c.want {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want %q (status %d)", c.name, got, c.want, resp.StatusCode)
		}
		if !strings.Contains(resp.Header.Get("Vary"), "Origin") {
			t.Errorf("%s: Vary %q, want Origin (the answer depends on it)", c.name, resp.Header.Get("Vary"))
		}
		if c.want != "" && !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "DPoP-Nonce") {
			t.Errorf("%s: DPoP-Nonce not exposed (RFC 9449 §8)", c.name)
		}
	}
}

// TestBrowser_RFC9700_2_6_TokenEndpointCORS: in Chromium, a public
// client's page reads /token's answer, preflight included (a DPoP header
// is not CORS-safelisted); the same fetch from another origin is blocked.
func TestBrowser_RFC9700_2_6_TokenEndpointCORS(t *testing.T) {
	ctx := chromium(t)
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("<!doctype html><title>app</title><p>app</p>"))
			})
			app, other := httptest.NewServer(page), httptest.NewServer(page)
			defer app.Close()
			defer other.Close()
			e.mustCreateClient(store.Client{
				ID: "browser-app", Name: "Notes in the browser", Public: true, RedirectURIs: []string{app.URL + "/cb"},
				GrantTypes: []string{oauth.GrantAuthorizationCode}, Scopes: []string{"notes.read"},
			})
			script := fmt.Sprintf(`fetch(%q, {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded", "DPoP": "not-a-proof"},
				body: "grant_type=authorization_code&code=nope&client_id=browser-app&redirect_uri=" + encodeURIComponent(%q)})
				.then(r => r.json()).then(j => "read:" + j.error, err => "blocked:" + err)`, e.issuer+"/token", app.URL+"/cb")
			for _, c := range []struct{ origin, want string }{
				{app.URL, "read:invalid_dpop_proof"},
				{other.URL, "blocked:TypeError: Failed to fetch"},
			} {
				steps, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := chromedp.Do(steps, chromedp.Navigate(c.origin+"/"))
				var got string
				if err == nil {
					got, err = chromedp.Run(steps, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
				}
				cancel()
				if err != nil {
					t.Fatalf("fetch from %s: %v", c.origin, err)
				}
				if got != c.want {
					t.Errorf("fetch of /token from %s: %q, want %q", c.origin, got, c.want)
				}
			}
		})
	}
}

// TestRFC7591_CORSForBrowserAgents: an agent in a browser registers
// itself and manages its registration from any origin; the answers are
// readable, the registration access token travels in Authorization (RFC
// 7592 §3), never a cookie.
func TestRFC7591_CORSForBrowserAgents(t *testing.T) {
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), openRegistration)
	for _, path := range []string{"/register", "/register/some-client"} {
		pre := e.corsRequest(http.MethodOptions, path, "https://agent.example", nil, nil)
		if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("preflight of %s: %d %v", path, pre.StatusCode, pre.Header)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/register", strings.NewReader(`{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://agent.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("registration from a page: %d, Access-Control-Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}
