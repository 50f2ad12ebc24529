package server_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
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

// formPurposes are the forms of Latchkey's pages, each with its own CSRF
// token (internal/session CSRFToken's purpose).
var formPurposes = []string{"login", "consent", "account", "logout", "password"}

// signedInBrowser is a browser signed in as the test user, holding its CSRF
// token of every form, with one app (the web client, notes.read) connected.
type signedInBrowser struct {
	e       *env
	b       *http.Client
	user    string
	tokens  map[string]string // by form purpose
	grantID string            // the web client's grant, as the revoke form names it
	issued  tokenAnswer       // the tokens issued under that grant
}

// signedInBrowser signs a new user in from a new browser, allows notes.read
// for the web client and reads the account page, collecting each form's
// token. The user is new so that the consent page is shown and the account
// page lists this grant alone, whatever other tests granted.
func (e *env) signedInBrowser(t *testing.T) *signedInBrowser {
	t.Helper()
	username := "user-" + secret.RandomString(8)
	now := e.clock.Now()
	if err := e.store.CreateUser(context.Background(), store.User{ID: username, Username: username, PasswordHash: secret.HashPassword(testPassword), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	s := &signedInBrowser{e: e, b: e.browser(), user: username, tokens: map[string]string{}}
	var req string
	s.tokens["login"], req = e.startLogin(s.b)
	resp, body := e.login(s.b, s.tokens["login"], req, username, testPassword)
	if resp.Request.URL.Path != "/consent" {
		t.Fatalf("after signing in landed on %s", resp.Request.URL)
	}
	s.tokens["consent"], _ = formFields(t, body)
	loc, _ := s.post(t, "/consent", url.Values{"csrf_token": {s.tokens["consent"]}, "request": {req}, "decision": {"allow"}, "scope": {"notes.read"}, "lifetime": {"forever"}}).Location()
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("consent with its own token issued no code: %v", loc)
	}
	s.issued = e.redeem(loc.Query().Get("code"), "")
	resp, err := s.b.Get(e.issuer + "/account")
	if err != nil {
		t.Fatal(err)
	}
	body = readBody(t, resp)
	rt, err := e.store.GetToken(context.Background(), secret.Hash(s.issued.str("refresh_token")))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`action="/account/revoke">\s*<input type="hidden" name="csrf_token" value="([^"]+)">\s*<input type="hidden" name="grant" value="([^"]+)">`).FindAllStringSubmatch(body, -1) {
		if m[2] == rt.GrantID {
			s.tokens["account"], s.grantID = m[1], m[2]
		}
	}
	logoutForm := regexp.MustCompile(`action="/logout">\s*<input type="hidden" name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
	if s.grantID == "" || logoutForm == nil {
		t.Fatalf("the account page lacks the revoke form of grant %s or the sign-out form:\n%s", rt.GrantID, body)
	}
	s.tokens["logout"] = logoutForm[1]
	passwordForm := regexp.MustCompile(`action="/account/password"[^>]*>\s*<input type="hidden" name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
	if passwordForm == nil {
		t.Fatal("the account page lacks the password form")
	}
	s.tokens["password"] = passwordForm[1]
	return s
}

// post submits a form from this browser without following the answer.
func (s *signedInBrowser) post(t *testing.T, path string, form url.Values) *http.Response {
	t.Helper()
	resp, err := noRedirects(s.b.Jar).PostForm(s.e.issuer+path, form)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	return resp
}

// landsOn follows GET path within Latchkey and returns where it ends.
func (s *signedInBrowser) landsOn(t *testing.T, path string) string {
	t.Helper()
	resp, err := s.b.Get(s.e.issuer + path)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	return resp.Request.URL.Path
}

// othersThan returns every form purpose but one.
func othersThan(purpose string) []string {
	var out []string
	for _, p := range formPurposes {
		if p != purpose {
			out = append(out, p)
		}
	}
	return out
}

func wantRefused(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
		t.Fatalf("%s: status %d, Location %q; want 403 and no redirect", what, resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestRFC6749_10_12_EachFormRefusesAnotherFormsCSRFToken enforces
// SECURITY.md R14: a CSRF token is bound to its form as well as to the
// browser, so a token that leaks from one page (the login form is the
// easiest to have rendered) does not submit another. Each form of a real
// browser is sent that browser's tokens of the other forms, must answer 403
// and change nothing, and then takes its own token.
func TestRFC6749_10_12_EachFormRefusesAnotherFormsCSRFToken(t *testing.T) {
	e := newEnv(t, "sqlite")

	t.Run("RFC6749_10_12/consent_refuses_another_forms_token", func(t *testing.T) {
		s := e.signedInBrowser(t)
		q := e.authorizeQuery()
		q.Set("scope", "photos.read")
		resp, err := s.b.Get(e.issuer + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.Request.URL.Path != "/consent" {
			t.Fatalf("landed on %s", resp.Request.URL)
		}
		_, req := formFields(t, body)
		form := func(tok string) url.Values {
			return url.Values{"csrf_token": {tok}, "request": {req}, "decision": {"allow"}, "scope": {"photos.read"}, "lifetime": {"forever"}}
		}
		for _, p := range othersThan("consent") {
			wantRefused(t, "consent with the "+p+" form's token", s.post(t, "/consent", form(s.tokens[p])))
		}
		// Nothing was decided: the request is still pending, and the
		// consent form's own token finishes it with a code.
		loc, _ := s.post(t, "/consent", form(s.tokens["consent"])).Location()
		if loc == nil || loc.Query().Get("code") == "" {
			t.Fatalf("after the refused attempts, consent with its own token: %v", loc)
		}
	})

	t.Run("RFC6749_10_12/account_revoke_refuses_another_forms_token", func(t *testing.T) {
		s := e.signedInBrowser(t)
		for _, p := range othersThan("account") {
			wantRefused(t, "revoke with the "+p+" form's token", s.post(t, "/account/revoke", url.Values{"csrf_token": {s.tokens[p]}, "grant": {s.grantID}}))
			if !e.tokenActive(s.issued.str("access_token")) || !e.tokenActive(s.issued.str("refresh_token")) {
				t.Fatalf("a revocation with the %s form's token revoked the grant", p)
			}
		}
		if resp := s.post(t, "/account/revoke", url.Values{"csrf_token": {s.tokens["account"]}, "grant": {s.grantID}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke with its own token: status %d", resp.StatusCode)
		}
		if e.tokenActive(s.issued.str("access_token")) {
			t.Fatal("revoke with its own token left the grant's token active")
		}
	})

	t.Run("RFC6749_10_12/password_change_refuses_another_forms_token", func(t *testing.T) {
		s := e.signedInBrowser(t)
		form := func(tok string) url.Values {
			return url.Values{"csrf_token": {tok}, "current_password": {testPassword}, "new_password": {"a brand new passphrase"}}
		}
		for _, p := range othersThan("password") {
			wantRefused(t, "password change with the "+p+" form's token", s.post(t, "/account/password", form(s.tokens[p])))
		}
		u, err := e.store.GetUserByUsername(context.Background(), s.user)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := secret.CheckPassword(u.PasswordHash, testPassword); !ok {
			t.Fatal("a refused password change changed the password")
		}
	})

	t.Run("RFC6749_10_12/logout_refuses_another_forms_token", func(t *testing.T) {
		s := e.signedInBrowser(t)
		for _, p := range othersThan("logout") {
			wantRefused(t, "sign-out with the "+p+" form's token", s.post(t, "/logout", url.Values{"csrf_token": {s.tokens[p]}}))
			if got := s.landsOn(t, "/account"); got != "/account" {
				t.Fatalf("a sign-out with the %s form's token ended the session: /account lands on %s", p, got)
			}
		}
		s.post(t, "/logout", url.Values{"csrf_token": {s.tokens["logout"]}})
		if got := s.landsOn(t, "/account"); got != "/login" {
			t.Fatalf("sign-out with its own token: /account lands on %s", got)
		}
	})

	t.Run("RFC6749_10_12/login_refuses_another_forms_token", func(t *testing.T) {
		s := e.signedInBrowser(t)
		s.post(t, "/logout", url.Values{"csrf_token": {s.tokens["logout"]}})
		tok, req := e.startLogin(s.b)
		if tok != s.tokens["login"] {
			t.Fatal("the login form's token changed within one browser")
		}
		form := func(tok string) url.Values {
			return url.Values{"csrf_token": {tok}, "request": {req}, "username": {s.user}, "password": {testPassword}}
		}
		for _, p := range othersThan("login") {
			wantRefused(t, "sign-in with the "+p+" form's token", s.post(t, "/login", form(s.tokens[p])))
			if got := s.landsOn(t, "/account"); got != "/login" {
				t.Fatalf("a sign-in with the %s form's token signed the browser in: /account lands on %s", p, got)
			}
		}
		if resp := s.post(t, "/login", form(s.tokens["login"])); resp.StatusCode/100 != 3 {
			t.Fatalf("sign-in with its own token: status %d", resp.StatusCode)
		}
		if got := s.landsOn(t, "/account"); got != "/account" {
			t.Fatalf("after signing in with its own token /account lands on %s", got)
		}
	})
}
