package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/dbtest"
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
	if c != nil && !basic {
		form.Set("client_id", c.id)
		if c.secret != "" {
			form.Set("client_secret", c.secret)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(form.Encode()))
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
			e := newEnv(t, backend)
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
				got := race(16, func() tokenAnswer {
					return e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, &e.web, true)
				})
				if got[200] != 1 || got[400] != 15 {
					t.Fatalf("statuses %v, want exactly one 200 and fifteen 400", got)
				}
			})
		})
	}
}

// race runs f from n goroutines released together and counts the statuses.
func race(n int, f func() tokenAnswer) map[int]int {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counts := map[int]int{}
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a := f()
			mu.Lock()
			counts[a.status]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return counts
}
