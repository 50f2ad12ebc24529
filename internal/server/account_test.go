package server_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/dbtest"
)

// TestSeeds_UserRevokesOneAppWithoutChangingPassword: the user signs in to
// the account page, sees each connected app with what it may do, revokes
// one, and that app's tokens stop working at once while another app's keep
// working: the seeds' "revoke one app without changing the password".
func TestSeeds_UserRevokesOneAppWithoutChangingPassword(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := context.Background()
			b := e.browser()
			printTok := e.redeem(e.codeFor(b, "photos.read offline_access", ""), "")
			phone, err := e.oauth2Config(e.app, "notes.read", "offline_access").PasswordCredentialsToken(ctx, testUser, testPassword)
			if err != nil {
				t.Fatal(err)
			}

			resp, err := b.Get(e.issuer + "/account")
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			for _, want := range []string{"Cloud Print", "See your photos and albums", "notes-desktop", "Read your notes"} {
				if !strings.Contains(body, want) {
					t.Fatalf("account page lacks %q:\n%s", want, body)
				}
			}
			csrf := regexp.MustCompile(`action="/account/revoke">\s*<input type="hidden" name="csrf_token" value="([^"]+)">\s*<input type="hidden" name="grant" value="([^"]+)">\s*<button[^>]*aria-label="Revoke access of Cloud Print"`).FindStringSubmatch(body)
			if csrf == nil {
				t.Fatalf("no revoke form for Cloud Print:\n%s", body)
			}

			// Another browser's token, or none, does nothing (RFC 6749 §10.12).
			r, err := noRedirects(nil).PostForm(e.issuer+"/account/revoke", url.Values{"csrf_token": {csrf[1]}, "grant": {csrf[2]}})
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, r)
			if r.StatusCode != http.StatusForbidden {
				t.Fatalf("revoke from another browser: %d", r.StatusCode)
			}
			if !e.tokenActive(printTok.str("access_token")) {
				t.Fatal("a refused revocation revoked")
			}

			resp, err = b.PostForm(e.issuer+"/account/revoke", url.Values{"csrf_token": {csrf[1]}, "grant": {csrf[2]}})
			if err != nil {
				t.Fatal(err)
			}
			body = readBody(t, resp)
			// Gone from the apps (the activity still tells that it was revoked).
			if resp.Request.URL.Path != "/account" || !strings.Contains(body, "Access revoked.") || strings.Contains(body, `data-client-id="`+e.web.id+`"`) ||
				!strings.Contains(body, "revoked the app") {
				t.Fatalf("after revoking: %s\n%s", resp.Request.URL, body)
			}
			for _, tok := range []string{printTok.str("access_token"), printTok.str("refresh_token")} {
				if e.tokenActive(tok) {
					t.Fatal("the revoked app's token is still active")
				}
			}
			if !active(e.introspect(&e.app, phone.AccessToken)) {
				t.Fatal("revoking one app revoked another")
			}
			if _, err := e.oauth2Config(e.app).PasswordCredentialsToken(ctx, testUser, testPassword); err != nil {
				t.Fatalf("the password still works: %v", err)
			}

			// Signing out ends the session: the account page asks to sign in.
			logout := regexp.MustCompile(`action="/logout">\s*<input type="hidden" name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
			if logout == nil {
				t.Fatal("no sign-out form")
			}
			resp, err = b.PostForm(e.issuer+"/logout", url.Values{"csrf_token": {logout[1]}})
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, resp)
			resp, err = b.Get(e.issuer + "/account")
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, resp)
			if resp.Request.URL.Path != "/login" {
				t.Fatalf("after sign-out /account lands on %s", resp.Request.URL)
			}
		})
	}
}

// TestAccountSignInWithoutAnApp: /login without a pending request signs in
// to the account page.
func TestAccountSignInWithoutAnApp(t *testing.T) {
	e := newEnv(t, "sqlite")
	b := e.browser()
	resp, err := b.Get(e.issuer + "/account")
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
	if resp.Request.URL.Path != "/login" || m == nil {
		t.Fatalf("landed on %s", resp.Request.URL)
	}
	resp, err = b.PostForm(e.issuer+"/login", url.Values{"csrf_token": {m[1]}, "username": {testUser}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	body = readBody(t, resp)
	if resp.Request.URL.Path != "/account" || !strings.Contains(body, "No app has access") {
		t.Fatalf("landed on %s:\n%s", resp.Request.URL, body)
	}
}
