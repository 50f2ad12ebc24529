package server_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// rpApp is a small relying-party web application, as a platform team would
// write one: go-oidc for discovery and ID-token verification,
// golang.org/x/oauth2 for the code flow with PKCE S256. Its state lives in
// its own cookies (named rp_<key>_..., since every port of 127.0.0.1 shares
// one cookie jar with Latchkey's); its sessions and pending sign-ins live in
// memory.
type rpApp struct {
	t          testing.TB
	e          *env
	name, key  string // "App A", "a"
	srv        *httptest.Server
	conf       *oauth2.Config
	verifier   *gooidc.IDTokenVerifier
	endSession string

	mu         sync.Mutex
	flows      map[string]rpFlow    // state -> pending sign-in
	sessions   map[string]rpSession // session cookie -> signed-in user
	logoutSent string               // the state of the last RP-initiated logout
	logouts    []map[string]any     // verified back-channel logout tokens
	logoutErrs []string             // refused ones, with the reason
}

type rpFlow struct{ nonce, verifier string }

type rpSession struct{ username, sub, sid, acr, idToken string }

// newRPApp starts app name on 127.0.0.1 and registers it with Latchkey as a
// confidential first-party OpenID client with RP-initiated and back-channel
// logout; initiate adds its /initiate as initiate_login_uri (Core §4).
func newRPApp(t testing.TB, e *env, p *gooidc.Provider, name, key string, initiate bool) *rpApp {
	t.Helper()
	a := &rpApp{t: t, e: e, name: name, key: key, flows: map[string]rpFlow{}, sessions: map[string]rpSession{}}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&meta); err != nil || meta.EndSession == "" {
		t.Fatalf("discovery has no end_session_endpoint: %v", err)
	}
	a.endSession = meta.EndSession
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /initiate", a.initiate)
	mux.HandleFunc("GET /callback", a.callback)
	mux.HandleFunc("GET /logout", a.logout)
	mux.HandleFunc("GET /bye", a.bye)
	mux.HandleFunc("POST /backchannel", a.backchannel)
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)

	sec, hash := oauth.NewClientSecret()
	c := store.Client{
		ID: "app-" + key, SecretHash: hash, Name: name, FirstParty: true,
		RedirectURIs:           []string{a.srv.URL + "/callback"},
		GrantTypes:             []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		Scopes:                 []string{"openid", "profile", "email"},
		PostLogoutRedirectURIs: []string{a.srv.URL + "/bye"},
		BackchannelLogoutURI:   a.srv.URL + "/backchannel",
	}
	if initiate {
		c.InitiateLoginURI = a.srv.URL + "/initiate"
	}
	e.mustCreateClient(c)
	a.conf = &oauth2.Config{
		ClientID: c.ID, ClientSecret: sec.String(), RedirectURL: a.srv.URL + "/callback",
		Endpoint: p.Endpoint(), Scopes: []string{gooidc.ScopeOpenID, "profile", "email"},
	}
	a.verifier = p.Verifier(&gooidc.Config{ClientID: c.ID})
	return a
}

func (a *rpApp) cookie(name string) string { return "rp_" + a.key + "_" + name }

// page writes one HTML page; every page of an app has main[data-rp], which
// none of Latchkey's pages has, so the browser test can wait for it.
func (a *rpApp) page(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>%s</title><main data-rp=%q>%s</main>", html.EscapeString(a.name), a.key, body)
}

func (a *rpApp) fail(w http.ResponseWriter, status int, format string, args ...any) {
	a.page(w, status, `<p id="error">`+html.EscapeString(fmt.Sprintf(format, args...))+`</p>`)
}

func (a *rpApp) signedInHTML(s rpSession) string {
	return fmt.Sprintf(`<p id="status">Signed in to %s as %s</p><p>session <span id="sid">%s</span>, acr <span id="acr">%s</span></p><p><a href="/logout">Sign out</a></p>`,
		html.EscapeString(a.name), html.EscapeString(s.username), html.EscapeString(s.sid), html.EscapeString(s.acr))
}

