package server_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// tvUserAgent is a smart TV app's User-Agent: "NotesTV on a TV".
const tvUserAgent = "NotesTV/2.0 (SMART-TV; Linux; Tizen 7.0)"

// deviceEnv is Latchkey with two device clients, polled every second,
// behind a trusted proxy on loopback (X-Forwarded-For names the client).
type deviceEnv struct {
	*env
	tv    testClient // public: device_code, refresh_token; openid, profile, notes
	photo testClient // confidential: device_code only; photos.read
}

func newDeviceEnv(t *testing.T, backend string) *deviceEnv {
	t.Helper()
	e := newEnvConfig(t, backend, dbtest.Open(t, backend), func(c *config.Config) {
		c.Tokens.DevicePollInterval = time.Second
		c.Server.TrustedProxies = []string{"127.0.0.0/8"}
	})
	d := &deviceEnv{env: e, tv: testClient{id: "notes-tv"}}
	e.mustCreateClient(store.Client{
		ID: d.tv.id, Name: "Notes for TV", Public: true,
		GrantTypes: []string{oauth.GrantDeviceCode, oauth.GrantRefreshToken},
		Scopes:     []string{"openid", "profile", "notes.read", "notes.write", "offline_access"},
	})
	sec, hash := oauth.NewClientSecret()
	d.photo = testClient{id: "photo-frame", secret: sec.String()}
	e.mustCreateClient(store.Client{
		ID: d.photo.id, SecretHash: hash, Name: "Photo frame",
		GrantTypes: []string{oauth.GrantDeviceCode}, Scopes: []string{"photos.read"},
	})
	return d
}

// followRealTime makes the test clock advance with the wall clock until
// the test ends, for clients (golang.org/x/oauth2) that wait in real time.
func followRealTime(t *testing.T, c *clock) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		last := time.Now()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			now := time.Now()
			c.Advance(now.Sub(last))
			last = now
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// deviceConfig is an x/oauth2 configuration of a device client.
func (d *deviceEnv) deviceConfig(c testClient, scopes ...string) *oauth2.Config {
	conf := d.oauth2Config(c, scopes...)
	conf.Endpoint.DeviceAuthURL = d.issuer + "/device_authorization"
	if c.secret == "" {
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	return conf
}

// clientForm adds a public client's id to form; a confidential client
// authenticates with Basic (the returned client), a public one not at all.
func clientForm(c testClient, form url.Values) (url.Values, *testClient) {
	if c.secret == "" {
		form.Set("client_id", c.id)
		return form, nil
	}
	return form, &c
}

// authorizeDevice posts a device authorization request (RFC 8628 §3.1)
// from the TV.
func (d *deviceEnv) authorizeDevice(c testClient, form url.Values) tokenAnswer {
	d.t.Helper()
	form, auth := clientForm(c, form)
	req := d.formRequest("/device_authorization", form, auth)
	req.Header.Set("User-Agent", tvUserAgent)
	return d.doToken(req)
}

// startDevice authorizes the device for scope and returns its device and
// user codes.
func (d *deviceEnv) startDevice(c testClient, scope string) (deviceCode, userCode string) {
	d.t.Helper()
	a := d.authorizeDevice(c, url.Values{"scope": {scope}})
	if a.status != http.StatusOK {
		d.t.Fatalf("device authorization: %d %v", a.status, a.body)
	}
	return a.str("device_code"), a.str("user_code")
}

// poll is the device's token request (RFC 8628 §3.4).
func (d *deviceEnv) poll(c testClient, deviceCode string) tokenAnswer {
	d.t.Helper()
	form, auth := clientForm(c, url.Values{"grant_type": {oauth.GrantDeviceCode}, "device_code": {deviceCode}})
	return d.doToken(d.formRequest("/token", form, auth))
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// userBrowser is the user's phone or laptop, signed in, at address addr.
type userBrowser struct {
	d    *deviceEnv
	b    *http.Client
	addr string
	csrf string // the device page's
}

// signedInBrowser signs the test user in from addr and opens the device page.
func (d *deviceEnv) signedInBrowser(addr string) *userBrowser {
	d.t.Helper()
	u := &userBrowser{d: d, b: d.browser(), addr: addr}
	_, body := u.get("/login")
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		d.t.Fatalf("no sign-in form:\n%s", body)
	}
	resp, body := u.postForm("/login", url.Values{"csrf_token": {m[1]}, "username": {d.user}, "password": {d.pass}})
	if resp.Request.URL.Path != "/account" {
		d.t.Fatalf("sign-in landed on %s (%d):\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	_, body = u.get("/device")
	if m = csrfRe.FindStringSubmatch(body); m == nil {
		d.t.Fatalf("no device form:\n%s", body)
	}
	u.csrf = m[1]
	return u
}

func (u *userBrowser) do(req *http.Request) (*http.Response, string) {
	u.d.t.Helper()
	req.Header.Set("X-Forwarded-For", u.addr)
	resp, err := u.b.Do(req)
	if err != nil {
		u.d.t.Fatal(err)
	}
	return resp, readBody(u.d.t, resp)
}

func (u *userBrowser) get(path string) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodGet, u.d.issuer+path, nil)
	return u.do(req)
}

func (u *userBrowser) postForm(path string, form url.Values) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodPost, u.d.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return u.do(req)
}

