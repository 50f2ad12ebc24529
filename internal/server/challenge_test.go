package server_test

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/dbtest"
)

// TestRFC7636_4_1_ReplayedChallengeIsRefused: a code verifier, hence its
// challenge, is made anew for each request. A challenge already in another
// browser's live request was copied (an attacker planting their own
// challenge in a victim's flow): it is refused, with invalid_request at the
// client, and logged; the same browser reloading its request is not.
func TestRFC7636_4_1_ReplayedChallengeIsRefused(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			q := e.authorizeQuery()
			q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()))
			q.Set("code_challenge_method", "S256")
			authURL := e.issuer + "/authorize?" + q.Encode()

			victim := e.browser()
			for range 2 { // a reload of the same request is fine
				resp, err := victim.Get(authURL)
				if err != nil {
					t.Fatal(err)
				}
				readBody(t, resp)
				if resp.Request.URL.Path != "/login" {
					t.Fatalf("the first browser landed on %s", resp.Request.URL)
				}
			}
			resp, err := noRedirects(nil).Get(authURL)
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, resp)
			loc, err := resp.Location()
			if err != nil || resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("another browser: %d, want a redirect to the client", resp.StatusCode)
			}
			if !strings.HasPrefix(loc.String(), e.web.redirect) || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("state") != q.Get("state") {
				t.Fatalf("another browser was sent to %s, want %s with error=invalid_request and the state", loc, e.web.redirect)
			}
			if !strings.Contains(e.logs.String(), "PKCE code challenge replayed") {
				t.Fatal("the replay was not logged")
			}
		})
	}
}
