package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// TestRFC6749_10_2_ConsentShowsWhoIsAsking: the consent page names the
// app with its logo, its home page's host, the host that receives the
// answer and, for a first-party app, the operator's "verified" mark, so a
// user can tell a look-alike (RFC 6749 §10.2); required scopes cannot be
// unticked; the lifetimes are the operator's choice.
func TestRFC6749_10_2_ConsentShowsWhoIsAsking(t *testing.T) {
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) {
		c.Consent = config.ConsentConfig{Lifetimes: []string{"2h", "168h", config.Forever}, DefaultLifetime: "168h",
			AskFirstParty: true, Operator: "Cloud Notes Inc."}
	})
	_, hash := oauth.NewClientSecret()
	e.mustCreateClient(store.Client{ID: "notes-web", SecretHash: hash, Name: "Cloud Notes", FirstParty: true,
		RedirectURIs: []string{"https://notes.example/cb"}, GrantTypes: []string{oauth.GrantAuthorizationCode},
		Scopes: []string{"openid", "notes.read", "photos.read"}, RequiredScopes: []string{"notes.read"},
		LogoURI: "https://cdn.notes.example/logo.png", ClientURI: "https://notes.example/home", Description: "Your notes, everywhere."})
	b := e.browser()
	q := url.Values{"response_type": {"code"}, "client_id": {"notes-web"}, "redirect_uri": {"https://notes.example/cb"},
		"scope": {"openid notes.read photos.read"}, "state": {"s"}}
	resp, err := b.Get(e.issuer + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.Request.URL.Path == "/login" {
		csrf, req := formFields(t, body)
		resp, err = b.PostForm(e.issuer+"/login", url.Values{"csrf_token": {csrf}, "request": {req}, "username": {e.user}, "password": {e.pass}})
		if err != nil {
			t.Fatal(err)
		}
		body = readBody(t, resp)
	}
	if resp.Request.URL.Path != "/consent" {
		t.Fatalf("a first-party app with consent.ask_first_party landed on %s", resp.Request.URL)
	}
	for _, want := range []string{`src="https://cdn.notes.example/logo.png"`, "(notes.example)", "verified by Cloud Notes Inc.",
		"Your notes, everywhere.", "<strong>notes.example</strong>", `data-required="openid"`, `data-required="notes.read"`,
		`<option value="168h" selected>7 days</option>`, `<option value="2h">2 hours</option>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the consent page lacks %s", want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "https://cdn.notes.example") {
		t.Errorf("the logo's origin is not allowed by the page's CSP: %s", csp)
	}
	csrf, req := formFields(t, body)
	post := func(lifetime string, scopes ...string) *http.Response {
		resp, err := noRedirects(b.Jar).PostForm(e.issuer+"/consent", url.Values{"csrf_token": {csrf}, "request": {req}, "decision": {"allow"},
			"lifetime": {lifetime}, "scope": scopes})
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		return resp
	}
	if resp := post("720h", "photos.read"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a lifetime the operator does not offer: %d, want 400", resp.StatusCode)
	}
	// Only photos.read ticked: the required scopes come along anyway.
	if resp := post("2h", "photos.read"); resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Fatalf("allow: %d", resp.StatusCode)
	}
	g, err := e.store.FindGrant(t.Context(), "u1", "notes-web")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(g.Scopes, " ") != "photos.read openid notes.read" || !g.ExpiresAt.Equal(e.clock.Now().Add(2*time.Hour)) {
		t.Fatalf("grant %+v: want the required scopes with the ticked one, for 2 hours", g)
	}
	resp, err = b.Get(e.issuer + "/account")
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, resp)
	app := regexp.MustCompile(`(?s)data-client-id="notes-web">.*?</h2>`).FindString(page)
	if !strings.Contains(app, "verified by Cloud Notes Inc.") || !strings.Contains(app, "(notes.example)") || !strings.Contains(app, "logo.png") {
		t.Fatalf("/account does not show who the app is: %q", app)
	}
}
