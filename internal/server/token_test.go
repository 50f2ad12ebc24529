package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// codeFor runs the browser flow for the confidential client and returns a
// fresh code. verifier "" means no PKCE.
func (e *env) codeFor(b *http.Client, scope, verifier string) string {
	e.t.Helper()
	q := e.authorizeQuery()
	q.Set("scope", scope)
	if verifier != "" {
		q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(verifier))
		q.Set("code_challenge_method", "S256")
	}
	loc := e.authorize(b, e.issuer+"/authorize?"+q.Encode())
	code := loc.Query().Get("code")
	if code == "" {
		e.t.Fatalf("no code in %v", loc)
	}
	return code
}

type tokenAnswer struct {
	status int
	header http.Header
	body   map[string]any
}

func (a tokenAnswer) str(k string) string { s, _ := a.body[k].(string); return s }

// postToken sends a token request; basic selects client_secret_basic.
func (e *env) postToken(form url.Values, c *testClient, basic bool) tokenAnswer {
	e.t.Helper()
	return e.postAuthenticated("/token", form, c, basic)
}

// postAuthenticated posts form to a back-channel endpoint (path) as client
// c, with client_secret_basic or, unless basic, the credentials in the body.
func (e *env) postAuthenticated(path string, form url.Values, c *testClient, basic bool) tokenAnswer {
	e.t.Helper()
	if c != nil && !basic {
		form.Set("client_id", c.id)
		if c.secret != "" {
			form.Set("client_secret", c.secret)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c != nil && basic {
		req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	}
	return e.doToken(req)
}

func (e *env) doToken(req *http.Request) tokenAnswer {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	body := readBody(e.t, resp)
	a := tokenAnswer{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal([]byte(body), &a.body); err != nil {
		e.t.Fatalf("RFC 6749 §5.2: the answer must be JSON; got %d %q", resp.StatusCode, body)
	}
	// RFC 6749 §5.1: every token response, success or error, is not cached.
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Pragma") != "no-cache" {
		e.t.Fatalf("RFC 6749 §5.1: Cache-Control %q, Pragma %q", resp.Header.Get("Cache-Control"), resp.Header.Get("Pragma"))
	}
	if resp.StatusCode >= 500 {
		e.t.Fatalf("server error %d: %s", resp.StatusCode, body)
	}
	return a
}

func wantError(t *testing.T, a tokenAnswer, status int, code string) {
	t.Helper()
	if a.status != status || a.str("error") != code {
		t.Fatalf("got %d %v, want %d %s", a.status, a.body, status, code)
	}
	if a.str("access_token") != "" {
		t.Fatal("an error answer carries a token")
	}
}

func (e *env) redeem(code, verifier string) tokenAnswer {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.web.redirect}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	return e.postToken(form, &e.web, true)
}

// tokenActive asks introspection about one of the web client's tokens.
func (e *env) tokenActive(raw string) bool {
	return active(e.introspect(&e.web, raw))
}

func TestRFC6749_TokenEndpoint(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			barrier := &refreshBarrier{Store: dbtest.Open(t, backend)}
			// Strict rotation (tokens.refresh_reuse_grace 0): the refresh
			// races below pin that every loser is reuse. With the grace,
			// see grace_test.go.
			e := newEnvConfig(t, backend, barrier, strictRefresh)
			b := e.browser()
			verifier := oauth2.GenerateVerifier()

			t.Run("RFC6749_4_1_2/reused_code_is_invalid_grant_and_revokes_its_tokens", func(t *testing.T) {
				code := e.codeFor(b, "notes.read", verifier)
				first := e.redeem(code, verifier)
				if first.status != 200 || first.str("token_type") != "Bearer" {
					t.Fatalf("first redemption: %d %v", first.status, first.body)
				}
				wantError(t, e.redeem(code, verifier), 400, "invalid_grant")
				if e.tokenActive(first.str("access_token")) || e.tokenActive(first.str("refresh_token")) {
					t.Fatal("tokens issued from a replayed code must be revoked")
				}
			})

			// §4.1.2 again: a used code is refused *as a replay*, revoking
			// what it issued, however else the replay is wrong. The checks of
			// expiry, redirect_uri and code_verifier must not answer first.
			for _, tc := range []struct {
				name   string
				replay func(code string) tokenAnswer
			}{
				{"RFC6749_4_1_2/replay_after_the_code_expired_revokes_its_tokens", func(code string) tokenAnswer {
					e.clock.Advance(5*time.Minute + time.Second)
					defer e.clock.Advance(-5*time.Minute - time.Second)
					return e.redeem(code, verifier)
				}},
				{"RFC6749_4_1_2/replay_with_another_redirect_uri_revokes_its_tokens", func(code string) tokenAnswer {
					form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://print.example/other"}, "code_verifier": {verifier}}
					return e.postToken(form, &e.web, true)
				}},
				{"RFC6749_4_1_2/replay_with_a_wrong_code_verifier_revokes_its_tokens", func(code string) tokenAnswer {
					return e.redeem(code, oauth2.GenerateVerifier())
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					code := e.codeFor(b, "notes.read", verifier)
					first := e.redeem(code, verifier)
					if first.status != 200 || !e.tokenActive(first.str("access_token")) || !e.tokenActive(first.str("refresh_token")) {
						t.Fatalf("first redemption: %d %v", first.status, first.body)
					}
					wantError(t, tc.replay(code), 400, "invalid_grant")
					for name, tok := range map[string]string{"access": first.str("access_token"), "refresh": first.str("refresh_token")} {
						if e.tokenActive(tok) {
							t.Fatalf("RFC 6749 §4.1.2: the %s token issued from the replayed code is still active", name)
						}
					}
				})
			}

			t.Run("RFC6749_4_1_3/code_bound_to_client", func(t *testing.T) {
				code := e.codeFor(b, "notes.read", verifier)
				other := testClient{id: e.native.id}
				form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.web.redirect}, "code_verifier": {verifier}}
				a := e.postToken(form, &other, false)
				wantError(t, a, 400, "invalid_grant")
				if a := e.redeem(code, verifier); a.status != 200 {
					t.Fatalf("another client's failed attempt must not burn the code: %v", a.body)
				}
			})

			t.Run("RFC6749_4_1_3/redirect_uri_must_be_identical", func(t *testing.T) {
				code := e.codeFor(b, "notes.read", verifier)
				for _, uri := range []string{"", "https://print.example/other", e.web.redirect + "/", strings.ToUpper(e.web.redirect)} {
					form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}}
					if uri != "" {
						form.Set("redirect_uri", uri)
					}
					wantError(t, e.postToken(form, &e.web, true), 400, "invalid_grant")
				}
				if a := e.redeem(code, verifier); a.status != 200 {
					t.Fatalf("the right redirect_uri still redeems: %v", a.body)
				}
			})

			t.Run("RFC6749_4_1_2/code_expires_after_5_minutes", func(t *testing.T) {
				code := e.codeFor(b, "notes.read", verifier)
				e.clock.Advance(5*time.Minute + time.Second)
				defer e.clock.Advance(-5*time.Minute - time.Second)
				wantError(t, e.redeem(code, verifier), 400, "invalid_grant")
			})

			t.Run("RFC7636_4_6/verifier_must_match", func(t *testing.T) {
				code := e.codeFor(b, "notes.read", verifier)
				wantError(t, e.redeem(code, ""), 400, "invalid_grant")
				wantError(t, e.redeem(code, oauth2.GenerateVerifier()), 400, "invalid_grant")
				wantError(t, e.redeem(code, verifier[:42]), 400, "invalid_grant")
				wantError(t, e.redeem(code, verifier+strings.Repeat("a", 90)), 400, "invalid_grant")
				if a := e.redeem(code, verifier); a.status != 200 {
					t.Fatalf("the right verifier still redeems: %v", a.body)
				}
			})

			t.Run("RFC9700_4_8_2/verifier_for_code_without_challenge_is_downgrade", func(t *testing.T) {
				code := e.codeFor(b, "notes.read", "")
				wantError(t, e.redeem(code, verifier), 400, "invalid_grant")
				if a := e.redeem(code, ""); a.status != 200 {
					t.Fatalf("confidential client without PKCE: %v", a.body)
				}
			})

			t.Run("RFC6749_2_3/two_authentication_methods_are_invalid_request", func(t *testing.T) {
				form := url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_secret": {e.web.secret}}
				wantError(t, e.postToken(form, &e.web, true), 400, "invalid_request")
			})

			t.Run("RFC6749_5_2/invalid_client_under_basic_is_401_with_WWW-Authenticate", func(t *testing.T) {
				bad := testClient{id: e.web.id, secret: "lk_cs_wrong"}
				a := e.postToken(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, &bad, true)
				wantError(t, a, 401, "invalid_client")
				if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic") {
					t.Fatalf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
				}
				wantError(t, e.postToken(url.Values{"grant_type": {"authorization_code"}}, &bad, false), 401, "invalid_client")
				unknown := testClient{id: "nobody", secret: "x"}
				wantError(t, e.postToken(url.Values{"grant_type": {"authorization_code"}}, &unknown, true), 401, "invalid_client")
				wantError(t, e.postToken(url.Values{"grant_type": {"authorization_code"}}, nil, false), 401, "invalid_client")
				noSecret := testClient{id: e.web.id}
				wantError(t, e.postToken(url.Values{"grant_type": {"authorization_code"}}, &noSecret, false), 401, "invalid_client")
			})

			t.Run("RFC6749_2_3_1/secret_is_form_urlencoded_in_basic", func(t *testing.T) {
				code := e.codeFor(b, "notes.read", verifier)
				req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(url.Values{
					"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.web.redirect}, "code_verifier": {verifier},
				}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(e.web.id, e.web.secret) // our ids and secrets need no escaping
				if a := e.doToken(req); a.status != 200 {
					t.Fatalf("%v", a.body)
				}
			})

			t.Run("RFC6749_5_2/grant_type_errors", func(t *testing.T) {
				wantError(t, e.postToken(url.Values{}, &e.web, true), 400, "invalid_request")
				wantError(t, e.postToken(url.Values{"grant_type": {"magic"}}, &e.web, true), 400, "unsupported_grant_type")
				wantError(t, e.postToken(url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}}, &e.web, true), 400, "unsupported_grant_type")
				wantError(t, e.postToken(url.Values{"grant_type": {"authorization_code", "refresh_token"}}, &e.web, true), 400, "invalid_request")
				wantError(t, e.postToken(url.Values{"grant_type": {"authorization_code"}}, &e.web, true), 400, "invalid_request")
			})

			t.Run("RFC6749_3_1/duplicated_code_is_invalid_request", func(t *testing.T) {
				code := e.codeFor(b, "notes.read", verifier)
				form := url.Values{"grant_type": {"authorization_code"}, "code": {code, code}, "redirect_uri": {e.web.redirect}, "code_verifier": {verifier}}
				wantError(t, e.postToken(form, &e.web, true), 400, "invalid_request")
			})

			t.Run("hostile_codes_are_invalid_grant", func(t *testing.T) {
				for _, code := range []string{"' OR 1=1 --", "<script>", "lk_ac_" + strings.Repeat("A", 43), "lk_rt_" + strings.Repeat("A", 43), "\u202e\u0000", strings.Repeat("x", 60000)} {
					wantError(t, e.redeem(code, verifier), 400, "invalid_grant")
				}
			})

			t.Run("RFC6749_3_2/body_limits_and_method", func(t *testing.T) {
				big := url.Values{"grant_type": {"authorization_code"}, "code": {strings.Repeat("x", 70<<10)}}
				wantError(t, e.postToken(big, &e.web, true), 413, "invalid_request")
				req, _ := http.NewRequest(http.MethodGet, e.issuer+"/token?grant_type=authorization_code", nil)
				wantError(t, e.doToken(req), 405, "invalid_request")
				req, _ = http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(`{"grant_type":"authorization_code"}`))
				req.Header.Set("Content-Type", "application/json")
				wantError(t, e.doToken(req), 400, "invalid_request")
			})

			t.Run("RFC6749_6/refresh_scope_may_narrow_never_widen", func(t *testing.T) {
				code := e.codeFor(b, "notes.read photos.read", verifier)
				tok := e.redeem(code, verifier)
				rt := tok.str("refresh_token")
				wantError(t, e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"notes.read profile"}}, &e.web, true), 400, "invalid_scope")
				a := e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"photos.read"}}, &e.web, true)
				if a.status != 200 || a.str("scope") != "photos.read" {
					t.Fatalf("narrowed refresh: %d %v", a.status, a.body)
				}
				// RFC 6749 §6: the new refresh token keeps the original scope.
				a = e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.str("refresh_token")}}, &e.web, true)
				if a.status != 200 || a.str("scope") != "notes.read photos.read" {
					t.Fatalf("refresh after narrowing: %d %v", a.status, a.body)
				}
			})

			t.Run("RFC6749_10_4/refresh_token_bound_to_client", func(t *testing.T) {
				tok := e.redeem(e.codeFor(b, "notes.read", verifier), verifier)
				rt := tok.str("refresh_token")
				other := testClient{id: e.native.id}
				wantError(t, e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, &other, false), 400, "invalid_grant")
				if a := e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, &e.web, true); a.status != 200 {
					t.Fatalf("the owner's refresh token must still work: %v", a.body)
				}
			})

			t.Run("C1/concurrent_redemptions_of_one_code_have_one_winner", func(t *testing.T) {
				for iter := 0; iter < 3; iter++ {
					code := e.codeFor(b, "notes.read", verifier)
					got := race(16, func() tokenAnswer { return e.redeem(code, verifier) })
					if got[200] != 1 || got[400] != 15 {
						t.Fatalf("iteration %d: statuses %v, want exactly one 200 and fifteen 400", iter, got)
					}
				}
			})

			t.Run("C2/concurrent_refreshes_of_one_token_have_one_winner", func(t *testing.T) {
				rt := e.redeem(e.codeFor(b, "notes.read", verifier), verifier).str("refresh_token")
				answers := raceAll(16, func() tokenAnswer {
					return e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, &e.web, true)
				})
				if got := countStatuses(answers); got[200] != 1 || got[400] != 15 {
					t.Fatalf("statuses %v, want exactly one 200 and fifteen 400", got)
				}
				// The losers are reuse (RFC 9700 §4.14.2): whether each saw
				// the token rotated or lost at the database, the family ends.
				e.assertFamilyRevoked(t, rt, winner(t, answers))
			})

			t.Run("RFC9700_4_14_2/loser_of_a_refresh_race_at_the_database_revokes_the_family", func(t *testing.T) {
				// Every racer reads the token before any rotates it, so each
				// loser learns of the winner only from the database
				// (store.ErrAlreadyUsed), never from the token's row.
				const n = 4
				rt := e.redeem(e.codeFor(b, "notes.read", verifier), verifier).str("refresh_token")
				barrier.arm(rt, n)
				answers := raceAll(n, func() tokenAnswer {
					return e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, &e.web, true)
				})
				if barrier.disarm() {
					t.Fatalf("the %d racers did not all read the refresh token before one rotated it", n)
				}
				if got := countStatuses(answers); got[200] != 1 || got[400] != n-1 {
					t.Fatalf("statuses %v, want exactly one 200 and %d 400", got, n-1)
				}
				for _, a := range answers {
					if a.status == 400 && a.str("error") != "invalid_grant" {
						t.Fatalf("a loser got %v, want invalid_grant", a.body)
					}
				}
				e.assertFamilyRevoked(t, rt, winner(t, answers))
			})
		})
	}
}

