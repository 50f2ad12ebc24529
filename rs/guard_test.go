package rs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRequireScopes(t *testing.T) {
	iss := newTestIssuer(t)
	raw := iss.token() // notes.read notes.write
	for _, c := range []struct {
		name   string
		scopes []string
		status int
	}{
		{"RFC6750_3.1/no_scope_required", nil, 200},
		{"RFC6750_3.1/held_scope", []string{"notes.read"}, 200},
		{"RFC6750_3.1/all_held_scopes", []string{"notes.write", "notes.read"}, 200},
		{"RFC6750_3.1/one_missing_scope_is_insufficient_scope", []string{"notes.read", "notes.admin"}, 403},
		{"RFC6749_3.3/scopes_are_case_sensitive", []string{"Notes.Read"}, 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			code := ""
			if c.status == 403 {
				code = ErrorInsufficientScope
			}
			wantStatus(t, iss.guard(), bearer(raw), raw, c.status, code, c.scopes...)
		})
	}
}

func TestRequirePanicsOnInvalidScope(t *testing.T) {
	iss := newTestIssuer(t)
	for _, s := range []string{"", "a b", `a"b`, "a\\b"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Require(%q) did not panic", s)
				}
			}()
			iss.guard().Require(s)
		}()
	}
}

func TestContext(t *testing.T) {
	if _, ok := FromContext(context.Background()); ok {
		t.Error("FromContext found a token in an empty context")
	}
	if _, ok := FromContext(NewContext(context.Background(), nil)); ok {
		t.Error("FromContext found a nil token")
	}
	tok := &Token{Subject: "s"}
	if got, ok := FromContext(NewContext(context.Background(), tok)); !ok || got != tok {
		t.Error("FromContext lost the token")
	}
}

func TestVerify(t *testing.T) {
	iss := newTestIssuer(t)
	g := iss.guard()
	if _, err := g.Verify(t.Context(), ""); err.(*Error).Status != 401 || err.(*Error).Code != "" {
		t.Errorf("empty token: %v", err)
	}
	tok, err := g.Verify(t.Context(), iss.token())
	if err != nil || tok == nil {
		t.Errorf("valid token: %v", err)
	}
	if _, err := g.Verify(t.Context(), "x.y.z"); err.(*Error).Code != ErrorInvalidToken {
		t.Errorf("garbage: %v", err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	ok := Config{Issuer: "https://login.example", Resource: testResource}
	for _, c := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"issuer_required", func(c *Config) { c.Issuer = "" }, "Issuer is required"},
		{"resource_required", func(c *Config) { c.Resource = "" }, "Resource is required"},
		{"RFC8414_2/issuer_without_query", func(c *Config) { c.Issuer += "?tenant=1" }, "must not have a query"},
		{"RFC8414_2/issuer_without_fragment", func(c *Config) { c.Issuer += "#x" }, "fragment"},
		{"RFC8707_2/resource_without_fragment", func(c *Config) { c.Resource += "#" }, "fragment"},
		{"RFC8707_2/resource_is_absolute", func(c *Config) { c.Resource = "/notes" }, "absolute"},
		{"issuer_is_http", func(c *Config) { c.Issuer = "ftp://login.example" }, "absolute"},
		{"client_secret_without_id", func(c *Config) { c.ClientSecret = "s" }, "go together"},
		{"check_revocation_needs_credentials", func(c *Config) { c.CheckRevocation = true }, "CheckRevocation"},
		{"RFC6749_3.3/scopes_supported_are_scope_tokens", func(c *Config) { c.ScopesSupported = []string{"a b"} }, "scope-token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.mod(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New: %v, want %q", err, c.want)
			}
		})
	}
	g, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	c := g.cfg
	if c.Realm != testResource || c.Leeway != DefaultLeeway || c.IntrospectionCacheTTL != DefaultIntrospectionCacheTTL ||
		c.CacheSize != DefaultCacheSize || c.JWKSRefreshInterval != DefaultJWKSRefreshInterval ||
		c.HTTPClient == nil || c.HTTPClient.Timeout != DefaultHTTPTimeout || c.Now == nil {
		t.Errorf("defaults: %+v", c)
	}
}

// The default HTTP client follows no redirect: keys and answers come from
// the URLs the issuer named.
func TestDefaultClientFollowsNoRedirect(t *testing.T) {
	iss := newTestIssuer(t)
	redirect := httptest.NewServer(http.RedirectHandler(iss.URL+"/.well-known/oauth-authorization-server", http.StatusFound))
	defer redirect.Close()
	g, err := New(Config{Issuer: redirect.URL, Resource: testResource})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Prefetch(t.Context()); err == nil || iss.metaHits.Load() != 0 {
		t.Errorf("Prefetch: %v, %d fetches at the redirect's target", err, iss.metaHits.Load())
	}
}

// Many requests at once, fresh and reused tokens, JWT and opaque, valid
// and not: the race detector watches, and no goroutine is left behind.
func TestConcurrentUse(t *testing.T) {
	iss := newTestIssuer(t)
	g := iss.guard(func(c *Config) { c.CacheSize = 50 })
	var tokens []string
	for i := range 40 {
		switch i % 4 {
		case 0:
			tokens = append(tokens, iss.token())
		case 1:
			raw := "lk_at_" + randomID()
			iss.answer(raw, iss.activeAnswer())
			tokens = append(tokens, raw)
		case 2:
			tokens = append(tokens, iss.mint(tokenSpec{header: map[string]any{"kid": randomID()}}))
		default:
			tokens = append(tokens, "lk_at_"+randomID())
		}
	}
	before := runtime.NumGoroutine()
	h := g.Require("notes.read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				raw := tokens[(w*7+i)%len(tokens)]
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, bearer(raw))
				want := []int{200, 200, 401, 401}[(w*7+i)%len(tokens)%4]
				if rec.Code != want {
					t.Errorf("token %d: %d, want %d", (w*7+i)%len(tokens), rec.Code, want)
					return
				}
				if i%50 == 0 {
					g.Forget(raw)
				}
			}
		})
	}
	wg.Wait()
	iss.srv.Client().CloseIdleConnections()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after, %d before", n, before)
	}
}
