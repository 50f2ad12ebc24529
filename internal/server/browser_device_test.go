package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/dbtest"
)

// TestBrowser_RFC8628_DeviceFlow: a TV app (golang.org/x/oauth2) starts a
// device authorization and polls in the background while the user, in
// headless Chromium, opens verification_uri_complete, signs in (and is
// brought back with the code filled in), confirms the code, sees who asks
// and the phishing warning, and allows. The poller gets its tokens, and the
// TV is listed among the user's devices on /account.
func TestBrowser_RFC8628_DeviceFlow(t *testing.T) {
	ctx := chromium(t)
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			d := newDeviceEnv(t, backend)
			followRealTime(t, d.clock)
			tv := context.WithValue(context.Background(), oauth2.HTTPClient,
				&http.Client{Transport: userAgent{tvUserAgent, http.DefaultTransport}})
			conf := d.deviceConfig(d.tv, "openid", "notes.read", "offline_access")
			da, err := conf.DeviceAuth(tv)
			if err != nil {
				t.Fatal(err)
			}
			type result struct {
				tok *oauth2.Token
				err error
			}
			got := make(chan result, 1)
			go func() {
				tok, err := conf.DeviceAccessToken(tv, da)
				got <- result{tok, err}
			}()

			steps, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			err = chromedp.Do(steps,
				chromedp.Navigate(da.VerificationURIComplete),
				chromedp.WaitVisible(chromedp.CSS(`#username`)),
				chromedp.SendKeys(chromedp.CSS(`#username`), testUser),
				chromedp.SendKeys(chromedp.CSS(`#password`), testPassword),
				chromedp.Submit(chromedp.CSS(`#password`)),
				chromedp.WaitVisible(chromedp.CSS(`#user_code`)),
			)
			if err != nil {
				t.Fatalf("sign in: %v", err)
			}
			prefilled, err := chromedp.Run(steps, chromedp.Value(chromedp.CSS(`#user_code`)))
			if err != nil {
				t.Fatal(err)
			}
			if prefilled != da.UserCode {
				t.Fatalf("the device page after sign-in holds %q, want the code %q", prefilled, da.UserCode)
			}
			err = chromedp.Do(steps,
				chromedp.Submit(chromedp.CSS(`#user_code`)),
				chromedp.WaitVisible(chromedp.CSS(`button[value=allow]`)),
			)
			if err != nil {
				t.Fatalf("enter the code: %v", err)
			}
			confirm, err := chromedp.Run(steps, chromedp.Text(chromedp.CSS(`main`)))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"Notes for TV", "NotesTV on a TV", da.UserCode, "Read your notes", "someone sent you"} {
				if !strings.Contains(confirm, want) {
					t.Fatalf("the confirmation lacks %q:\n%s", want, confirm)
				}
			}
			err = chromedp.Do(steps,
				chromedp.Click(chromedp.CSS(`button[value=allow]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-result=allowed]`)),
			)
			if err != nil {
				t.Fatalf("allow: %v", err)
			}
			var r result
			select {
			case r = <-got:
			case <-time.After(20 * time.Second):
				t.Fatal("the TV got no tokens")
			}
			if r.err != nil {
				t.Fatalf("DeviceAccessToken: %v", r.err)
			}
			if r.tok.AccessToken == "" || r.tok.RefreshToken == "" || r.tok.Extra("id_token") == nil {
				t.Fatalf("tokens: %+v", r.tok)
			}

			var account string
			err = chromedp.Do(steps,
				chromedp.Navigate(d.issuer+"/account"),
				chromedp.WaitVisible(chromedp.CSS(`li[data-device]`)),
			)
			if err == nil {
				account, err = chromedp.Run(steps, chromedp.OuterHTML(chromedp.CSS(`main`)))
			}
			if err != nil {
				t.Fatalf("account page: %v", err)
			}
			if !strings.Contains(account, `data-client-id="`+d.tv.id+`"`) || !strings.Contains(account, `data-device="NotesTV on a TV"`) {
				t.Fatalf("/account does not list the TV:\n%s", account)
			}
		})
	}
}
