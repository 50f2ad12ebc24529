package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// newEnvBehindProxy starts Latchkey behind a TLS proxy on loopback: every
// request comes from 127.0.0.1, and X-Forwarded-For names the client.
func newEnvBehindProxy(t *testing.T) *env {
	return newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) {
		c.Server.TrustedProxies = []string{"127.0.0.0/8"}
	})
}

// from sends req as if the proxy forwarded it for client address addr.
func (e *env) from(addr string, req *http.Request) tokenAnswer {
	e.t.Helper()
	req.Header.Set("X-Forwarded-For", addr)
	return e.doToken(req)
}

func (e *env) passwordGrant(addr, username, password string) tokenAnswer {
	e.t.Helper()
	return e.from(addr, e.formRequest("/token", url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}, &e.app))
}

// signInPage posts the login page from a browser at addr and returns the
// status of the answer.
func (e *env) signInPage(addr, username, password string) int {
	e.t.Helper()
	b := e.browser()
	get, _ := http.NewRequest(http.MethodGet, e.issuer+"/account", nil)
	get.Header.Set("X-Forwarded-For", addr)
	resp, err := b.Do(get)
	if err != nil {
		e.t.Fatal(err)
	}
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(readBody(e.t, resp))
	if m == nil {
		e.t.Fatalf("no sign-in form at %s", resp.Request.URL)
	}
	csrf := m[1]
	post, _ := http.NewRequest(http.MethodPost, e.issuer+"/login",
		strings.NewReader(url.Values{"csrf_token": {csrf}, "username": {username}, "password": {password}}.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	post.Header.Set("X-Forwarded-For", addr)
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = b.Do(post)
	if err != nil {
		e.t.Fatal(err)
	}
	readBody(e.t, resp)
	return resp.StatusCode
}

// TestRFC9700_4_13_ThrottlesBehindATrustedProxy: behind a proxy every user
// shares its address, so the throttles must key on the client the proxy
// names, and count failures only. (Keyed on the peer, 20 failures by anyone
// once locked every user out, and 21 sign-ins locked out the 21st.)
func TestRFC9700_4_13_ThrottlesBehindATrustedProxy(t *testing.T) {
	e := newEnvBehindProxy(t)
	ctx := context.Background()
	now := e.clock.Now()
	if err := e.store.CreateUser(ctx, store.User{ID: "u2", Username: "bob", PasswordHash: secret.HashPassword("bob's long password"), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	const attacker, user, other = "203.0.113.66", "198.51.100.7", "192.0.2.44"

	t.Run("20_failures_from_one_forwarded_address_lock_out_no_other_address_or_user", func(t *testing.T) {
		for i := range 20 {
			a := e.passwordGrant(attacker, fmt.Sprintf("user%d", i), "wrong password")
			wantError(t, a, http.StatusBadRequest, "invalid_grant")
		}
		wantError(t, e.passwordGrant(attacker, "bob", "bob's long password"), http.StatusTooManyRequests, "invalid_grant")
		if a := e.passwordGrant(user, testUser, testPassword); a.status != 200 {
			t.Fatalf("another user at another address: %d %v", a.status, a.body)
		}
		if a := e.passwordGrant(other, "bob", "bob's long password"); a.status != 200 {
			t.Fatalf("bob at a third address: %d %v", a.status, a.body)
		}
		if got := e.signInPage(user, testUser, testPassword); got != http.StatusSeeOther && got != http.StatusFound {
			t.Fatalf("the login page at another address answered %d", got)
		}
		if got := e.signInPage(attacker, testUser, testPassword); got != http.StatusTooManyRequests {
			t.Fatalf("the login page at the attacker's address answered %d, want 429", got)
		}
	})

	t.Run("sign-ins_are_not_failures:_30_from_one_address_all_succeed", func(t *testing.T) {
		for i := range 30 {
			if a := e.passwordGrant(user, testUser, testPassword); a.status != 200 {
				t.Fatalf("sign-in %d: %d %v", i+1, a.status, a.body)
			}
		}
	})

	t.Run("guessing_one_account_from_one_address_never_locks_its_user_out_elsewhere", func(t *testing.T) {
		for range 30 {
			e.clock.Advance(5 * time.Second)
			e.passwordGrant(attacker+"1", "bob", "guess")
		}
		if a := e.passwordGrant(other, "bob", "bob's long password"); a.status != 200 {
			t.Fatalf("bob elsewhere after 30 guesses from one address: %d %v", a.status, a.body)
		}
	})

	t.Run("an_accounts_failures_space_out_then_lock_that_address", func(t *testing.T) {
		addr := "203.0.113.200"
		for range 3 {
			wantError(t, e.passwordGrant(addr, "bob", "guess"), http.StatusBadRequest, "invalid_grant")
		}
		// After 3 failures the next attempt waits a second, even the right one.
		a := e.passwordGrant(addr, "bob", "guess")
		wantError(t, a, http.StatusTooManyRequests, "invalid_grant")
		if a.header.Get("Retry-After") != "1" {
			t.Fatalf("Retry-After %q, want 1", a.header.Get("Retry-After"))
		}
		e.clock.Advance(time.Second)
		wantError(t, e.passwordGrant(addr, "bob", "guess"), http.StatusBadRequest, "invalid_grant")
		// Now two seconds.
		e.clock.Advance(time.Second)
		wantError(t, e.passwordGrant(addr, "bob", "guess"), http.StatusTooManyRequests, "invalid_grant")
		e.clock.Advance(time.Second)
		wantError(t, e.passwordGrant(addr, "bob", "guess"), http.StatusBadRequest, "invalid_grant")
		// Five failures: locked for the rest of the 15 minutes.
		e.clock.Advance(time.Minute)
		wantError(t, e.passwordGrant(addr, "bob", "bob's long password"), http.StatusTooManyRequests, "invalid_grant")
		e.clock.Advance(15 * time.Minute)
		if a := e.passwordGrant(addr, "bob", "bob's long password"); a.status != 200 {
			t.Fatalf("after the window: %d %v", a.status, a.body)
		}
	})

	t.Run("a_distributed_guess_locks_the_account_for_everyone", func(t *testing.T) {
		for i := range 100 {
			e.passwordGrant(fmt.Sprintf("203.0.114.%d", i), testUser, "guess")
		}
		wantError(t, e.passwordGrant("192.0.2.99", testUser, testPassword), http.StatusTooManyRequests, "invalid_grant")
		e.clock.Advance(16 * time.Minute)
		if a := e.passwordGrant("192.0.2.99", testUser, testPassword); a.status != 200 {
			t.Fatalf("after the window: %d %v", a.status, a.body)
		}
	})

	t.Run("20_wrong_secrets_for_a_client_id_do_not_stop_the_client", func(t *testing.T) {
		bad := testClient{id: e.svc.id, secret: "lk_cs_guess"}
		cc := url.Values{"grant_type": {"client_credentials"}}
		for range 20 {
			wantError(t, e.from(attacker, e.formRequest("/token", cc, &bad)), http.StatusUnauthorized, "invalid_client")
		}
		wantError(t, e.from(attacker, e.formRequest("/token", cc, &e.svc)), http.StatusTooManyRequests, "invalid_client")
		tok := e.from(user, e.formRequest("/token", cc, &e.svc))
		if tok.status != 200 {
			t.Fatalf("the client's own /token: %d %v", tok.status, tok.body)
		}
		if a := e.from(user, e.formRequest("/introspect", url.Values{"token": {tok.str("access_token")}}, &e.svc)); a.status != 200 {
			t.Fatalf("the client's own /introspect: %d %v", a.status, a.body)
		}
		req := e.formRequest("/revoke", url.Values{"token": {tok.str("access_token")}}, &e.svc)
		req.Header.Set("X-Forwarded-For", user)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); resp.StatusCode != 200 {
			t.Fatalf("the client's own /revoke: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("the_clients_own_calls_never_use_up_its_budget", func(t *testing.T) {
		cc := url.Values{"grant_type": {"client_credentials"}}
		for i := range 40 {
			if a := e.from(user, e.formRequest("/token", cc, &e.opaque)); a.status != 200 {
				t.Fatalf("call %d: %d %v", i+1, a.status, a.body)
			}
		}
	})

	t.Run("under_attack_from_many_addresses_the_client_still_gets_in", func(t *testing.T) {
		bad := testClient{id: e.opaque.id, secret: "lk_cs_guess"}
		cc := url.Values{"grant_type": {"client_credentials"}}
		for i := range 120 {
			e.from(fmt.Sprintf("203.0.115.%d", i), e.formRequest("/token", cc, &bad))
		}
		// An attacking address is refused before any check...
		wantError(t, e.from("203.0.115.1", e.formRequest("/token", cc, &e.opaque)), http.StatusTooManyRequests, "invalid_client")
		// ...the client, which has not been failing, is not.
		if a := e.from("192.0.2.200", e.formRequest("/token", cc, &e.opaque)); a.status != 200 {
			t.Fatalf("the client during the attack: %d %v", a.status, a.body)
		}
	})
}

// TestRFC9700_4_13_UntrustedForwardedForIsIgnored: without a trusted proxy
// (or from a peer that is not one), X-Forwarded-For is the client's own
// claim, and rotating it does not escape the throttle (SECURITY.md B1c).
func TestRFC9700_4_13_UntrustedForwardedForIsIgnored(t *testing.T) {
	for name, proxies := range map[string][]string{"no_trusted_proxy": nil, "peer_not_a_trusted_proxy": {"10.0.0.0/8"}} {
		t.Run(name, func(t *testing.T) {
			e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) { c.Server.TrustedProxies = proxies })
			for i := range 20 {
				wantError(t, e.passwordGrant(fmt.Sprintf("203.0.113.%d", i), fmt.Sprintf("user%d", i), "guess"), http.StatusBadRequest, "invalid_grant")
			}
			wantError(t, e.passwordGrant("198.51.100.1", testUser, testPassword), http.StatusTooManyRequests, "invalid_grant")
			if !strings.Contains(e.logs.String(), "client=127.0.0.1") {
				t.Fatal("the log does not name the address the throttle used (127.0.0.1)")
			}
		})
	}
}

// TestRFC6749_2_3_1_ImportedSecretGuessesAreBounded: a client secret
// imported from elsewhere is checked with argon2id (about 19 MiB per
// check). 100 parallel wrong secrets must cost at most the failure limit
// in hashes, reserved before any hash, never more than the hash gate's
// slots at once, and bounded memory. (Counted after the hash, unbounded:
// 60 guesses took the server from 39 MB to 1.19 GB.)
func TestRFC6749_2_3_1_ImportedSecretGuessesAreBounded(t *testing.T) {
	e := newEnv(t, "sqlite")
	e.mustCreateClient(store.Client{ID: "legacy-batch", SecretHash: secret.HashImportedSecret("an imported secret"), Name: "Legacy batch",
		GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"notes.read"}})
	imported := testClient{id: "legacy-batch", secret: "an imported secret"}
	if a := e.postToken(url.Values{"grant_type": {"client_credentials"}}, &imported, true); a.status != 200 {
		t.Fatalf("the imported secret: %d %v", a.status, a.body)
	}

	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	base := memoryInUse()
	go func() {
		defer close(sampled)
		for {
			if m := memoryInUse(); m > peak.Load() {
				peak.Store(m)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	statuses := make(map[int]int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 100 {
		wg.Go(func() {
			<-start
			req := e.formRequest("/token", url.Values{"grant_type": {"client_credentials"}}, &testClient{id: imported.id, secret: fmt.Sprintf("guess %d", i)})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			var body map[string]any
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
			if resp.StatusCode == 503 && body["error"] != "temporarily_unavailable" {
				t.Errorf("503 with %v, want temporarily_unavailable", body)
			}
		})
	}
	close(start)
	wg.Wait()
	close(done)
	<-sampled
	// A 401 is the only answer given after a hash; 429 and 503 come before.
	if statuses[401] > 20 || statuses[401]+statuses[429]+statuses[503] != 100 {
		t.Fatalf("statuses %v: want at most 20 checks (401), the rest 429 or 503", statuses)
	}
	if grew := int64(peak.Load()) - int64(base); grew > 200<<20 {
		t.Fatalf("memory grew by %d MiB during the guesses, want under 200 MiB", grew>>20)
	}
	t.Logf("statuses %v; memory grew by at most %d MiB", statuses, (int64(peak.Load())-int64(base))>>20)
}

// memoryInUse is the memory the Go runtime holds from the OS.
func memoryInUse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestRFC9700_4_13_AnonymousAuthorizeRequestsAreBounded: every GET
// /authorize with a valid client id stores a pending request, written for
// anyone. 10,000 of them from one address leave at most the per-minute
// limit (300) of rows; the rest are answered 429 with Retry-After, before any
// write. (Unbounded, 2,000 requests wrote 2,000 rows in 3 s, kept forever.)
func TestRFC9700_4_13_AnonymousAuthorizeRequestsAreBounded(t *testing.T) {
	dsn := dbtest.DSN(t, "sqlite")
	st, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, "sqlite", st)
	authURL := e.issuer + "/authorize?" + e.authorizeQuery().Encode()
	statuses := make(map[int]int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan struct{}, 10000)
	for range 10000 {
		next <- struct{}{}
	}
	close(next)
	for range 16 {
		wg.Go(func() {
			c := noRedirects(nil)
			for range next {
				resp, err := c.Get(authURL)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
				if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
			}
		})
	}
	wg.Wait()
	if statuses[http.StatusFound]+statuses[http.StatusSeeOther] != 300 || statuses[429] != 10000-300 {
		t.Fatalf("statuses %v: want 300 sign-in redirects and the rest 429", statuses)
	}
	raw, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow("SELECT COUNT(*) FROM auth_requests").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n > 300 {
		t.Fatalf("%d pending requests stored, want at most 300", n)
	}
	// Another address is not affected.
	resp, err := fromAddress("127.0.0.2").Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.Request.URL.Path != "/login" {
		t.Fatalf("another address landed on %s (%d)", resp.Request.URL, resp.StatusCode)
	}
}

// TestRFC6749_2_3_1_ThrottlesAreSharedAcrossNodes: nodes sharing a
// PostgreSQL database share their failure counters (batched, once a
// second), so guessing spread over the nodes meets the same limits. On
// SQLite, which serves one node, the counters stay in memory.
func TestRFC6749_2_3_1_ThrottlesAreSharedAcrossNodes(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			a := newEnv(t, backend)
			cfg := config.Default()
			cfg.SystemSecret = strings.Repeat("k", 32)
			cfg.Issuer = a.issuer
			cfg.Tokens.Audience = []string{a.issuer, "notes-api"}
			nodeB, err := server.New(server.Options{Config: cfg, Store: a.store, Logger: slog.New(slog.DiscardHandler), Now: a.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			srvB := httptest.NewServer(nodeB.Handler())
			t.Cleanup(srvB.Close)
			atB := func(path string, form url.Values, c *testClient) tokenAnswer {
				req := a.formRequest(path, form, c)
				req.URL, _ = url.Parse(srvB.URL + path)
				return a.doToken(req)
			}
			sync := func() {
				t.Helper()
				for _, s := range []*server.Server{a.server, nodeB, a.server} {
					if err := s.SyncThrottles(t.Context()); err != nil {
						t.Fatal(err)
					}
				}
			}
			shared := backend == "postgres"

			cc := url.Values{"grant_type": {"client_credentials"}}
			bad := testClient{id: a.svc.id, secret: "lk_cs_guess"}
			for range 20 {
				wantError(t, a.postToken(cc, &bad, true), http.StatusUnauthorized, "invalid_client")
			}
			wantError(t, a.postToken(cc, &a.svc, true), http.StatusTooManyRequests, "invalid_client")
			sync()
			if got := atB("/token", cc, &bad); shared {
				wantError(t, got, http.StatusTooManyRequests, "invalid_client")
			} else {
				wantError(t, got, http.StatusUnauthorized, "invalid_client")
			}

			guess := url.Values{"grant_type": {"password"}, "username": {testUser}, "password": {"guess"}}
			for range 3 {
				wantError(t, a.postToken(guess, &a.app, true), http.StatusBadRequest, "invalid_grant")
			}
			a.clock.Advance(time.Second)
			wantError(t, atB("/token", guess, &a.app), http.StatusBadRequest, "invalid_grant")
			sync()
			// B knows of A's failures: 4 now, so its next attempt waits 2 s.
			a.clock.Advance(time.Second)
			if got := atB("/token", guess, &a.app); shared {
				wantError(t, got, http.StatusTooManyRequests, "invalid_grant")
			} else {
				wantError(t, got, http.StatusBadRequest, "invalid_grant")
			}
		})
	}
}