func (a *rpApp) current(r *http.Request) (rpSession, bool) {
	ck, err := r.Cookie(a.cookie("session"))
	if err != nil {
		return rpSession{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[ck.Value]
	return s, ok
}

func (a *rpApp) home(w http.ResponseWriter, r *http.Request) {
	if s, ok := a.current(r); ok {
		a.page(w, 200, a.signedInHTML(s))
		return
	}
	a.page(w, 200, `<p id="status">Not signed in to `+html.EscapeString(a.name)+`</p><p><a href="/login">Sign in</a></p>`)
}

// startFlow sends the browser to Latchkey's authorization endpoint with a
// fresh state (kept in the app's cookie), nonce and PKCE S256 verifier.
func (a *rpApp) startFlow(w http.ResponseWriter, r *http.Request, extra url.Values) {
	state, nonce, verifier := secret.RandomString(16), secret.RandomString(16), oauth2.GenerateVerifier()
	a.mu.Lock()
	a.flows[state] = rpFlow{nonce: nonce, verifier: verifier}
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: a.cookie("state"), Value: state, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 600})
	opts := []oauth2.AuthCodeOption{gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	for k := range extra {
		opts = append(opts, oauth2.SetAuthURLParam(k, extra.Get(k)))
	}
	http.Redirect(w, r, a.conf.AuthCodeURL(state, opts...), http.StatusFound)
}

// login starts a sign-in; prompt is passed on (for prompt=none checks).
func (a *rpApp) login(w http.ResponseWriter, r *http.Request) {
	extra := url.Values{}
	if p := r.URL.Query().Get("prompt"); p != "" {
		extra.Set("prompt", p)
	}
	a.startFlow(w, r, extra)
}

// initiate is the initiate_login_uri (OpenID Connect Core §4): "iss
// REQUIRED. Issuer Identifier for the OP that the RP is to send the
// Authentication Request to." Anything else is refused; login_hint is
// passed on.
func (a *rpApp) initiate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("iss") != a.e.issuer {
		a.fail(w, http.StatusBadRequest, "unknown issuer %q", q.Get("iss"))
		return
	}
	extra := url.Values{}
	if h := q.Get("login_hint"); h != "" {
		extra.Set("login_hint", h)
	}
	a.startFlow(w, r, extra)
}

func (a *rpApp) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ck, err := r.Cookie(a.cookie("state"))
	if err != nil || ck.Value == "" || q.Get("state") != ck.Value {
		a.fail(w, http.StatusBadRequest, "state does not match this browser's sign-in")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: a.cookie("state"), Path: "/", MaxAge: -1})
	a.mu.Lock()
	flow, ok := a.flows[ck.Value]
	delete(a.flows, ck.Value)
	a.mu.Unlock()
	if !ok {
		a.fail(w, http.StatusBadRequest, "unknown or used state")
		return
	}
	// RFC 9207 §2.4: the iss parameter names the server that answered.
	if iss := q.Get("iss"); iss != a.e.issuer {
		a.fail(w, http.StatusBadRequest, "iss %q is not Latchkey's", iss)
		return
	}
	if e := q.Get("error"); e != "" {
		a.fail(w, http.StatusOK, "sign-in failed: %s", e)
		return
	}
	tok, err := a.conf.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(flow.verifier))
	if err != nil {
		a.fail(w, http.StatusBadGateway, "exchange: %v", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(r.Context(), raw)
	if err != nil {
		a.fail(w, http.StatusBadGateway, "ID token: %v", err)
		return
	}
	if idt.Nonce != flow.nonce {
		a.fail(w, http.StatusBadRequest, "ID token nonce %q, want %q", idt.Nonce, flow.nonce)
		return
	}
	var c struct {
		SID               string `json:"sid"`
		ACR               string `json:"acr"`
		PreferredUsername string `json:"preferred_username"`
	}
	if err := idt.Claims(&c); err != nil || c.SID == "" {
		a.fail(w, http.StatusBadGateway, "ID token claims (sid %q): %v", c.SID, err)
		return
	}
	s := rpSession{username: c.PreferredUsername, sub: idt.Subject, sid: c.SID, acr: c.ACR, idToken: raw}
	id := secret.RandomString(16)
	a.mu.Lock()
	a.sessions[id] = s
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: a.cookie("session"), Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	a.page(w, 200, a.signedInHTML(s))
}

// logout ends the app's own session and sends the browser to Latchkey's
// end_session_endpoint (RP-Initiated Logout 1.0 §2) with the ID token as
// hint, a registered post-logout URI and a state kept in a cookie.
func (a *rpApp) logout(w http.ResponseWriter, r *http.Request) {
	s, ok := a.current(r)
	if !ok {
		http.Redirect(w, r, "/", http.StatusFound)
		return
	}
	ck, _ := r.Cookie(a.cookie("session"))
	state := secret.RandomString(12)
	a.mu.Lock()
	delete(a.sessions, ck.Value)
	a.logoutSent = state
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: a.cookie("session"), Path: "/", MaxAge: -1})
	http.SetCookie(w, &http.Cookie{Name: a.cookie("logout"), Value: state, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 600})
	q := url.Values{"id_token_hint": {s.idToken}, "post_logout_redirect_uri": {a.srv.URL + "/bye"}, "state": {state}}
	http.Redirect(w, r, a.endSession+"?"+q.Encode(), http.StatusFound)
}