// enter posts a typed user code: the confirmation page, or the form again.
func (u *userBrowser) enter(typed string) (*http.Response, string) {
	return u.postForm("/device", url.Values{"csrf_token": {u.csrf}, "user_code": {typed}})
}

// decide enters the code, then posts decision with the scopes ticked on
// the confirmation page except untick, for as long as forever.
func (u *userBrowser) decide(userCode, decision string, untick ...string) (*http.Response, string) {
	u.d.t.Helper()
	resp, body := u.enter(userCode)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `value="allow"`) {
		u.d.t.Fatalf("entering %q: %d\n%s", userCode, resp.StatusCode, body)
	}
	form := url.Values{"csrf_token": {u.csrf}, "user_code": {userCode}, "decision": {decision}, "lifetime": {"forever"}}
	for _, m := range regexp.MustCompile(`<input type="checkbox" id="[^"]*" name="scope" value="([^"]+)" checked>`).FindAllStringSubmatch(body, -1) {
		if !strings.Contains(" "+strings.Join(untick, " ")+" ", " "+m[1]+" ") {
			form.Add("scope", m[1])
		}
	}
	return u.postForm("/device", form)
}

// approve approves the user code with every offered scope but untick.
func (u *userBrowser) approve(userCode string, untick ...string) {
	u.d.t.Helper()
	resp, body := u.decide(userCode, "allow", untick...)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-result="allowed"`) {
		u.d.t.Fatalf("approve: %d\n%s", resp.StatusCode, body)
	}
}

var userCodeRe = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

func TestRFC8628_DeviceAuthorizationEndpoint(t *testing.T) {
	d := newDeviceEnv(t, "sqlite")
	ctx := context.Background()

	t.Run("RFC8628_3.2/answers_a_device_code_a_user_code_and_where_to_enter_it", func(t *testing.T) {
		a := d.authorizeDevice(d.tv, url.Values{"scope": {"openid notes.read"}})
		if a.status != http.StatusOK {
			t.Fatalf("%d %v", a.status, a.body)
		}
		dc, uc := a.str("device_code"), a.str("user_code")
		if !secret.HasPrefix(dc, secret.PrefixDeviceCode) {
			t.Errorf("device_code %q: want lk_dc_ and 256 random bits", dc)
		}
		if !userCodeRe.MatchString(uc) {
			t.Errorf("user_code %q: want XXXX-XXXX of the consonant alphabet (RFC 8628 §6.1)", uc)
		}
		if a.str("verification_uri") != d.issuer+"/device" ||
			a.str("verification_uri_complete") != d.issuer+"/device?user_code="+uc {
			t.Errorf("verification URIs %q, %q", a.str("verification_uri"), a.str("verification_uri_complete"))
		}
		if a.body["expires_in"] != float64(600) || a.body["interval"] != float64(1) {
			t.Errorf("expires_in %v, interval %v; want 600 (the default) and 1 (configured)", a.body["expires_in"], a.body["interval"])
		}
		// Stored as hashes only, with the TV's description and the request.
		got, err := d.store.GetDeviceCode(ctx, secret.Hash(dc))
		if err != nil {
			t.Fatal(err)
		}
		if got.Device != "NotesTV on a TV" || got.Status != store.DeviceCodePending || strings.Join(got.Scopes, " ") != "openid notes.read" ||
			got.Interval != time.Second || !got.ExpiresAt.Equal(got.CreatedAt.Add(10*time.Minute)) || strings.Contains(got.UserCodeHash, strings.ReplaceAll(uc, "-", "")) {
			t.Errorf("stored %+v", got)
		}
	})

	t.Run("RFC8628_3.1/x_oauth2_DeviceAuth_and_a_confidential_client", func(t *testing.T) {
		// x/oauth2 sends no client authentication to the device
		// authorization endpoint; a confidential client adds its secret.
		conf := d.deviceConfig(d.photo, "photos.read")
		da, err := conf.DeviceAuth(ctx, oauth2.SetAuthURLParam("client_secret", d.photo.secret))
		if err != nil {
			t.Fatal(err)
		}
		if !userCodeRe.MatchString(da.UserCode) || da.Interval != 1 || time.Until(da.Expiry) < 9*time.Minute {
			t.Fatalf("DeviceAuth: %+v", da)
		}
		_, err = conf.DeviceAuth(ctx)
		if oauthErrorCode(err) != "invalid_client" {
			t.Fatalf("a confidential client without its secret: %v, want invalid_client", err)
		}
	})

	t.Run("RFC8628_3.1/client_errors", func(t *testing.T) {
		wrongSecret := d.photo
		wrongSecret.secret = "lk_cs_" + strings.Repeat("A", 43)
		for _, tc := range []struct {
			name   string
			c      testClient
			form   url.Values
			status int
			code   string
		}{
			{"client_without_the_grant_type_is_unauthorized_client", d.web, url.Values{"scope": {"notes.read"}}, 400, "unauthorized_client"},
			{"wrong_secret_is_invalid_client", wrongSecret, url.Values{}, 401, "invalid_client"},
			{"unknown_client_is_invalid_client", testClient{id: "nobody"}, url.Values{}, 401, "invalid_client"},
			{"unknown_scope_is_invalid_scope", d.tv, url.Values{"scope": {"notes.read admin"}}, 400, "invalid_scope"},
			{"scope_beyond_the_client_is_invalid_scope", d.tv, url.Values{"scope": {"photos.read"}}, 400, "invalid_scope"},
			{"repeated_scope_is_invalid_request", d.tv, url.Values{"scope": {"openid", "profile"}}, 400, "invalid_request"},
			{"RFC8707_2/relative_resource_is_invalid_target", d.tv, url.Values{"resource": {"/notes"}}, 400, "invalid_target"},
			{"RFC8707_2/resource_with_fragment_is_invalid_target", d.tv, url.Values{"resource": {"https://notes.example/#x"}}, 400, "invalid_target"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, d.authorizeDevice(tc.c, tc.form), tc.status, tc.code)
			})
		}
		resp, err := http.Get(d.issuer + "/device_authorization")
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("GET: %d, want 405", resp.StatusCode)
		}
	})

	t.Run("RFC8707_2/resources_are_kept_as_given", func(t *testing.T) {
		d.resource("https://notes.example/api", "notes.read")
		d.resource("https://photos.example/", "notes.read", "photos.read")
		d.clock.Advance(6 * time.Second) // past the registry's cache
		wantError(t, d.authorizeDevice(d.tv, url.Values{"scope": {"notes.read"}, "resource": {"https://unknown.example/"}}), 400, "invalid_target")
		a := d.authorizeDevice(d.tv, url.Values{"scope": {"notes.read"}, "resource": {"https://notes.example/api", "https://photos.example/"}})
		if a.status != http.StatusOK {
			t.Fatalf("%d %v", a.status, a.body)
		}
		got, err := d.store.GetDeviceCode(ctx, secret.Hash(a.str("device_code")))
		if err != nil || strings.Join(got.Resources, " ") != "https://notes.example/api https://photos.example/" {
			t.Fatalf("resources %q, %v", got.Resources, err)
		}
	})

	t.Run("RFC8414_2/discovery_names_the_endpoint_and_the_grant_type", func(t *testing.T) {
		resp, err := http.Get(d.issuer + "/.well-known/oauth-authorization-server")
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Endpoint   string   `json:"device_authorization_endpoint"`
			GrantTypes []string `json:"grant_types_supported"`
		}
		if err := jsonUnmarshal(readBody(t, resp), &m); err != nil {
			t.Fatal(err)
		}
		if m.Endpoint != d.issuer+"/device_authorization" || !strings.Contains(strings.Join(m.GrantTypes, " "), oauth.GrantDeviceCode) {
			t.Fatalf("metadata %+v", m)
		}
	})
}

// TestRFC8628_DeviceFlowWithGolangOAuth2: x/oauth2 polls while the user
// approves in a browser; the device gets tokens through the code grant's
// path (ID token, refresh token) and is one of the user's devices.
func TestRFC8628_DeviceFlowWithGolangOAuth2(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			d := newDeviceEnv(t, backend)
			followRealTime(t, d.clock)
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient,
				&http.Client{Transport: userAgent{tvUserAgent, http.DefaultTransport}})
			conf := d.deviceConfig(d.tv, "openid", "profile", "notes.read", "notes.write", "offline_access")
			da, err := conf.DeviceAuth(ctx)
			if err != nil {
				t.Fatal(err)
			}
			type result struct {
				tok *oauth2.Token
				err error
			}
			got := make(chan result, 1)
			go func() {
				tok, err := conf.DeviceAccessToken(ctx, da)
				got <- result{tok, err}
			}()
			u := d.signedInBrowser("198.51.100.7")
			// Let the device poll while the user decides.
			time.Sleep(1500 * time.Millisecond)
			u.approve(da.UserCode, "notes.write")
			var r result
			select {
			case r = <-got:
			case <-time.After(20 * time.Second):
				t.Fatal("the device got no tokens")
			}
			if r.err != nil {
				t.Fatalf("DeviceAccessToken: %v", r.err)
			}
			if r.tok.Extra("scope") != "openid profile notes.read offline_access" || r.tok.RefreshToken == "" || r.tok.Extra("id_token") == nil {
				t.Fatalf("token: scope %v, refresh %q, id_token %v", r.tok.Extra("scope"), r.tok.RefreshToken, r.tok.Extra("id_token") != nil)
			}
			// go-oidc, a relying-party library nobody here wrote, verifies the ID token.
			verified, err := d.provider(ctx).Verifier(&gooidc.Config{ClientID: d.tv.id, Now: d.clock.Now}).Verify(ctx, r.tok.Extra("id_token").(string))
			if err != nil {
				t.Fatalf("ID token: %v", err)
			}
			var idt map[string]any
			if err := verified.Claims(&idt); err != nil {
				t.Fatal(err)
			}
			if idt["sub"] != "u1" || idt["sid"] != nil || idt["name"] != "Alice" || idt["acr"] != "1" {
				t.Fatalf("ID token claims %v (no sid: the TV does not share the browser's session; acr 1: signed in after the TV asked)", idt)
			}
			if _, err := refresh(ctx, conf, r.tok.RefreshToken); err != nil {
				t.Fatalf("refresh: %v", err)
			}
			// The TV is one of the user's devices, under its own name.
			_, page := u.get("/account")
			if !strings.Contains(page, `data-device="NotesTV on a TV"`) {
				t.Fatalf("/account does not list the TV:\n%s", page)
			}
			if err := d.server.FlushActivity(ctx); err != nil {
				t.Fatal(err)
			}
			_, page = u.get("/account")
			for _, kind := range []string{store.ActivityIssued, store.ActivityConsented} {
				if !strings.Contains(page, `data-event="`+kind+`"`) {
					t.Errorf("no %s activity on /account", kind)
				}
			}
		})
	}
}

func TestRFC8628_TokenRequest(t *testing.T) {
	d := newDeviceEnv(t, "sqlite")
	ctx := context.Background()
	u := d.signedInBrowser("198.51.100.7")

	t.Run("RFC8628_3.5/authorization_pending_until_the_user_decides", func(t *testing.T) {
		dc, _ := d.startDevice(d.tv, "notes.read")
		wantError(t, d.poll(d.tv, dc), 400, "authorization_pending")
		d.clock.Advance(time.Second)
		wantError(t, d.poll(d.tv, dc), 400, "authorization_pending")
	})

	t.Run("RFC8628_3.5/slow_down_grows_interval", func(t *testing.T) {
		dc, _ := d.startDevice(d.tv, "notes.read")
		wantError(t, d.poll(d.tv, dc), 400, "authorization_pending")
		// At once again: too soon, and the interval becomes 1 + 5 s.
		a := d.poll(d.tv, dc)
		wantError(t, a, 400, "slow_down")
		interval := func() time.Duration {
			got, err := d.store.GetDeviceCode(ctx, secret.Hash(dc))
			if err != nil {
				t.Fatal(err)
			}
			return got.Interval
		}
		if got := interval(); got != 6*time.Second {
			t.Fatalf("interval after slow_down %v, want 6s", got)
		}
		// The old interval no longer suffices: slow_down again, 11 s.
		d.clock.Advance(time.Second)
		wantError(t, d.poll(d.tv, dc), 400, "slow_down")
		if got := interval(); got != 11*time.Second {
			t.Fatalf("interval after a second slow_down %v, want 11s", got)
		}
		// Waiting the grown interval is fine, and it stays grown.
		d.clock.Advance(11 * time.Second)
		wantError(t, d.poll(d.tv, dc), 400, "authorization_pending")
		d.clock.Advance(11 * time.Second)
		wantError(t, d.poll(d.tv, dc), 400, "authorization_pending")
		if got := interval(); got != 11*time.Second {
			t.Fatalf("interval %v, want 11s kept", got)
		}
	})

	t.Run("RFC8628_3.5/access_denied_once_the_user_denies", func(t *testing.T) {
		dc, uc := d.startDevice(d.tv, "notes.read")
		resp, body := u.decide(uc, "deny")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-result="denied"`) {
			t.Fatalf("deny: %d\n%s", resp.StatusCode, body)
		}
		wantError(t, d.poll(d.tv, dc), 400, "access_denied")
		d.clock.Advance(time.Second)
		wantError(t, d.poll(d.tv, dc), 400, "access_denied")
		// The code is decided: it cannot be approved afterwards.
		if resp, _ := u.enter(uc); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("entering a denied code: %d, want 400", resp.StatusCode)
		}
	})

	t.Run("RFC8628_3.5/expired_token_after_expires_in", func(t *testing.T) {
		dc, uc := d.startDevice(d.tv, "notes.read")
		d.clock.Advance(10 * time.Minute)
		wantError(t, d.poll(d.tv, dc), 400, "expired_token")
		if resp, body := u.enter(uc); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "not valid") {
			t.Fatalf("entering an expired code: %d\n%s", resp.StatusCode, body)
		}
		// Approved, but redeemed too late: expired too.
		dc2, uc2 := d.startDevice(d.tv, "notes.read")
		u.approve(uc2)
		d.clock.Advance(10 * time.Minute)
		wantError(t, d.poll(d.tv, dc2), 400, "expired_token")
	})

	t.Run("RFC8628_3.5/approval_issues_tokens_once", func(t *testing.T) {
		dc, uc := d.startDevice(d.photo, "photos.read")
		u.approve(uc)
		a := d.poll(d.photo, dc)
		if a.status != http.StatusOK || a.str("access_token") == "" || a.str("scope") != "photos.read" {
			t.Fatalf("poll after approval: %d %v", a.status, a.body)
		}
		// Not registered for refresh_token: no refresh token.
		if a.str("refresh_token") != "" || a.str("id_token") != "" {
			t.Fatalf("refresh or ID token for a client without refresh_token or openid: %v", a.body)
		}
		d.clock.Advance(time.Second)
		wantError(t, d.poll(d.photo, dc), 400, "invalid_grant")
	})

	t.Run("RFC8628_3.5/single_use_a_second_redemption_revokes_the_first", func(t *testing.T) {
		dc, uc := d.startDevice(d.tv, "notes.read offline_access")
		u.approve(uc)
		a := d.poll(d.tv, dc)
		if a.status != http.StatusOK || a.str("refresh_token") == "" {
			t.Fatalf("poll after approval: %d %v", a.status, a.body)
		}
		d.clock.Advance(time.Second)
		wantError(t, d.poll(d.tv, dc), 400, "invalid_grant")
		rt := a.str("refresh_token")
		wantError(t, d.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, &d.tv, false), 400, "invalid_grant")
	})

	t.Run("RFC8628_3.4/another_clients_poll_is_invalid_grant_and_changes_nothing", func(t *testing.T) {
		other := testClient{id: "notes-tv-2"}
		d.mustCreateClient(store.Client{ID: other.id, Name: "Another TV app", Public: true,
			GrantTypes: []string{oauth.GrantDeviceCode}, Scopes: []string{"notes.read"}})
		dc, uc := d.startDevice(d.tv, "notes.read")
		wantError(t, d.poll(other, dc), 400, "invalid_grant")
		// The rightful device's first poll is not made "too soon" by it.
		wantError(t, d.poll(d.tv, dc), 400, "authorization_pending")
		u.approve(uc)
		d.clock.Advance(time.Second)
		wantError(t, d.poll(other, dc), 400, "invalid_grant")
		if a := d.poll(d.tv, dc); a.status != http.StatusOK {
			t.Fatalf("the rightful client after another's poll: %d %v", a.status, a.body)
		}
	})

	t.Run("RFC8628_3.4/malformed_device_codes", func(t *testing.T) {
		wantError(t, d.poll(d.tv, ""), 400, "invalid_request")
		wantError(t, d.poll(d.tv, "lk_ac_"+strings.Repeat("A", 43)), 400, "invalid_grant")
		wantError(t, d.poll(d.tv, "lk_dc_"+strings.Repeat("A", 43)), 400, "invalid_grant")
		// The grant type needs the client's registration.
		wantError(t, d.postToken(url.Values{"grant_type": {oauth.GrantDeviceCode}, "device_code": {"x"}}, &d.web, true), 400, "unauthorized_client")
	})

	t.Run("RFC8628_3.5/a_revoked_grant_issues_nothing", func(t *testing.T) {
		dc, uc := d.startDevice(d.photo, "photos.read")
		u.approve(uc)
		g, err := d.store.FindGrant(ctx, "u1", d.photo.id)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.store.RevokeGrant(ctx, g.ID, d.clock.Now()); err != nil {
			t.Fatal(err)
		}
		wantError(t, d.poll(d.photo, dc), 400, "invalid_grant")
	})
}

