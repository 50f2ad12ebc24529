package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// env is a running Latchkey with a real store, a test clock, one user and
// two clients: a confidential web app and a public native app.
type env struct {
	t       testing.TB
	srv     *httptest.Server
	server  *server.Server
	logs    *syncBuffer
	svc     testClient // confidential, client_credentials, JWT access tokens
	opaque  testClient // confidential, client_credentials, opaque access tokens
	app     testClient // first-party, password + refresh_token
	spa     testClient // public, implicit
	api     testClient // a resource server ("notes-api", in the audience)
	store   store.Store
	clock   *clock
	issuer  string
	web     testClient // confidential, authorization_code + refresh_token
	native  testClient // public, loopback redirect
	user    string
	pass    string
	backend string
}

type testClient struct {
	id, secret, redirect string
}

const (
	testUser     = "alice"
	testPassword = "correct horse battery staple"
	webRedirect  = "https://print.example/callback"
)

// newEnv starts Latchkey on backend. Logs go to the test log on failure only.
func newEnv(t testing.TB, backend string) *env {
	t.Helper()
	return newEnvOn(t, backend, dbtest.Open(t, backend))
}

// newEnvWithScopes starts Latchkey on SQLite with its own scope registry.
func newEnvWithScopes(t testing.TB, scopes []config.Scope) *env {
	t.Helper()
	return newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) { c.Scopes = scopes })
}

// newEnvOn starts Latchkey on an open store.
func newEnvOn(t testing.TB, backend string, st store.Store) *env {
	t.Helper()
	return newEnvConfig(t, backend, st, nil)
}

