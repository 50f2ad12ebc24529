package server_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/dbtest"
)

// startLogin begins an authorization in browser b and returns the login
// page's csrf token and request id.
func (e *env) startLogin(b *http.Client) (csrf, request string) {
	e.t.Helper()
	resp, err := b.Get(e.issuer + "/authorize?" + e.authorizeQuery().Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	body := readBody(e.t, resp)
	if resp.Request.URL.Path != "/login" {
		e.t.Fatalf("landed on %s", resp.Request.URL)
	}
	return formFields(e.t, body)
}

func (e *env) login(b *http.Client, csrf, request, user, pass string) (*http.Response, string) {
	e.t.Helper()
	resp, err := b.PostForm(e.issuer+"/login", url.Values{"csrf_token": {csrf}, "request": {request}, "username": {user}, "password": {pass}})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, readBody(e.t, resp)
}

func TestPages(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)

			t.Run("RFC9700_4_16/every_page_refuses_framing", func(t *testing.T) {
				b := e.browser()
				csrf, req := e.startLogin(b)
				_ = csrf
				for _, path := range []string{"/login?request=" + req, "/authorize?client_id=nope", "/consent?request=" + req, "/"} {
					resp, err := b.Get(e.issuer + path)
					if err != nil {
						t.Fatal(err)
					}
					readBody(t, resp)
					h := resp.Header
					if h.Get("X-Frame-Options") != "DENY" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
						t.Fatalf("%s: X-Frame-Options %q, CSP %q", path, h.Get("X-Frame-Options"), h.Get("Content-Security-Policy"))
					}
					if h.Get("Referrer-Policy") != "no-referrer" {
						t.Fatalf("%s: RFC 9700 §4.2.4 Referrer-Policy %q", path, h.Get("Referrer-Policy"))
					}
				}
			})

			t.Run("failed_login_answers_alike_for_unknown_users", func(t *testing.T) {
				b := e.browser()
				csrf, req := e.startLogin(b)
				r1, body1 := e.login(b, csrf, req, testUser, "wrong password")
				r2, body2 := e.login(b, csrf, req, "nobody-here", "wrong password")
				if r1.StatusCode != r2.StatusCode || r1.StatusCode != http.StatusUnauthorized {
					t.Fatalf("statuses %d and %d", r1.StatusCode, r2.StatusCode)
				}
				strip := func(s, user string) string { return strings.ReplaceAll(s, `value="`+user+`"`, "") }
				if strip(body1, testUser) != strip(body2, "nobody-here") {
					t.Fatal("the answers differ between an existing and an unknown user")
				}
				// The request survives failed attempts.
				if resp, _ := e.login(b, csrf, req, testUser, testPassword); resp.Request.URL.Path != "/consent" {
					t.Fatalf("after a correct login landed on %s", resp.Request.URL)
				}
			})

			t.Run("RFC6749_10_12/login_without_csrf_token_is_refused", func(t *testing.T) {
				b := e.browser()
				_, req := e.startLogin(b)
				resp, _ := e.login(b, "", req, testUser, testPassword)
				if resp.StatusCode != http.StatusForbidden {
					t.Fatalf("status %d, want 403", resp.StatusCode)
				}
			})

			t.Run("RFC6819_4_4_1_6/request_is_bound_to_the_browser", func(t *testing.T) {
				a := e.browser()
				_, req := e.startLogin(a)
				other := e.browser()
				csrf2, _ := e.startLogin(other)
				resp, body := e.login(other, csrf2, req, testUser, testPassword)
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "another browser") {
					t.Fatalf("status %d: another browser finished the request", resp.StatusCode)
				}
			})

			t.Run("RFC6749_10_12/consent_needs_post_and_csrf", func(t *testing.T) {
				b := e.browser()
				csrf, req := e.startLogin(b)
				resp, body := e.login(b, csrf, req, testUser, testPassword)
				if resp.Request.URL.Path != "/consent" {
					t.Fatalf("landed on %s", resp.Request.URL)
				}
				ccsrf, _ := formFields(t, body)
				// A GET with the decision does nothing.
				r, err := noRedirects(b.Jar).Get(e.issuer + "/consent?request=" + req + "&decision=allow&scope=notes.read&csrf_token=" + ccsrf)
				if err != nil {
					t.Fatal(err)
				}
				readBody(t, r)
				if r.StatusCode != http.StatusOK || r.Header.Get("Location") != "" {
					t.Fatalf("GET /consent with a decision: %d %q", r.StatusCode, r.Header.Get("Location"))
				}
				// A POST without this browser's token is refused.
				r, err = noRedirects(b.Jar).PostForm(e.issuer+"/consent", url.Values{"request": {req}, "decision": {"allow"}, "scope": {"notes.read"}, "lifetime": {"forever"}, "csrf_token": {"forged"}})
				if err != nil {
					t.Fatal(err)
				}
				readBody(t, r)
				if r.StatusCode != http.StatusForbidden {
					t.Fatalf("forged consent: status %d", r.StatusCode)
				}
				// Deny sends access_denied with state, via 303 (RFC 9700 §4.12).
				r, err = noRedirects(b.Jar).PostForm(e.issuer+"/consent", url.Values{"request": {req}, "decision": {"deny"}, "csrf_token": {ccsrf}})
				if err != nil {
					t.Fatal(err)
				}
				readBody(t, r)
				loc, _ := r.Location()
				if r.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "xyz" || loc.Query().Get("iss") != e.issuer {
					t.Fatalf("deny: %d %v", r.StatusCode, loc)
				}
				// The request is finished: a second decision is refused.
				r, err = noRedirects(b.Jar).PostForm(e.issuer+"/consent", url.Values{"request": {req}, "decision": {"allow"}, "scope": {"notes.read"}, "lifetime": {"forever"}, "csrf_token": {ccsrf}})
				if err != nil {
					t.Fatal(err)
				}
				readBody(t, r)
				if r.StatusCode != http.StatusBadRequest || r.Header.Get("Location") != "" {
					t.Fatalf("second decision: %d %q", r.StatusCode, r.Header.Get("Location"))
				}
			})

			t.Run("U3/unticked_scope_is_not_granted", func(t *testing.T) {
				b := e.browser()
				q := e.authorizeQuery()
				q.Set("scope", "notes.read photos.read")
				resp, err := b.Get(e.issuer + "/authorize?" + q.Encode())
				if err != nil {
					t.Fatal(err)
				}
				body := readBody(t, resp)
				csrf, req := formFields(t, body)
				resp, body = e.login(b, csrf, req, testUser, testPassword)
				ccsrf, _ := formFields(t, body)
				r, err := noRedirects(b.Jar).PostForm(e.issuer+"/consent", url.Values{"request": {req}, "decision": {"allow"}, "scope": {"photos.read"}, "lifetime": {"1h"}, "csrf_token": {ccsrf}})
				if err != nil {
					t.Fatal(err)
				}
				readBody(t, r)
				loc, _ := r.Location()
				if loc == nil || loc.Query().Get("code") == "" {
					t.Fatalf("consent: %d %v", r.StatusCode, loc)
				}
				a := e.redeem(loc.Query().Get("code"), "")
				if a.str("scope") != "photos.read" {
					t.Fatalf("granted scope %q, want only photos.read", a.str("scope"))
				}
				if a.body["expires_in"].(float64) > 3600 {
					t.Fatalf("a one-hour grant issued a token for %v s", a.body["expires_in"])
				}
			})

			t.Run("C3/double_submitted_consent_issues_one_code", func(t *testing.T) {
				b := e.browser()
				csrf, req := e.startLogin(b)
				_, body := e.login(b, csrf, req, testUser, testPassword)
				ccsrf, _ := formFields(t, body)
				jar := b.Jar.(*cookiejar.Jar)
				got := race(12, func() tokenAnswer {
					r, err := noRedirects(jar).PostForm(e.issuer+"/consent", url.Values{"request": {req}, "decision": {"allow"}, "scope": {"notes.read"}, "lifetime": {"forever"}, "csrf_token": {ccsrf}})
					if err != nil {
						return tokenAnswer{status: -1}
					}
					r.Body.Close()
					return tokenAnswer{status: r.StatusCode}
				})
				if got[http.StatusSeeOther] != 1 || got[http.StatusBadRequest] != 11 {
					t.Fatalf("statuses %v, want one 303 and eleven 400", got)
				}
			})
		})
	}
}
