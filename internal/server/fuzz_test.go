package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/oauth"
)

// FuzzAuthorizeRequest (SECURITY.md F3): whatever the query, the answer is an
// error page without Location, or a redirect to a registered URI of the
// client (or to Latchkey's own login page), with the state echoed exactly.
func FuzzAuthorizeRequest(f *testing.F) {
	e := newEnv(f, "sqlite")
	for _, s := range []string{
		"response_type=code&client_id=cloud-print&redirect_uri=https%3A%2F%2Fprint.example%2Fcallback&scope=notes.read&state=xyz",
		"response_type=code&client_id=cloud-print&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
		"response_type=token&client_id=cloud-print&state=%26code%3Dx",
		"client_id=cloud-print&client_id=notes-phone",
		"response_type=code&client_id=notes-phone&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
		"response_type=code&client_id=cloud-print&redirect_uri=https%3A%2F%2Fprint.example%2Fcallback&scope=%22&state=%3Cscript%3E",
		"response_type=code&client_id=cloud-print&redirect_uri=https%3A%2F%2Fprint.example%2Fcallback&scope=openid&response_mode=form_post&state=%22%3E%3Cscript%3E",
		"response_type=code+id_token&client_id=cloud-print&redirect_uri=https%3A%2F%2Fprint.example%2Fcallback&scope=openid&nonce=n",
		"response_type=id_token&client_id=cloud-print&redirect_uri=https%3A%2F%2Fprint.example%2Fcallback&scope=openid&response_mode=query",
		"response_type=code&client_id=cloud-print&redirect_uri=https%3A%2F%2Fprint.example%2Fcallback&prompt=none+login&max_age=-1",
		"%zz", "", "&&&", "client_id=%00",
	} {
		f.Add(s)
	}
	client := noRedirects(nil)
	f.Fuzz(func(t *testing.T, raw string) {
		if len(raw) > 9000 {
			return
		}
		u, err := url.Parse(e.issuer + "/authorize")
		if err != nil {
			t.Fatal(err)
		}
		u.RawQuery = raw
		req, err := http.NewRequest(http.MethodGet, u.String(), nil)
		if err != nil {
			return // not a request a client can send
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		loc := resp.Header.Get("Location")
		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("status %d for %q: %s", resp.StatusCode, raw, body)
		case resp.StatusCode >= 400:
			if loc != "" {
				t.Fatalf("error page with Location %q", loc)
			}
			if strings.Contains(body, "<script") {
				t.Fatalf("unescaped input on the error page: %s", body)
			}
		case resp.StatusCode == http.StatusOK:
			// form_post (Form Post Response Mode §2): a form posting to a
			// registered URI, every value escaped.
			m := regexp.MustCompile(`<form method="post" action="([^"]*)">`).FindStringSubmatch(body)
			if m == nil || (m[1] != e.web.redirect && m[1] != "https://print.example/other") {
				t.Fatalf("200 that is not a form_post to a registered URI for %q: %s", raw, body)
			}
			if strings.Count(body, "<script") != 1 {
				t.Fatalf("unescaped input in the form_post page: %s", body)
			}
			if strings.Contains(body, `name="code"`) == strings.Contains(body, `name="error"`) {
				t.Fatalf("exactly one of code and error must be posted: %s", body)
			}
		case resp.StatusCode == http.StatusFound:
			if strings.HasPrefix(loc, "/login?") || strings.HasPrefix(loc, "/consent?") {
				return
			}
			ok := false
			for _, reg := range []string{e.web.redirect + "?", e.web.redirect + "#", "https://print.example/other?", "https://print.example/other#", "http://127.0.0.1:", "http://127.0.0.1/cb?"} {
				ok = ok || strings.HasPrefix(loc, reg)
			}
			if !ok {
				t.Fatalf("redirect to an unregistered URI %q for %q", loc, raw)
			}
			lu, err := url.Parse(loc)
			if err != nil {
				t.Fatal(err)
			}
			q := lu.Query()
			if lu.Fragment != "" {
				if lu.RawQuery != "" {
					t.Fatalf("a fragment response with a query too: %q", loc)
				}
				q, _ = url.ParseQuery(lu.Fragment)
			}
			if q.Has("code") == q.Has("error") {
				t.Fatalf("exactly one of code and error must be present: %q", loc)
			}
			// Compare with what was sent: the client drops a "#..." tail.
			if sent, _ := url.ParseQuery(req.URL.RawQuery); sent != nil && len(sent["state"]) == 1 && sent.Get("state") != q.Get("state") {
				t.Fatalf("state %q came back as %q", sent.Get("state"), q.Get("state"))
			}
		default:
			t.Fatalf("unexpected status %d", resp.StatusCode)
		}
	})
}