// newEnvConfig starts Latchkey on an open store, with edit applied to the
// configuration.
func newEnvConfig(t testing.TB, backend string, st store.Store, edit func(*config.Config)) *env {
	t.Helper()
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	e := &env{t: t, store: st, clock: clk, backend: backend, user: testUser, pass: testPassword}
	ctx := context.Background()

	cfg := config.Default()
	cfg.SystemSecret = strings.Repeat("k", 32)
	srv := httptest.NewUnstartedServer(nil)
	e.issuer = "http://" + srv.Listener.Addr().String()
	cfg.Issuer = e.issuer
	cfg.Tokens.Audience = []string{e.issuer, "notes-api"}
	if edit != nil {
		edit(&cfg)
	}
	e.logs = &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := server.New(server.Options{Config: cfg, Store: st, Logger: logger, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.server = s
	srv.Config.Handler = s.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	e.srv = srv

	now := clk.Now()
	if err := st.CreateUser(ctx, store.User{ID: "u1", Username: testUser, PasswordHash: secret.HashPassword(testPassword), Name: "Alice", Email: "alice@example.com", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	sec, hash := oauth.NewClientSecret()
	e.web = testClient{id: "cloud-print", secret: sec.String(), redirect: webRedirect}
	e.mustCreateClient(store.Client{
		ID: e.web.id, SecretHash: hash, Name: "Cloud Print",
		RedirectURIs: []string{webRedirect, "https://print.example/other"},
		GrantTypes:   []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		Scopes:       []string{"openid", "profile", "photos.read", "notes.read", "offline_access"},
	})
	e.native = testClient{id: "notes-phone", redirect: "http://127.0.0.1/cb"}
	e.mustCreateClient(store.Client{
		ID: e.native.id, Name: "Notes for phone", Public: true,
		RedirectURIs: []string{"http://127.0.0.1/cb"},
		GrantTypes:   []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		Scopes:       []string{"notes.read", "notes.write", "offline_access"},
	})
	e.svc = e.confidential("photo-indexer", oauth.GrantClientCredentials)
	e.opaque = e.confidential("backup-job", oauth.GrantClientCredentials)
	e.app = e.confidential("notes-desktop", oauth.GrantPassword, oauth.GrantRefreshToken)
	e.api = e.confidential("notes-api", oauth.GrantClientCredentials)
	e.spa = testClient{id: "photos-spa", redirect: "https://spa.example/cb"}
	e.mustCreateClient(store.Client{
		ID: e.spa.id, Name: "Photos in the browser", Public: true, RedirectURIs: []string{e.spa.redirect},
		GrantTypes: []string{oauth.GrantImplicit}, Scopes: []string{"photos.read", "notes.read"},
	})
	return e
}

// strictRefresh configures strict refresh rotation: any presentation of a
// rotated refresh token is reuse (tokens.refresh_reuse_grace 0).
func strictRefresh(c *config.Config) { c.Tokens.RefreshReuseGrace = 0 }

// confidential registers a client with a generated secret for grant types.
func (e *env) confidential(id string, grants ...string) testClient {
	e.t.Helper()
	sec, hash := oauth.NewClientSecret()
	c := store.Client{ID: id, SecretHash: hash, Name: id, GrantTypes: grants, Scopes: []string{"notes.read", "photos.read", "offline_access"}}
	if id == "backup-job" {
		c.AccessTokenFormat = oauth.FormatOpaque
	}
	e.mustCreateClient(c)
	return testClient{id: id, secret: sec.String()}
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (e *env) mustCreateClient(c store.Client) {
	e.t.Helper()
	now := e.clock.Now()
	c.CreatedAt, c.UpdatedAt = now, now
	if err := oauth.ValidateClient(c, oauth.NewScopes(config.DefaultScopes)); err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.CreateClient(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
}

// browser is an HTTP client with a cookie jar that stops at any redirect
// leaving Latchkey, as a user agent handing the response to a client would.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar: jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if !strings.HasPrefix(req.URL.String(), e.issuer+"/") {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

// noRedirects is an HTTP client that never follows redirects.
func noRedirects(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var hiddenRe = regexp.MustCompile(`name="(csrf_token|request)" value="([^"]*)"`)

// formFields returns the hidden csrf_token and request fields of a page.
func formFields(t testing.TB, body string) (csrf, request string) {
	t.Helper()
	for _, m := range hiddenRe.FindAllStringSubmatch(body, -1) {
		switch m[1] {
		case "csrf_token":
			csrf = m[2]
		case "request":
			request = m[2]
		}
	}
	if csrf == "" || request == "" {
		t.Fatalf("page has no csrf_token or request field:\n%s", body)
	}
	return csrf, request
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// authorize runs the browser part of the code flow: GET authURL, sign in,
// allow every requested scope, and returns the final redirect to the client.
func (e *env) authorize(b *http.Client, authURL string) *url.URL {
	e.t.Helper()
	resp, err := b.Get(authURL)
	if err != nil {
		e.t.Fatal(err)
	}
	body := readBody(e.t, resp)
	if resp.Request.URL.Path == "/login" {
		csrf, req := formFields(e.t, body)
		resp, err = b.PostForm(e.issuer+"/login", url.Values{"csrf_token": {csrf}, "request": {req}, "username": {e.user}, "password": {e.pass}})
		if err != nil {
			e.t.Fatal(err)
		}
		body = readBody(e.t, resp)
	}
	if resp.Request.URL.Path == "/consent" {
		csrf, req := formFields(e.t, body)
		form := url.Values{"csrf_token": {csrf}, "request": {req}, "decision": {"allow"}, "lifetime": {"forever"}}
		for _, m := range regexp.MustCompile(`name="scope" value="([^"]+)"`).FindAllStringSubmatch(body, -1) {
			form.Add("scope", m[1])
		}
		resp, err = b.PostForm(e.issuer+"/consent", form)
		if err != nil {
			e.t.Fatal(err)
		}
		readBody(e.t, resp)
	}
	loc, err := resp.Location()
	if err != nil {
		e.t.Fatalf("no redirect to the client: status %d at %s", resp.StatusCode, resp.Request.URL)
	}
	return loc
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
