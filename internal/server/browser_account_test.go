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

// accountBrowser drives one browser context (its own cookies: one of the
// user's devices) through the app's sign-in and the account page.
type accountBrowser struct {
	t    *testing.T
	ctx  context.Context
	e    *env
	conf *oauth2.Config
	got  chan url.Values
}

// signInToApp runs the authorization for scopes in this browser: the
// sign-in page if not signed in, the consent page (inspect sees its text
// before Allow), and the app's callback; it returns the app's tokens.
func (b *accountBrowser) signInToApp(scopes []string, inspect func(consent string)) *oauth2.Token {
	b.t.Helper()
	conf := *b.conf
	conf.Scopes = scopes
	verifier := oauth2.GenerateVerifier()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`#username, button[value=allow]`))); err != nil {
		b.t.Fatalf("authorize: %v", err)
	}
	onLogin, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector('#username')`))
	if err != nil {
		b.t.Fatal(err)
	}
	if onLogin {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`#username`), b.e.user),
			chromedp.SendKeys(chromedp.CSS(`#password`), b.e.pass),
			chromedp.Submit(chromedp.CSS(`#password`)),
			chromedp.WaitVisible(chromedp.CSS(`button[value=allow]`))); err != nil {
			b.t.Fatalf("sign in: %v", err)
		}
	}
	consent, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS(`main`)))
	if err != nil {
		b.t.Fatal(err)
	}
	if inspect != nil {
		inspect(consent)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[value=allow]`)), chromedp.WaitVisible(chromedp.CSS(`#done`))); err != nil {
		b.t.Fatalf("consent: %v", err)
	}
	q := <-b.got
	tok, err := conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		b.t.Fatalf("exchange: %v", err)
	}
	return tok
}

// account opens /account, runs actions there, and returns its HTML.
func (b *accountBrowser) account(actions ...chromedp.Action[chromedp.Void]) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	all := append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(b.e.issuer + "/account"), chromedp.WaitVisible(chromedp.CSS(`h1`))}, actions...)
	if err := chromedp.Do(ctx, all...); err != nil {
		dump, stop := context.WithTimeout(context.WithoutCancel(b.ctx), 5*time.Second)
		defer stop()
		html, _ := chromedp.Run(dump, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		loc, _ := chromedp.Run(dump, chromedp.Location())
		b.t.Fatalf("account page: %v; at %s:\n%s", err, loc, html)
	}
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS(`html`)))
	if err != nil {
		b.t.Fatal(err)
	}
	return html
}

