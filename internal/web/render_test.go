package web

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/oauth"
)

func testPages(t testing.TB) *Pages {
	t.Helper()
	pg, err := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return pg
}

// markup counts the characters that make markup: escaping keeps every one
// that comes from input out of the page, so the count must not change.
func markup(s string) int { return strings.Count(s, "<") + strings.Count(s, ">") }

// FuzzPagesEscapeInput (SECURITY.md F12, U2): whatever an error, a client
// name or a scope holds, no element or attribute of the page comes from it.
func FuzzPagesEscapeInput(f *testing.F) {
	pg := testPages(f)
	for _, s := range []string{"<script>alert(1)</script>", `"><svg onload=alert(1)>`, "javascript:alert(1)", "a' onmouseover='x", "\x00\u202e", "</title><script>"} {
		f.Add(s)
	}
	render := func(t *testing.T, name string, data any) string {
		w := httptest.NewRecorder()
		pg.render(w, httptest.NewRequest("GET", "/", nil), 200, name, data)
		if w.Code != 200 {
			t.Fatalf("render %s: %d", name, w.Code)
		}
		return w.Body.String()
	}
	pages := func(t *testing.T, in string) []string {
		e := &oauth.Error{Code: in, Description: in, Status: 400}
		w := httptest.NewRecorder()
		pg.ErrorPage(w, httptest.NewRequest("GET", "/", nil), e)
		return []string{
			w.Body.String(),
			render(t, "consent", consentData{Title: "Allow", User: in, RedirectHost: in, CSRF: in, Request: in,
				asker: asker{ClientName: in, Logo: "https://x.example/" + in, Home: in, Description: in, Operator: in, Verified: true},
				choices: choices{Scopes: []scopeItem{{Name: in, Description: in}}, Required: []scopeItem{{Name: in, Description: in}},
					Granted: []scopeItem{{Name: in, Description: in}}, Lifetimes: []lifetimeItem{{Value: in, Label: in}}}}),
			render(t, "login", loginData{Title: "Sign in", ClientName: in, Message: in, CSRF: in, Request: in, Username: in}),
			render(t, "account", accountData{Title: "Apps", Username: in, Message: in, CSRF: in, LogoutCSRF: in,
				PasswordCSRF: in, PasswordProblem: in, Operator: in,
				Apps: []appItem{{GrantID: in, ClientID: in, ClientName: in, Granted: in, Until: in, Logo: "https://x.example/" + in, Home: in,
					Verified: true, Scopes: []scopeItem{{Name: in, Description: in}},
					Devices: []deviceItem{{FamilyID: in, Description: in, Since: in, LastUsed: in, Address: in}}}},
				Activity: []activityItem{{Kind: in, What: in, App: in, When: in, Device: in, Address: in, Detail: in}}}),
			render(t, "device", deviceData{Title: "Device", CSRF: in, UserCode: in, Message: in}),
			render(t, "device_confirm", deviceData{Title: "Device", CSRF: in, UserCode: in, User: in, Device: in, Address: in,
				asker: asker{ClientName: in, Logo: "https://x.example/" + in, Home: in, Description: in, Operator: in, Verified: true},
				choices: choices{Scopes: []scopeItem{{Name: in, Description: in}}, Required: []scopeItem{{Name: in, Description: in}},
					Granted: []scopeItem{{Name: in, Description: in}}, Lifetimes: []lifetimeItem{{Value: in, Label: in}}}}),
			render(t, "device_done", deviceData{Title: "Device", asker: asker{ClientName: in}, Device: in, Allowed: true}),
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		if in == "" {
			return // the pages leave out empty optional parts
		}
		plain := pages(t, "x")
		for i, page := range pages(t, in) {
			if markup(page) != markup(plain[i]) {
				t.Fatalf("page %d: input %q changed the markup:\n%s", i, in, page)
			}
			if strings.Contains(strings.ToLower(page), `href="javascript:`) || strings.Contains(page, "<script") {
				t.Fatalf("page %d carries a script from %q", i, in)
			}
		}
	})
}
