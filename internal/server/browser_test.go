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
	"github.com/latchkey/latchkey/internal/testenv"
)

// chromium returns a headless Chromium context (testenv.Chromium).
func chromium(t *testing.T) context.Context { return testenv.Chromium(t) }

// TestBrowser_CodeFlowThroughRealPages signs in and consents in headless
// Chromium, lands on a native app's loopback redirect (RFC 8252 §7.3), and
// redeems the code with golang.org/x/oauth2.
func TestBrowser_CodeFlowThroughRealPages(t *testing.T) {
	ctx := chromium(t)
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			got := make(chan url.Values, 1)
			app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet {
					t.Errorf("the callback got %s, want GET (RFC 9700 §4.12)", r.Method)
				}
				select {
				case got <- r.URL.Query():
				default:
				}
				w.Write([]byte("<!doctype html><title>done</title><p id=done>signed in</p>"))
			}))
			defer app.Close()
			conf := e.oauth2Config(e.native, "notes.read", "notes.write", "offline_access")
			conf.RedirectURL = app.URL + "/cb"
			conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
			verifier := oauth2.GenerateVerifier()

			steps, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			err := chromedp.Do(steps,
				chromedp.Navigate(conf.AuthCodeURL("browser-state", oauth2.S256ChallengeOption(verifier))),
				chromedp.WaitVisible(chromedp.CSS(`#username`)),
				chromedp.SendKeys(chromedp.CSS(`#username`), testUser),
				chromedp.SendKeys(chromedp.CSS(`#password`), testPassword),
				chromedp.Submit(chromedp.CSS(`#password`)),
				chromedp.WaitVisible(chromedp.CSS(`button[value=allow]`)),
			)
			if err != nil {
				t.Fatalf("sign in: %v", err)
			}
			consentText, err := chromedp.Run(steps, chromedp.Text(chromedp.CSS(`main`)))
			if err != nil {
				t.Fatal(err)
			}
			err = chromedp.Do(steps,
				// Untick notes.write: least privilege (RFC 6819 §5.1.5.1).
				chromedp.Click(chromedp.CSS(`#scope-notes\.write`)),
				chromedp.Click(chromedp.CSS(`button[value=allow]`)),
				chromedp.WaitVisible(chromedp.CSS(`#done`)),
			)
			if err != nil {
				t.Fatalf("consent: %v", err)
			}
			for _, want := range []string{"Notes for phone", "Read your notes", "Create, change and delete your notes"} {
				if !strings.Contains(consentText, want) {
					t.Fatalf("consent page lacks %q:\n%s", want, consentText)
				}
			}
			q := <-got
			if q.Get("state") != "browser-state" || q.Get("iss") != e.issuer {
				t.Fatalf("callback %v", q)
			}
			tok, err := conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if tok.Extra("scope") != "notes.read offline_access" {
				t.Fatalf("scope %v: the unticked scope must not be granted", tok.Extra("scope"))
			}
			tok2, err := refresh(context.Background(), conf, tok.RefreshToken)
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}

			// The user revokes the app on the account page, in the browser.
			err = chromedp.Do(steps,
				chromedp.Navigate(e.issuer+"/account"),
				chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Revoke access of Notes for phone"]`)),
				chromedp.Click(chromedp.CSS(`button[aria-label="Revoke access of Notes for phone"]`)),
				chromedp.WaitVisible(chromedp.CSS(`.notice`)),
			)
			if err != nil {
				t.Fatalf("revoke on the account page: %v", err)
			}
			if _, err := refresh(context.Background(), conf, tok2.RefreshToken); oauthErrorCode(err) != "invalid_grant" {
				t.Fatalf("refresh after the user revoked the app: %v", err)
			}
		})
	}
}