// TestBrowser_UsersInControl: in headless Chromium, one app used from two
// browsers is one app with two devices on /account; a second consent asks
// only for the new scope; "Sign out" ends one device, "Revoke" the app;
// the activity shows what happened; a password change keeps the apps and
// signs the other browser out, and with "sign out every app" ends the
// apps too; a wrong current password changes nothing.
func TestBrowser_UsersInControl(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			got := make(chan url.Values, 4)
			app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/cb" {
					http.NotFound(w, r) // the browser's favicon request
					return
				}
				got <- r.URL.Query()
				w.Write([]byte("<!doctype html><title>done</title><p id=done>signed in</p>"))
			}))
			defer app.Close()
			conf := e.oauth2Config(e.native)
			conf.RedirectURL = app.URL + "/cb"
			conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
			// A browser process per device: each page is its browser's only
			// one, so never a throttled background tab.
			newBrowser := func() *accountBrowser {
				return &accountBrowser{t: t, ctx: chromium(t), e: e, conf: conf, got: got}
			}
			pc, phone := newBrowser(), newBrowser()
			refreshes := func(tok *oauth2.Token) (*oauth2.Token, bool) {
				next, err := refresh(context.Background(), conf, tok.RefreshToken)
				if err != nil && oauthErrorCode(err) != "invalid_grant" {
					t.Fatalf("refresh: %v", err)
				}
				return next, err == nil
			}

			onPC := pc.signInToApp([]string{"notes.read", "offline_access"}, nil)
			e.clock.Advance(time.Minute)
			onPhone := phone.signInToApp([]string{"notes.read", "notes.write", "offline_access"}, func(consent string) {
				if !strings.Contains(consent, `data-granted="notes.read"`) || !strings.Contains(consent, `id="scope-notes.write"`) ||
					strings.Contains(consent, `id="scope-notes.read"`) {
					t.Errorf("the second consent must ask only for notes.write:\n%s", consent)
				}
			})

			page := pc.account()
			if n := strings.Count(page, `data-client-id="`+e.native.id+`"`); n != 1 {
				t.Fatalf("the app is listed %d times, want once", n)
			}
			if n := strings.Count(page, "data-device="); n != 2 {
				t.Fatalf("%d devices, want 2 (the PC and the phone)", n)
			}

			// Sign out the phone (the device used last is listed first).
			pc.account(chromedp.WaitVisible(chromedp.CSS(`li[data-device] button`)), chromedp.Click(chromedp.CSS(`li[data-device] button`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
			if _, ok := refreshes(onPhone); ok {
				t.Fatal("the signed-out phone still refreshes")
			}
			next, ok := refreshes(onPC)
			if !ok {
				t.Fatal("the PC no longer refreshes after the phone was signed out")
			}
			onPC = next
			page = pc.account()
			for _, ev := range []string{"issued", "refreshed", "revoked", "signed-in", "consented"} {
				if !strings.Contains(page, `data-event="`+ev+`"`) {
					t.Errorf("the activity lacks %s", ev)
				}
			}

			// Revoke the app: the PC's tokens end too.
			pc.account(chromedp.WaitVisible(chromedp.CSS(`button[aria-label^="Revoke access of"]`)), chromedp.Click(chromedp.CSS(`button[aria-label^="Revoke access of"]`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
			if _, ok := refreshes(onPC); ok {
				t.Fatal("the revoked app still refreshes")
			}

			// Password: a wrong current one changes nothing.
			onPC = pc.signInToApp([]string{"notes.read", "offline_access"}, nil)
			changePassword := func(current, next string, signOutApps bool) string {
				actions := []chromedp.Action[chromedp.Void]{
					chromedp.SendKeys(chromedp.CSS(`#current_password`), current),
					chromedp.SendKeys(chromedp.CSS(`#new_password`), next),
				}
				if signOutApps {
					actions = append(actions, chromedp.Click(chromedp.CSS(`#sign_out_apps`)))
				}
				actions = append(actions, chromedp.Submit(chromedp.CSS(`#new_password`)), chromedp.WaitVisible(chromedp.CSS(`.notice, .error`)))
				return pc.account(actions...)
			}
			if page := changePassword("not my password", "a new long passphrase", false); !strings.Contains(page, "Nothing was changed") {
				t.Fatal("a wrong current password was not refused")
			}
			if page := phone.account(); !strings.Contains(page, "data-client-id=") && !strings.Contains(page, "Change your password") {
				t.Fatal("the phone was signed out by a refused password change")
			}
			// A change keeps the apps and signs the phone's browser out.
			if page := changePassword(e.pass, "a new long passphrase", false); !strings.Contains(page, "Your password is changed") {
				t.Fatal("the password change was not confirmed")
			}
			if page := phone.account(); !strings.Contains(page, `id="username"`) {
				t.Fatal("the phone's browser is still signed in after the password change")
			}
			if next, ok := refreshes(onPC); !ok {
				t.Fatal("the app lost its access with a plain password change")
			} else {
				onPC = next
			}
			// With "sign out every app", the apps end too.
			if page := changePassword("a new long passphrase", "and yet another one", true); !strings.Contains(page, "every app are signed out") {
				t.Fatal("the password change with sign_out_apps was not confirmed")
			}
			if _, ok := refreshes(onPC); ok {
				t.Fatal("the app still refreshes after a password change that signed out every app")
			}
		})
	}
}