// bye is the post-logout redirect URI; it shows the state it received,
// checked against the one this browser sent.
func (a *rpApp) bye(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	ck, err := r.Cookie(a.cookie("logout"))
	if err != nil || state == "" || ck.Value != state {
		a.fail(w, http.StatusBadRequest, "logout state %q does not match this browser's", state)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: a.cookie("logout"), Path: "/", MaxAge: -1})
	a.page(w, 200, `<p id="status">Signed out of `+html.EscapeString(a.name)+`</p><p>state <span id="state">`+html.EscapeString(state)+`</span></p>`)
}

// backchannel is the backchannel_logout_uri. The logout token is verified as
// Back-Channel Logout 1.0 §2.6 says (signature against Latchkey's JWKS, typ,
// iss, aud, iat/exp, events, sid, jti, no nonce: env.verifyLogoutToken), and
// every local session of that sid ends (§2.7). §2.8: 200 with no-store on
// success, 400 on a refused token.
func (a *rpApp) backchannel(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	claims, reason := a.e.verifyLogoutToken(r.PostFormValue("logout_token"), a.conf.ClientID)
	a.mu.Lock()
	defer a.mu.Unlock()
	if reason != "" {
		a.logoutErrs = append(a.logoutErrs, reason)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	a.logouts = append(a.logouts, claims)
	for id, s := range a.sessions {
		if s.sid == claims["sid"] {
			delete(a.sessions, id)
		}
	}
}

func (a *rpApp) received() ([]map[string]any, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.logouts), slices.Clone(a.logoutErrs)
}

// navLog records, for one Chromium tab, every document request (each hop of
// a redirect chain) and every page the top frame showed.
type navLog struct {
	mu          sync.Mutex
	hops, shown []string
}

func listenNavigations(t *testing.T, ctx context.Context) *navLog {
	t.Helper()
	l := &navLog{}
	err := chromedp.Listen(ctx, func(ev any) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if ev.Type == network.ResourceTypeDocument && ev.Request != nil {
				l.hops = append(l.hops, ev.Request.Method+" "+ev.Request.URL)
			}
		case *page.EventFrameNavigated:
			if ev.Frame != nil && ev.Frame.ParentID == "" {
				l.shown = append(l.shown, ev.Frame.URL)
			}
		}
	})
	if err != nil {
		t.Fatalf("listen to the browser: %v", err)
	}
	return l
}

// take returns what was recorded since the last call and starts afresh.
func (l *navLog) take() (hops, shown []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	hops, shown = l.hops, l.shown
	l.hops, l.shown = nil, nil
	return hops, shown
}

// browse runs the actions in the tab, then waits for a page of one of the
// relying parties and returns its URL and text. On failure it reports where
// the browser is and what the page says.
func browse(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) (string, string) {
	t.Helper()
	steps, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	actions = append(actions, chromedp.WaitVisible(chromedp.CSS(`main[data-rp]`)))
	err := chromedp.Do(steps, actions...)
	look, cancelLook := context.WithTimeout(ctx, 3*time.Second)
	defer cancelLook()
	loc, _ := chromedp.Run(look, chromedp.Location())
	text, terr := chromedp.Run(look, chromedp.Text(chromedp.CSS(`body`)))
	if err != nil || terr != nil {
		t.Fatalf("%s: %v\nthe browser is at %s, showing:\n%s", what, errors.Join(err, terr), loc, text)
	}
	return loc, text
}

