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

// TestRFC6749_10_2_OneGrantPerApp: consenting again to an app with one
// more scope extends the app's grant; the consent page asks only for the
// new scope and shows the rest as granted; /account lists the app once;
// and revoking it ends every token of both consents (issue: a second grant
// was made, and "Revoke" left the other one's refresh token working).
func TestRFC6749_10_2_OneGrantPerApp(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			b := e.browser()
			verifier := oauth2.GenerateVerifier()
			first := e.redeem(e.codeFor(b, "notes.read offline_access", verifier), verifier)
			if first.status != 200 {
				t.Fatalf("first consent: %v", first.body)
			}

			// Again, with photos.read.
			q := e.authorizeQuery()
			q.Set("scope", "notes.read photos.read offline_access")
			v2 := oauth2.GenerateVerifier()
			q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(v2))
			q.Set("code_challenge_method", "S256")
			resp, err := b.Get(e.issuer + "/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if resp.Request.URL.Path != "/consent" {
				t.Fatalf("landed on %s, want the consent page", resp.Request.URL)
			}
			asked := regexp.MustCompile(`name="scope" value="([^"]+)"`).FindAllStringSubmatch(body, -1)
			if len(asked) != 1 || asked[0][1] != "photos.read" {
				t.Fatalf("the page asks for %v, want only photos.read", asked)
			}
			for _, s := range []string{"notes.read", "offline_access"} {
				if !strings.Contains(body, `data-granted="`+s+`"`) {
					t.Fatalf("the page does not show %s as granted", s)
				}
			}
			csrf, req := formFields(t, body)
			resp, err = b.PostForm(e.issuer+"/consent", url.Values{"csrf_token": {csrf}, "request": {req}, "decision": {"allow"},
				"lifetime": {"forever"}, "scope": {"photos.read"}})
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, resp)
			loc, err := resp.Location()
			if err != nil {
				t.Fatalf("no redirect after consent: %d", resp.StatusCode)
			}
			second := e.redeem(loc.Query().Get("code"), v2)
			if second.status != 200 || second.str("scope") != "notes.read photos.read offline_access" {
				t.Fatalf("second consent's token: %v", second.body)
			}

			grants, err := e.store.ListGrantsByUser(t.Context(), "u1")
			if err != nil {
				t.Fatal(err)
			}
			if len(grants) != 1 || strings.Join(grants[0].Scopes, " ") != "notes.read offline_access photos.read" {
				t.Fatalf("grants %+v, want one with the three scopes", grants)
			}
			resp, err = b.Get(e.issuer + "/account")
			if err != nil {
				t.Fatal(err)
			}
			page := readBody(t, resp)
			if n := strings.Count(page, `data-client-id="`+e.web.id+`"`); n != 1 {
				t.Fatalf("/account lists the app %d times, want once", n)
			}

			// Revoke: every token of both consents ends.
			m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page)
			resp, err = b.PostForm(e.issuer+"/account/revoke", url.Values{"csrf_token": {m[1]}, "grant": {grants[0].ID}})
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, resp)
			for name, a := range map[string]tokenAnswer{"first": first, "second": second} {
				wantError(t, e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.str("refresh_token")}}, &e.web, true),
					http.StatusBadRequest, "invalid_grant")
				if got := e.introspect(&e.web, a.str("access_token")); active(got) {
					t.Fatalf("the %s consent's JWT access token is still active", name)
				}
			}
		})
	}
}

// TestRFC7662_2_2_DeletedUsersTokensAreInactive: a user deleted (with the
// CLI, straight in the database) takes every token along, JWT access
// tokens included, at the next introspection.
func TestRFC7662_2_2_DeletedUsersTokensAreInactive(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			verifier := oauth2.GenerateVerifier()
			tok := e.redeem(e.codeFor(e.browser(), "notes.read offline_access", verifier), verifier)
			if a := e.introspect(&e.web, tok.str("access_token")); !active(a) {
				t.Fatalf("fresh JWT inactive: %v", a.body)
			}
			if err := e.store.DeleteUser(t.Context(), "u1"); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"access_token", "refresh_token"} {
				if a := e.introspect(&e.web, tok.str(k)); active(a) {
					t.Fatalf("the deleted user's %s is still active: %v", k, a.body)
				}
			}
			// A client's own JWT ends with the client (asked by the resource
			// server in its audience, which still exists).
			cc := e.postToken(url.Values{"grant_type": {"client_credentials"}}, &e.svc, true)
			if a := e.introspect(&e.api, cc.str("access_token")); !active(a) {
				t.Fatalf("the client's JWT to its resource server: %v", a.body)
			}
			if err := e.store.DeleteClient(t.Context(), e.svc.id); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(clientCacheTTL)
			if a := e.introspect(&e.api, cc.str("access_token")); active(a) || a.status != 200 {
				t.Fatalf("the deleted client's JWT: %d %v, want 200 inactive", a.status, a.body)
			}
		})
	}
}