// race runs f from n goroutines released together and counts the statuses.
func race(n int, f func() tokenAnswer) map[int]int {
	return countStatuses(raceAll(n, f))
}

// raceAll runs f from n goroutines released together and returns every
// answer.
func raceAll(n int, f func() tokenAnswer) []tokenAnswer {
	var wg sync.WaitGroup
	answers := make([]tokenAnswer, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i] = f()
		}()
	}
	close(start)
	wg.Wait()
	return answers
}

func countStatuses(answers []tokenAnswer) map[int]int {
	counts := map[int]int{}
	for _, a := range answers {
		counts[a.status]++
	}
	return counts
}

// winner returns the one successful answer of a race.
func winner(t *testing.T, answers []tokenAnswer) tokenAnswer {
	t.Helper()
	for _, a := range answers {
		if a.status == 200 {
			if a.str("access_token") == "" || a.str("refresh_token") == "" {
				t.Fatalf("the winner got no token pair: %v", a.body)
			}
			return a
		}
	}
	t.Fatal("no racer won")
	return tokenAnswer{}
}

// assertFamilyRevoked checks RFC 9700 §4.14.2 after reuse of the web
// client's refresh token rt: the token, and the pair issued to the race's
// winner, are dead to their owner, and the winner's refresh token no longer
// refreshes.
func (e *env) assertFamilyRevoked(t *testing.T, rt string, won tokenAnswer) {
	t.Helper()
	for name, tok := range map[string]string{"the reused refresh token": rt, "the winner's access token": won.str("access_token"), "the winner's refresh token": won.str("refresh_token")} {
		if a := e.introspect(&e.web, tok); active(a) {
			t.Fatalf("RFC 9700 §4.14.2: %s is still active after reuse: %v", name, a.body)
		}
	}
	wantError(t, e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {won.str("refresh_token")}}, &e.web, true), 400, "invalid_grant")
}

