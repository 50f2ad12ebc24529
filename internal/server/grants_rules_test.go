package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// TestRFC6749_4_3_PasswordSignInsShareOneGrant: a password sign-in is the
// user's consent and is recorded as a grant; signing in again with scopes
// the grant covers reuses it, so the user sees and revokes the app once.
func TestRFC6749_4_3_PasswordSignInsShareOneGrant(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			form := url.Values{"grant_type": {"password"}, "username": {testUser}, "password": {testPassword}, "scope": {"notes.read"}}
			for i := range 3 {
				if a := e.postToken(form, &e.app, true); a.status != 200 {
					t.Fatalf("sign-in %d: %d %v", i+1, a.status, a.body)
				}
			}
			grants, err := e.store.ListGrantsByUser(context.Background(), "u1")
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, g := range grants {
				if g.ClientID == e.app.id {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("three password sign-ins with one scope made %d grants, want 1", n)
			}
		})
	}
}

// TestRFC9068_3_AudienceDefaultsToTheIssuer: with no audience configured,
// a JWT access token's aud is the issuer.
func TestRFC9068_3_AudienceDefaultsToTheIssuer(t *testing.T) {
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) { c.Tokens.Audience = nil })
	tok, err := e.ccConfig(e.svc, "photos.read").Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c := e.verifyJWT(tok.AccessToken); len(c.Audience) != 1 || c.Audience[0] != e.issuer {
		t.Fatalf("aud %v, want [%s]", c.Audience, e.issuer)
	}
}

// TestOIDCCore_5_5_ClaimsRequestFillsTheIDToken: a claims request for an
// ID token claim releases it in the ID token, without the scope that would
// release it otherwise.
func TestOIDCCore_5_5_ClaimsRequestFillsTheIDToken(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	rp := e.oidcClient("rp", nil)
	p := e.provider(ctx)
	conf := e.rpConfig(p, rp, "openid")
	idt, _ := e.signIn(ctx, e.browser(), p, conf, authParam("claims", `{"id_token":{"email":{"essential":true}}}`))
	if c := claimsOf(t, idt); c.Email != "alice@example.com" {
		t.Fatalf("email %q, want the user's", c.Email)
	}
	idt, _ = e.signIn(ctx, e.browser(), p, conf)
	if c := claimsOf(t, idt); c.Email != "" {
		t.Fatalf("email %q without the email scope or a claims request", c.Email)
	}
}

// flakyTokens is the store with token reads failing while down is set.
type flakyTokens struct {
	store.Store
	mu   sync.Mutex
	down bool
}

func (s *flakyTokens) setDown(v bool) { s.mu.Lock(); s.down = v; s.mu.Unlock() }

func (s *flakyTokens) GetToken(ctx context.Context, hash string) (store.Token, error) {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return store.Token{}, errors.New("connection refused")
	}
	return s.Store.GetToken(ctx, hash)
}

func (s *flakyTokens) GetTokenWithGrant(ctx context.Context, hash string) (store.Token, store.Grant, error) {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return store.Token{}, store.Grant{}, errors.New("connection refused")
	}
	return s.Store.GetTokenWithGrant(ctx, hash)
}

// TestRFC6749_5_2_RefreshDuringAStoreFailureIsRetryable: while the
// database cannot be read, a refresh is answered 503 temporarily_unavailable
// (RFC 6749 §4.1.2.1's code for a passing failure), not invalid_grant,
// which tells the client to drop a refresh token that is still good; the
// token refreshes once the database is back.
func TestRFC6749_5_2_RefreshDuringAStoreFailureIsRetryable(t *testing.T) {
	st := &flakyTokens{Store: dbtest.Open(t, "sqlite")}
	e := newEnvOn(t, "sqlite", st)
	rt := e.redeem(e.codeFor(e.browser(), "notes.read offline_access", ""), "").str("refresh_token")
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}

	st.setDown(true)
	resp, err := http.DefaultClient.Do(e.formRequest("/token", form, &e.web))
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	var answer struct {
		Error string `json:"error"`
	}
	if err := jsonUnmarshal(body, &answer); err != nil || resp.StatusCode != http.StatusServiceUnavailable || answer.Error != "temporarily_unavailable" {
		t.Fatalf("refresh while the database fails: %d %s", resp.StatusCode, body)
	}
	st.setDown(false)
	if a := e.postToken(form, &e.web, true); a.status != 200 {
		t.Fatalf("refresh after the database is back: %d %v", a.status, a.body)
	}
}

// TestRFC6749_4_3_2_GuessingOverNewConnectionsIsThrottled: password
// guesses are counted per account and address, not per connection: five
// wrong passwords each over a new connection use up the account's budget
// from that address, and the sixth attempt is refused 429 with a
// Retry-After of the whole seconds left in the window, rounded up, after
// which the right password is let through.
func TestRFC6749_4_3_2_GuessingOverNewConnectionsIsThrottled(t *testing.T) {
	e := newEnv(t, "sqlite")
	post := func(password string) tokenAnswer {
		t.Helper()
		form := url.Values{"grant_type": {"password"}, "username": {testUser}, "password": {password}}
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Do(e.formRequest("/token", form, &e.app))
		if err != nil {
			t.Fatal(err)
		}
		a := tokenAnswer{status: resp.StatusCode, header: resp.Header}
		if err := jsonUnmarshal(readBody(t, resp), &a.body); err != nil {
			t.Fatal(err)
		}
		return a
	}
	for i := range 5 {
		if i >= 3 { // past the growing delay: 1 s, then 2 s
			e.clock.Advance(time.Duration(1<<(i-3)) * time.Second)
		}
		wantError(t, post(fmt.Sprintf("guess-%d", i)), 400, "invalid_grant")
	}
	a := post(testPassword)
	wantError(t, a, http.StatusTooManyRequests, "invalid_grant")
	if got := a.header.Get("Retry-After"); got != "897" {
		t.Fatalf("Retry-After %q 3 s into a 15-minute window, want 897", got)
	}
	e.clock.Advance(100*time.Second + 500*time.Millisecond)
	a = post(testPassword)
	if got := a.header.Get("Retry-After"); a.status != http.StatusTooManyRequests || got != "797" {
		t.Fatalf("%d, Retry-After %q with 796.5 s left, want 429 and 797", a.status, got)
	}
	e.clock.Advance(797 * time.Second)
	if a := post(testPassword); a.status != 200 {
		t.Fatalf("after waiting Retry-After: %d %v", a.status, a.body)
	}
}

// TestRFC6749_4_3_2_CredentialLengthLimits: a username of up to 256 bytes
// and a password of up to 1024 bytes are checked; longer ones are refused
// before any hashing, like a wrong password.
func TestRFC6749_4_3_2_CredentialLengthLimits(t *testing.T) {
	e := newEnv(t, "sqlite")
	name, pass := strings.Repeat("u", 256), strings.Repeat("p", 1024)
	now := e.clock.Now()
	if err := e.store.CreateUser(context.Background(), store.User{ID: "u2", Username: name, PasswordHash: secret.HashPassword(pass), Name: "Long", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	signIn := func(username, password string) tokenAnswer {
		return e.postToken(url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}, &e.app, true)
	}
	t.Run("SECURITY_c.6/256_byte_username_and_1024_byte_password_sign_in", func(t *testing.T) {
		if a := signIn(name, pass); a.status != 200 {
			t.Fatalf("%d %v", a.status, a.body)
		}
	})
	t.Run("SECURITY_c.6/a_1025_byte_password_is_invalid_grant", func(t *testing.T) {
		wantError(t, signIn(name, pass+"p"), 400, "invalid_grant")
	})
}
