package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/dbtest"
)

// userAgent sets the User-Agent of every request, as a browser does.
type userAgent struct {
	ua   string
	next http.RoundTripper
}

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	return u.next.RoundTrip(r)
}

const (
	firefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	safariPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

// TestSeed001_EachDeviceOfAnAppIsSignedOutAlone: one app used from two
// browsers is one app on /account with two devices, each named after its
// browser; "Sign out" on one ends its tokens while the other still
// refreshes, and "Revoke" on the app ends both (seed 001: take one app's
// access back without changing the password; DESIGN.md page hooks).
func TestSeed001_EachDeviceOfAnAppIsSignedOutAlone(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			signIn := func(ua string) (*http.Client, tokenAnswer) {
				b := e.browser()
				b.Transport = userAgent{ua, http.DefaultTransport}
				v := oauth2.GenerateVerifier()
				tok := e.redeem(e.codeFor(b, "notes.read offline_access", v), v)
				if tok.status != 200 || tok.str("refresh_token") == "" {
					t.Fatalf("sign-in: %v", tok.body)
				}
				return b, tok
			}
			pc, onPC := signIn(firefoxLinux)
			e.clock.Advance(time.Minute)
			_, onPhone := signIn(safariPhone)

			resp, err := pc.Get(e.issuer + "/account")
			if err != nil {
				t.Fatal(err)
			}
			page := readBody(t, resp)
			if n := strings.Count(page, `data-client-id="`+e.web.id+`"`); n != 1 {
				t.Fatalf("the app is listed %d times, want once", n)
			}
			devices := regexp.MustCompile(`data-device="([^"]+)"`).FindAllStringSubmatch(page, -1)
			if len(devices) != 2 || devices[0][1] != "Safari on iPhone" || devices[1][1] != "Firefox on Linux" {
				t.Fatalf("devices %v, want the phone (newest) then the PC", devices)
			}
			// Sign the phone out: the first device form on the page.
			csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page)[1]
			family := regexp.MustCompile(`name="device" value="([^"]+)"`).FindStringSubmatch(page)[1]
			resp, err = pc.PostForm(e.issuer+"/account/signout", url.Values{"csrf_token": {csrf}, "device": {family}})
			if err != nil {
				t.Fatal(err)
			}
			if body := readBody(t, resp); resp.Request.URL.Path != "/account" || !strings.Contains(body, "signed out of the app") {
				t.Fatalf("after signing out a device: %s", resp.Request.URL)
			}
			refresh := func(tok tokenAnswer) tokenAnswer {
				return e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}}, &e.web, true)
			}
			wantError(t, refresh(onPhone), http.StatusBadRequest, "invalid_grant")
			if a := e.introspect(&e.web, onPhone.str("access_token")); active(a) {
				t.Fatal("the signed-out phone's access token is still active")
			}
			again := refresh(onPC)
			if again.status != 200 {
				t.Fatalf("the PC no longer refreshes: %v", again.body)
			}
			// Someone else's device, or a made-up one, is refused.
			resp, err = pc.PostForm(e.issuer+"/account/signout", url.Values{"csrf_token": {csrf}, "device": {"not-mine"}})
			if err != nil {
				t.Fatal(err)
			}
			if readBody(t, resp); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("an unknown device: %d, want 400", resp.StatusCode)
			}

			// Revoke the app: the PC's (rotated) tokens end too.
			resp, err = pc.Get(e.issuer + "/account")
			if err != nil {
				t.Fatal(err)
			}
			page = readBody(t, resp)
			// The activity shows the sign-ins, consents, issues, the refresh
			// and the sign-out, newest first.
			events := regexp.MustCompile(`data-event="([^"]+)"`).FindAllStringSubmatch(page, -1)
			var kinds []string
			for _, m := range events {
				kinds = append(kinds, m[1])
			}
			// (The phone's request was covered by the PC's consent.)
			if got, want := strings.Join(kinds, " "), "refreshed revoked issued signed-in issued consented signed-in"; got != want {
				t.Fatalf("activity %q, want %q", got, want)
			}
			if !strings.Contains(page, "you signed this device out") || !strings.Contains(page, "Safari on iPhone") {
				t.Fatal("the sign-out entry does not say what was signed out")
			}
			// Written to the database in a batch.
			if err := e.server.FlushActivity(t.Context()); err != nil {
				t.Fatal(err)
			}
			if stored, err := e.store.ListActivity(t.Context(), "u1", 100); err != nil || len(stored) != len(kinds) {
				t.Fatalf("%d entries stored, %d shown: %v", len(stored), len(kinds), err)
			}
			if n := strings.Count(page, "data-device="); n != 1 {
				t.Fatalf("%d devices after signing the phone out, want 1", n)
			}
			grant := regexp.MustCompile(`name="grant" value="([^"]+)"`).FindStringSubmatch(page)[1]
			resp, err = pc.PostForm(e.issuer+"/account/revoke", url.Values{"csrf_token": {csrf}, "grant": {grant}})
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, resp)
			wantError(t, refresh(again), http.StatusBadRequest, "invalid_grant")
		})
	}
}