// refreshBarrier is the store with a gate for one refresh token: once armed,
// RotateRefreshToken of that token waits until n requests have read it, so
// n concurrent refreshes all see it unrotated and all but one lose at the
// database. Unarmed, it only passes calls through.
type refreshBarrier struct {
	store.Store
	mu       sync.Mutex
	hash     string
	reads    int
	want     int
	allRead  chan struct{}
	timedOut bool
}

func (s *refreshBarrier) arm(rt string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hash, s.reads, s.want, s.allRead, s.timedOut = secret.Hash(rt), 0, n, make(chan struct{}), false
}

// disarm lets every call through again and reports whether a rotation gave
// up waiting (the race was then not the one the test meant to run).
func (s *refreshBarrier) disarm() (timedOut bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hash, s.allRead = "", nil
	return s.timedOut
}

func (s *refreshBarrier) GetTokenWithGrant(ctx context.Context, hash string) (store.Token, store.Grant, error) {
	t, g, err := s.Store.GetTokenWithGrant(ctx, hash)
	s.mu.Lock()
	if s.allRead != nil && hash == s.hash {
		s.reads++
		if s.reads == s.want {
			close(s.allRead)
		}
	}
	s.mu.Unlock()
	return t, g, err
}

func (s *refreshBarrier) RotateRefreshToken(ctx context.Context, oldHash string, now time.Time, issued []store.Token) error {
	s.wait(oldHash)
	return s.Store.RotateRefreshToken(ctx, oldHash, now, issued)
}

func (s *refreshBarrier) RotateRefreshTokenWithSuccessor(ctx context.Context, oldHash string, now time.Time, sealed []byte, issued []store.Token) error {
	s.wait(oldHash)
	return s.Store.RotateRefreshTokenWithSuccessor(ctx, oldHash, now, sealed, issued)
}

// wait holds a rotation of the armed token until every racer has read it.
func (s *refreshBarrier) wait(oldHash string) {
	s.mu.Lock()
	wait := s.allRead
	if oldHash != s.hash {
		wait = nil
	}
	s.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-time.After(10 * time.Second):
			s.mu.Lock()
			s.timedOut = true
			s.mu.Unlock()
		}
	}
}
