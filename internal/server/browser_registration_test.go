package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/dbtest"
)

// TestBrowser_SelfRegisteredClientIsMarkedNotVerified: a native app that
// registered itself gets a consent page, in Chromium, that says the
// operator did not verify it and does not load its logo; an operator's
// client gets none of that.
func TestBrowser_SelfRegisteredClientIsMarkedNotVerified(t *testing.T) {
	ctx := chromium(t)
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), openRegistration)
	resp, r := e.register("", map[string]any{"client_name": "Stranger's notes", "redirect_uris": []string{"http://127.0.0.1/cb"},
		"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code"}, "scope": "openid profile",
		"logo_uri": "https://logo.example/notes.png"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %+v", resp.StatusCode, r)
	}
	got := make(chan url.Values, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.URL.Query():
		default:
		}
		w.Write([]byte("<!doctype html><title>done</title><p id=done>signed in</p>"))
	}))
	defer app.Close()
	conf := e.oauth2Config(testClient{id: r.ClientID}, "openid", "profile")
	conf.RedirectURL = app.URL + "/cb"
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	verifier := oauth2.GenerateVerifier()

	steps, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err := chromedp.Do(steps,
		chromedp.Navigate(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), testUser),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-unverified]`)),
	)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	notice, err := chromedp.Run(steps, chromedp.Text(chromedp.CSS(`[data-unverified]`)))
	if err != nil {
		t.Fatal(err)
	}
	// Its logo is not loaded: the logo's server would learn who is asked.
	if shown, err := chromedp.Run(steps, chromedp.Evaluate[bool](`document.documentElement.outerHTML.includes("logo.example")`)); err != nil || shown {
		t.Fatalf("the consent page of a self-registered client shows its logo (%v)", err)
	}
	err = chromedp.Do(steps,
		chromedp.Click(chromedp.CSS(`button[value=allow]`)),
		chromedp.WaitVisible(chromedp.CSS(`#done`)),
	)
	if err != nil {
		t.Fatalf("consent: %v", err)
	}
	u, _ := url.Parse(e.issuer)
	host := u.Hostname() // consent.operator defaults to the issuer's host
	if !strings.Contains(notice, "Not verified by "+host) {
		t.Fatalf("notice %q, want \"Not verified by %s\"", notice, host)
	}
	q := <-got
	if _, err := conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("exchange: %v", err)
	}

	// An operator's client: no notice.
	native := e.oauth2Config(e.native, "notes.read")
	native.RedirectURL = app.URL + "/cb"
	err = chromedp.Do(steps,
		chromedp.Navigate(native.AuthCodeURL("st2", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`button[value=allow]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	marks, err := chromedp.Run(steps, chromedp.Evaluate[int](`document.querySelectorAll('[data-unverified]').length`))
	if err != nil || marks != 0 {
		t.Fatalf("operator's client: %v, %d notices", err, marks)
	}
}