func hasPrefixIn(list []string, prefix string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

// TestBrowser_SSO_ThreeApplications_SingleLogout signs in once in headless
// Chromium and opens three relying parties built on go-oidc and
// golang.org/x/oauth2: A with the password, B silently from the session,
// C from a link of Latchkey's portal (third-party-initiated login, OpenID
// Connect Core §4). Logging out of B (RP-Initiated Logout 1.0) ends the
// browser session and every app's session: each receives one verified
// back-channel logout token for the sid (Back-Channel Logout 1.0 §2.5), and
// A's prompt=none then answers login_required (Core §3.1.2.6).
func TestBrowser_SSO_ThreeApplications_SingleLogout(t *testing.T) {
	browser := chromium(t)
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			// One browser, a cookie jar of its own per backend (Latchkey and
			// the apps of a run share the cookie host 127.0.0.1), so the
			// backends run side by side.
			ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
			defer cancel()
			e := newEnv(t, backend)
			p := e.provider(context.Background())
			appA := newRPApp(t, e, p, "App A", "a", false)
			appB := newRPApp(t, e, p, "App B", "b", false)
			appC := newRPApp(t, e, p, "App C", "c", true)
			nav := listenNavigations(t, ctx)
			loginPage := e.issuer + "/login"

			// 1. A: Latchkey's sign-in page, then A's callback.
			err := chromedp.Do(withTimeout(t, ctx),
				chromedp.Navigate(appA.srv.URL+"/login"),
				chromedp.WaitVisible(chromedp.CSS(`#username`)),
			)
			if err != nil {
				t.Fatalf("A's /login does not reach Latchkey's sign-in page: %v", err)
			}
			if _, shown := nav.take(); !hasPrefixIn(shown, loginPage) {
				t.Fatalf("A's sign-in showed %v, want Latchkey's %s", shown, loginPage)
			}
			loc, text := browse(t, ctx, "sign in for A",
				chromedp.SendKeys(chromedp.CSS(`#username`), testUser),
				chromedp.SendKeys(chromedp.CSS(`#password`), testPassword),
				chromedp.Submit(chromedp.CSS(`#password`)),
			)
			sidA := mustSignedIn(t, ctx, loc, text, appA, "1")

			// 2. B: no sign-in page, the session answers. The test clock
			// stands still unless told; a second passes, as it would for a
			// user, so auth_time (A's sign-in) is before B's request and
			// acr tells the two apart.
			e.clock.Advance(time.Second)
			nav.take()
			loc, text = browse(t, ctx, "open B", chromedp.Navigate(appB.srv.URL+"/login"))
			hops, shown := nav.take()
			if !hasPrefixIn(hops, "GET "+e.issuer+"/authorize?") || hasPrefixIn(hops, "GET "+loginPage) || hasPrefixIn(shown, e.issuer) {
				t.Fatalf("single sign-on for B: want one trip through /authorize and no Latchkey page; requests %v, pages shown %v", hops, shown)
			}
			sidB := mustSignedIn(t, ctx, loc, text, appB, "0")

			// 3. C: from the portal's link, through C's initiate_login_uri.
			e.clock.Advance(time.Second)
			err = chromedp.Do(withTimeout(t, ctx),
				chromedp.Navigate(e.issuer+"/"),
				chromedp.WaitVisible(chromedp.Search(`//a[normalize-space(.)="App C"]`)),
			)
			if err != nil {
				t.Fatalf("the portal has no link named %q: %v", "App C", err)
			}
			portal, err := chromedp.Run(withTimeout(t, ctx), chromedp.Text(chromedp.CSS(`main`)))
			if err != nil || strings.Contains(portal, "App A") || strings.Contains(portal, "App B") {
				t.Fatalf("the portal lists only apps with an initiate_login_uri; it shows (%v):\n%s", err, portal)
			}
			nav.take()
			loc, text = browse(t, ctx, "open C from the portal", chromedp.Click(chromedp.Search(`//a[normalize-space(.)="App C"]`)))
			hops, shown = nav.take()
			initiate := "GET " + appC.srv.URL + "/initiate?"
			if len(hops) == 0 || !strings.HasPrefix(hops[0], initiate) || !strings.Contains(hops[0], "iss="+url.QueryEscape(e.issuer)) ||
				!strings.Contains(hops[0], "login_hint="+testUser) || hasPrefixIn(hops, "GET "+loginPage) || hasPrefixIn(shown, e.issuer) {
				t.Fatalf("portal link to C: want %s with iss and login_hint, then no Latchkey page; requests %v, pages shown %v", initiate, hops, shown)
			}
			sidC := mustSignedIn(t, ctx, loc, text, appC, "0")
			if sidA != sidB || sidB != sidC {
				t.Fatalf("one browser session, one sid: A %q, B %q, C %q", sidA, sidB, sidC)
			}

			// 4. Log out from B: end-session with B's ID token, no confirmation page.
			nav.take()
			loc, text = browse(t, ctx, "log out from B", chromedp.Navigate(appB.srv.URL+"/logout"))
			_, shown = nav.take()
			appB.mu.Lock()
			sent := appB.logoutSent
			appB.mu.Unlock()
			if !strings.HasPrefix(loc, appB.srv.URL+"/bye?") || !strings.Contains(text, "Signed out of App B") || !strings.Contains(text, "state "+sent) || sent == "" {
				t.Fatalf("after logout from B: at %s, showing:\n%s\n(want B's /bye with state %q)", loc, text, sent)
			}
			if hasPrefixIn(shown, e.issuer) {
				t.Fatalf("a valid id_token_hint must sign out without a page (RP-Initiated Logout §2); pages shown %v", shown)
			}

			// 5. Every app of the session hears of it once, on its back channel.
			e.server.WaitBackchannel()
			for _, app := range []*rpApp{appA, appB, appC} {
				toks, errs := app.received()
				if len(errs) > 0 || len(toks) != 1 || toks[0]["sid"] != sidA || toks[0]["sub"] != "u1" {
					t.Errorf("%s: back-channel logout tokens %v, refused %v; want exactly one for sid %q", app.name, toks, errs, sidA)
				}
			}
			for _, app := range []*rpApp{appA, appC} {
				loc, text = browse(t, ctx, "open "+app.name+" after logout", chromedp.Navigate(app.srv.URL+"/"))
				if !strings.Contains(text, "Not signed in to "+app.name) {
					t.Errorf("%s still has a session after the back-channel logout: at %s, showing:\n%s", app.name, loc, text)
				}
			}

			// 6. The browser session is gone: prompt=none from A is login_required.
			nav.take()
			loc, text = browse(t, ctx, "prompt=none from A", chromedp.Navigate(appA.srv.URL+"/login?prompt=none"))
			hops, shown = nav.take()
			if !strings.Contains(text, "sign-in failed: login_required") || !hasPrefixIn(hops, "GET "+e.issuer+"/authorize?") || hasPrefixIn(shown, e.issuer) {
				t.Fatalf("prompt=none after logout: at %s, showing:\n%s\nrequests %v, pages shown %v", loc, text, hops, shown)
			}
		})
	}
}

// withTimeout bounds one group of browser steps.
func withTimeout(t *testing.T, ctx context.Context) context.Context {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustSignedIn checks that the browser landed on app's callback signed in
// as alice, with the acr Latchkey reports ("1": the password was typed for
// this request; "0": the session answered), and returns the page's sid.
func mustSignedIn(t *testing.T, ctx context.Context, loc, text string, app *rpApp, acr string) string {
	t.Helper()
	want := "Signed in to " + app.name + " as " + testUser
	if !strings.HasPrefix(loc, app.srv.URL+"/callback?") || !strings.Contains(text, want) {
		t.Fatalf("want %q on %s's callback; at %s, showing:\n%s", want, app.name, loc, text)
	}
	look := withTimeout(t, ctx)
	sid, err := chromedp.Run(look, chromedp.Text(chromedp.ID("sid")))
	if err != nil || sid == "" {
		t.Fatalf("%s shows no sid: %v", app.name, err)
	}
	got, err := chromedp.Run(look, chromedp.Text(chromedp.ID("acr")))
	if err != nil || got != acr {
		t.Errorf("%s: acr %q, want %q (OpenID Connect Core §2) %v", app.name, got, acr, err)
	}
	return sid
}