// FuzzTokenRequest (SECURITY.md F4): never a 5xx, always JSON with no-store
// and a registered error code; never a token without a valid grant.
func FuzzTokenRequest(f *testing.F) {
	e := newEnv(f, "sqlite")
	basic := "Basic " + "Y2xvdWQtcHJpbnQ6eA==" // cloud-print:x
	for _, s := range []struct{ body, ct, auth string }{
		{"grant_type=authorization_code&code=lk_ac_x", "application/x-www-form-urlencoded", basic},
		{"grant_type=refresh_token&refresh_token=lk_rt_x&client_id=notes-phone", "application/x-www-form-urlencoded", ""},
		{"grant_type=password&username=a&password=b", "application/x-www-form-urlencoded", "Basic Og=="},
		{"{}", "application/json", "Bearer x"},
		{"grant_type=authorization_code&grant_type=refresh_token", "application/x-www-form-urlencoded", "Basic %%%"},
		{"client_id=notes-phone&client_secret=x", "application/x-www-form-urlencoded; charset=utf-8", "Basic bm90ZXMtcGhvbmU6"},
	} {
		f.Add(s.body, s.ct, s.auth)
	}
	known := map[string]bool{"invalid_request": true, "invalid_client": true, "invalid_grant": true, "unauthorized_client": true, "unsupported_grant_type": true, "invalid_scope": true}
	f.Fuzz(func(t *testing.T, body, ct, auth string) {
		req, err := http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", ct)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if req.Header.Get("Content-Type") != ct || (auth != "" && req.Header.Get("Authorization") != auth) {
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return // the client refused to send it (invalid header bytes)
		}
		got := readBody(t, resp)
		if resp.StatusCode >= 500 || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("status %d, Cache-Control %q: %s", resp.StatusCode, resp.Header.Get("Cache-Control"), got)
		}
		if resp.StatusCode == http.StatusOK || !strings.HasPrefix(got, `{"error":"`) {
			t.Fatalf("status %d: %s", resp.StatusCode, got)
		}
		code := strings.SplitN(strings.TrimPrefix(got, `{"error":"`), `"`, 2)[0]
		if !known[code] {
			t.Fatalf("error %q is not an RFC 6749 §5.2 code", code)
		}
	})
}

// FuzzClientMetadata (SECURITY.md F11) posts arbitrary JSON as a client
// to the admin API: never a 5xx; a refusal is a problem; a client it
// registers has only redirect URIs that pass the registration rules
// (RFC 9700 §2.6: no javascript:, data:, fragments, http off loopback)
// and never both jwks and jwks_uri.
func FuzzClientMetadata(f *testing.F) {
	e := newEnv(f, "sqlite")
	tok := e.scopedToken(e.adminClient("admin-fuzz", oauth.ScopeAdmin), oauth.ScopeAdmin)
	for _, s := range []string{
		`{"client_name":"ok","grant_types":["client_credentials"],"scopes":["notes.read"]}`,
		`{"client_name":"x","redirect_uris":["JaVaScRiPt:alert(1)"]}`,
		`{"client_name":"x","redirect_uris":["DATA:text/html,<script>"]}`,
		`{"client_name":"x","redirect_uris":["https://a.example/cb#frag"]}`,
		`{"client_name":"x","redirect_uris":["https://a.example/cb?code=1"]}`,
		`{"client_name":"x","redirect_uris":["http://app.example/cb"]}`,
		`{"client_name":"x","token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[]},"jwks_uri":"https://k.example/jwks"}`,
		`{"client_name":"x","public":true,"client_secret":"s","redirect_uris":["http://127.0.0.1/cb"]}`,
		`{"client_name":"x","backchannel_logout_uri":"javascript:x","code_ttl":"-1h"}`,
		`{"client_name":"\u0000","client_id":"a:b"}`, `{`, `[]`, `null`, `{"client_name":1}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/admin/v1/clients", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw := readBody(t, resp)
		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("%d for %q: %s", resp.StatusCode, body, raw)
		case resp.StatusCode != http.StatusCreated:
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%d refusal is %q, not a problem", resp.StatusCode, ct)
			}
			return
		}
		var c struct {
			ID           string          `json:"client_id"`
			RedirectURIs []string        `json:"redirect_uris"`
			JWKS         json.RawMessage `json:"jwks"`
			JWKSURI      string          `json:"jwks_uri"`
		}
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			t.Fatal(err)
		}
		for _, u := range c.RedirectURIs {
			if err := oauth.ValidateRegisteredRedirectURI(u); err != nil {
				t.Fatalf("registered a bad redirect URI %q: %v", u, err)
			}
		}
		if len(c.JWKS) > 0 && c.JWKSURI != "" {
			t.Fatalf("registered both jwks and jwks_uri: %s", raw)
		}
		e.store.DeleteClient(context.Background(), c.ID)
	})
}
