package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/dbtest"
)

// accountForm posts one of /account's forms from browser b, with the CSRF
// token of that form read from the page.
func (e *env) accountForm(b *http.Client, action string, form url.Values) (*http.Response, string) {
	e.t.Helper()
	resp, err := b.Get(e.issuer + "/account")
	if err != nil {
		e.t.Fatal(err)
	}
	page := readBody(e.t, resp)
	m := regexp.MustCompile(`action="` + regexp.QuoteMeta(action) + `"[^>]*>\s*<input type="hidden" name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		e.t.Fatalf("no form for %s on /account", action)
	}
	form.Set("csrf_token", m[1])
	resp, err = b.PostForm(e.issuer+action, form)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, readBody(e.t, resp)
}

// signedInTo reports whether browser b is still signed in (it sees
// /account, not the sign-in page).
func (e *env) signedInTo(b *http.Client) bool {
	e.t.Helper()
	resp, err := b.Get(e.issuer + "/account")
	if err != nil {
		e.t.Fatal(err)
	}
	readBody(e.t, resp)
	return resp.Request.URL.Path == "/account"
}

// TestSeed001_PasswordChangeOnTheAccountPage: a wrong current password
// changes nothing; a change ends the user's other browsers and keeps the
// apps; with sign_out_apps it signs every app out too.
func TestSeed001_PasswordChangeOnTheAccountPage(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			here, elsewhere := e.browser(), e.browser()
			v := oauth2.GenerateVerifier()
			app := e.redeem(e.codeFor(here, "notes.read offline_access", v), v)
			v2 := oauth2.GenerateVerifier()
			e.redeem(e.codeFor(elsewhere, "notes.read", v2), v2)
			passwordGrant := func(pw string) int {
				return e.postToken(url.Values{"grant_type": {"password"}, "username": {e.user}, "password": {pw}}, &e.app, true).status
			}
			refresh := func() tokenAnswer {
				a := e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {app.str("refresh_token")}}, &e.web, true)
				if a.status == 200 {
					app = a
				}
				return a
			}

			const newPassword = "a much longer new passphrase"
			resp, page := e.accountForm(here, "/account/password", url.Values{"current_password": {"wrong"}, "new_password": {newPassword}})
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Nothing was changed") {
				t.Fatalf("wrong current password: %d", resp.StatusCode)
			}
			if passwordGrant(e.pass) != 200 || !e.signedInTo(elsewhere) {
				t.Fatal("a wrong current password changed something")
			}
			resp, page = e.accountForm(here, "/account/password", url.Values{"current_password": {e.pass}, "new_password": {"short"}})
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "at least 8") {
				t.Fatalf("a too short password: %d", resp.StatusCode)
			}

			resp, page = e.accountForm(here, "/account/password", url.Values{"current_password": {e.pass}, "new_password": {newPassword}})
			if resp.Request.URL.Path != "/account" || !strings.Contains(page, "Your password is changed") {
				t.Fatalf("after the change: %s %d", resp.Request.URL, resp.StatusCode)
			}
			if !strings.Contains(page, `data-event="password-changed"`) {
				t.Fatal("the change is not in the activity")
			}
			if passwordGrant(e.pass) != 400 || passwordGrant(newPassword) != 200 {
				t.Fatal("the old password still works, or the new one does not")
			}
			if e.signedInTo(elsewhere) {
				t.Fatal("the other browser is still signed in")
			}
			if !e.signedInTo(here) {
				t.Fatal("the browser that changed the password was signed out")
			}
			if a := refresh(); a.status != 200 {
				t.Fatalf("the app lost its access with a plain password change: %v", a.body)
			}

			// Again, signing every app out.
			resp, page = e.accountForm(here, "/account/password", url.Values{"current_password": {newPassword},
				"new_password": {"yet another passphrase"}, "sign_out_apps": {"1"}})
			if resp.Request.URL.Path != "/account" || !strings.Contains(page, "every app are signed out") || strings.Contains(page, "data-client-id=") {
				t.Fatalf("after the change with sign_out_apps: %s", resp.Request.URL)
			}
			wantError(t, refresh(), http.StatusBadRequest, "invalid_grant")
		})
	}
}