func TestRFC8628_DevicePage(t *testing.T) {
	d := newDeviceEnv(t, "sqlite")
	ctx := context.Background()

	t.Run("RFC8628_3.3/signing_in_returns_to_the_page_with_the_code", func(t *testing.T) {
		_, uc := d.startDevice(d.tv, "notes.read")
		b := d.browser()
		b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := b.Get(d.issuer + "/device?user_code=" + url.QueryEscape(uc))
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/login?") {
			t.Fatalf("without a session: %d to %q, want the sign-in page", resp.StatusCode, loc)
		}
		b.CheckRedirect = nil
		resp, err = b.Get(d.issuer + loc)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		m := csrfRe.FindStringSubmatch(body)
		if m == nil || !strings.Contains(body, `name="user_code" value="`+uc+`"`) || !strings.Contains(body, "connect a device") {
			t.Fatalf("sign-in page for the device:\n%s", body)
		}
		resp, err = b.PostForm(d.issuer+"/login", url.Values{"csrf_token": {m[1]}, "continue": {"device"}, "user_code": {uc},
			"username": {d.user}, "password": {d.pass}})
		if err != nil {
			t.Fatal(err)
		}
		body = readBody(t, resp)
		if resp.Request.URL.Path != "/device" || !strings.Contains(body, `id="user_code"`) || !strings.Contains(body, `value="`+uc+`"`) {
			t.Fatalf("after sign-in: %s\n%s", resp.Request.URL, body)
		}
		// Only the device page may be named: any other continue goes to
		// the account page (no open redirect).
		b2 := d.browser()
		resp, _ = b2.Get(d.issuer + "/login?continue=https://evil.example/")
		m = csrfRe.FindStringSubmatch(readBody(t, resp))
		resp, err = b2.PostForm(d.issuer+"/login", url.Values{"csrf_token": {m[1]}, "continue": {"https://evil.example/"},
			"username": {d.user}, "password": {d.pass}})
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.Request.URL.Path != "/account" {
			t.Fatalf("continue to elsewhere landed on %s", resp.Request.URL)
		}
	})

	t.Run("RFC8628_6.1/user_code_is_case_and_dash_insensitive", func(t *testing.T) {
		u := d.signedInBrowser("198.51.100.20")
		_, uc := d.startDevice(d.tv, "notes.read")
		plain := strings.ReplaceAll(uc, "-", "")
		for _, typed := range []string{strings.ToLower(uc), plain, strings.ToLower(plain[:3]) + " " + plain[3:6] + " - " + plain[6:], " " + uc + "\t"} {
			resp, body := u.enter(typed)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Connect Notes for TV?") || !strings.Contains(body, `name="user_code" value="`+uc+`"`) {
				t.Fatalf("typed %q: %d\n%s", typed, resp.StatusCode, body)
			}
		}
		// A near miss is a wrong code, never corrected to the right one.
		near := "B" + uc[1:]
		if near == uc {
			near = "C" + uc[1:]
		}
		if resp, _ := u.enter(near); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("typed %q: %d, want 400", near, resp.StatusCode)
		}
	})

	t.Run("RFC8628_3.3/the_confirmation_shows_who_asks_and_warns", func(t *testing.T) {
		u := d.signedInBrowser("198.51.100.21")
		_, uc := d.startDevice(d.tv, "openid notes.read notes.write")
		_, body := u.enter(uc)
		for _, want := range []string{
			"Notes for TV", "NotesTV on a TV", "Read your notes", "Create, change and delete your notes",
			`data-required="openid"`, `name="lifetime"`, `value="allow"`, `value="deny"`, "data-warning", "someone sent you",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("confirmation lacks %q", want)
			}
		}
		// Unticked notes.write is not granted; the next code's page shows
		// notes.read as granted, not asked again.
		u.approve(uc, "notes.write")
		_, uc2 := d.startDevice(d.tv, "notes.read notes.write")
		_, body = u.enter(uc2)
		if !strings.Contains(body, `data-granted="notes.read"`) || strings.Contains(body, `data-granted="notes.write"`) ||
			!strings.Contains(body, `name="scope" value="notes.write"`) {
			t.Fatalf("second confirmation:\n%s", body)
		}
	})

	t.Run("RFC6749_10.12/decisions_need_the_browsers_CSRF_token", func(t *testing.T) {
		u := d.signedInBrowser("198.51.100.22")
		dc, uc := d.startDevice(d.tv, "notes.read")
		other := d.signedInBrowser("198.51.100.23")
		for name, token := range map[string]string{"none": "", "another_browsers": other.csrf, "forged": "x" + u.csrf} {
			form := url.Values{"user_code": {uc}, "decision": {"allow"}, "lifetime": {"forever"}, "scope": {"notes.read"}}
			if token != "" {
				form.Set("csrf_token", token)
			}
			if resp, _ := u.postForm("/device", form); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("%s token: %d, want 403", name, resp.StatusCode)
			}
		}
		got, err := d.store.GetDeviceCode(ctx, secret.Hash(dc))
		if err != nil || got.Status != store.DeviceCodePending {
			t.Fatalf("after refused posts: %+v %v", got, err)
		}
		// A GET with the decision does nothing either.
		u.get("/device?user_code=" + url.QueryEscape(uc) + "&decision=allow")
		if got, _ := d.store.GetDeviceCode(ctx, secret.Hash(dc)); got.Status != store.DeviceCodePending {
			t.Fatalf("a GET decided the code: %+v", got)
		}
	})

	t.Run("RFC8628_5.1/guessing_is_throttled", func(t *testing.T) {
		u := d.signedInBrowser("203.0.113.9")
		_, uc := d.startDevice(d.tv, "notes.read")
		wrong := "BBBB-BBBB"
		if wrong == uc {
			wrong = "CCCC-CCCC"
		}
		for i := range 5 {
			if resp, _ := u.enter(wrong); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("wrong code %d: %d, want 400", i+1, resp.StatusCode)
			}
		}
		resp, body := u.enter(wrong)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "too many wrong codes") {
			t.Fatalf("sixth wrong code: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		// Locked out: even the right code waits, from this address.
		if resp, _ := u.enter(uc); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("right code from the locked address: %d, want 429", resp.StatusCode)
		}
		// Malformed input names no code and costs nothing.
		if resp, body := u.enter("hello"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "8 letters") {
			t.Fatalf("malformed code: %d", resp.StatusCode)
		}
		// Another address is not affected; after the window this one
		// may try again.
		if resp, _ := d.signedInBrowser("203.0.113.10").enter(uc); resp.StatusCode != http.StatusOK {
			t.Fatalf("right code from another address: %d", resp.StatusCode)
		}
		d.clock.Advance(time.Minute)
		if resp, _ := u.enter(uc); resp.StatusCode != http.StatusOK {
			t.Fatalf("right code a minute later: %d", resp.StatusCode)
		}
	})

	t.Run("RFC8628_5.1/one_account_guessing_from_many_addresses_is_throttled", func(t *testing.T) {
		d.clock.Advance(time.Minute)
		_, uc := d.startDevice(d.tv, "notes.read")
		wrong := "DDDD-DDDD"
		if wrong == uc {
			wrong = "FFFF-FFFF"
		}
		for i := range 11 {
			// Two wrong codes per address: no address reaches its limit.
			u := d.signedInBrowser(fmt.Sprintf("203.0.114.%d", 1+i/2))
			resp, _ := u.enter(wrong)
			want := http.StatusBadRequest
			if i == 10 {
				want = http.StatusTooManyRequests
			}
			if resp.StatusCode != want {
				t.Fatalf("wrong code %d of one account: %d, want %d", i+1, resp.StatusCode, want)
			}
		}
	})

	t.Run("every_device_page_refuses_framing", func(t *testing.T) {
		u := d.signedInBrowser("198.51.100.30")
		resp, _ := u.get("/device")
		if resp.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Fatalf("headers %v", resp.Header)
		}
		resp, body := u.get("/device?user_code=" + url.QueryEscape(`"><script>alert(1)</script>`))
		if resp.StatusCode != http.StatusOK || strings.Contains(body, "<script>alert") || !strings.Contains(body, html.EscapeString(`"><script>`)) {
			t.Fatalf("the typed code is not escaped: %d\n%s", resp.StatusCode, body)
		}
	})
}
