package rs

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestIntrospection(t *testing.T) {
	iss := newTestIssuer(t)
	now := iss.clock.Now().Unix()
	const skew = int64(DefaultLeeway / time.Second)
	answer := func(mods map[string]any) map[string]any {
		a := iss.activeAnswer()
		merge(a, mods)
		return a
	}
	cases := []struct {
		name   string
		answer map[string]any // nil: the issuer knows no such token
		status int
		code   string
	}{
		{"RFC7662_2.2/active_token_is_accepted", answer(nil), 200, ""},
		{"RFC7662_2.2/active_token_with_only_active_and_aud_is_accepted", map[string]any{"active": true, "aud": testResource}, 200, ""},
		// Latchkey's answer for a refresh token, to the client that owns it.
		{"RFC7662_4/answer_without_aud_is_invalid_token", map[string]any{"active": true, "token_type": "refresh_token"}, 401, ErrorInvalidToken},
		{"RFC7662_4/answer_without_aud_or_type_is_invalid_token", map[string]any{"active": true}, 401, ErrorInvalidToken},
		{"RFC7662_2.2/inactive_token_is_invalid_token", answer(map[string]any{"active": false}), 401, ErrorInvalidToken},
		{"RFC7662_2.2/unknown_token_is_invalid_token", nil, 401, ErrorInvalidToken},
		{"RFC7662_2.2/active_not_a_boolean_is_unavailable", answer(map[string]any{"active": "true"}), 503, "-"},
		{"RFC7662_2.2/answer_without_active_is_unavailable", answer(map[string]any{"active": nil}), 503, "-"},
		{"RFC7662_4/aud_of_another_resource_is_invalid_token", answer(map[string]any{"aud": "https://api.example/photos"}), 401, ErrorInvalidToken},
		{"RFC7662_4/empty_aud_is_invalid_token", answer(map[string]any{"aud": []string{}}), 401, ErrorInvalidToken},
		{"RFC7662_2.2/aud_string_naming_the_resource_is_accepted", answer(map[string]any{"aud": testResource}), 200, ""},
		{"RFC7662_2.2/iss_of_another_issuer_is_invalid_token", answer(map[string]any{"iss": "https://evil.example"}), 401, ErrorInvalidToken},
		{"RFC7662_2.2/exp_past_is_invalid_token", answer(map[string]any{"exp": now - skew}), 401, ErrorInvalidToken},
		{"RFC7662_2.2/nbf_future_is_invalid_token", answer(map[string]any{"nbf": now + skew + 1}), 401, ErrorInvalidToken},
		{"RFC9449_6_2/token_type_DPoP_without_cnf_is_invalid_token", answer(map[string]any{"token_type": "DPoP"}), 401, ErrorInvalidToken},
		{"RFC7662_2.2/token_type_is_case_insensitive", answer(map[string]any{"token_type": "bearer"}), 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := "lk_at_" + randomID()
			if c.answer != nil {
				iss.answer(raw, c.answer)
			}
			wantStatus(t, iss.guard(), bearer(raw), raw, c.status, c.code)
		})
	}
}

// RFC 7662 §2.1 with client_secret_basic: the id and secret are
// form-encoded before Basic (RFC 6749 §2.3.1), and the token is sent with
// token_type_hint=access_token.
func TestIntrospectionRequest(t *testing.T) {
	iss := newTestIssuer(t)
	const id, secret = "notes api:1", "p%ss+w:rd é"
	raw := "opaque+token/" + randomID() + "=="
	iss.answer(raw, iss.activeAnswer())
	g := iss.guard(func(c *Config) { c.ClientID, c.ClientSecret = id, secret })
	wantStatus(t, g, bearer(raw), raw, 503, "-") // the test issuer knows other credentials
	iss.set(func(iss *testIssuer) {
		if iss.lastUser != id || iss.lastPass != secret {
			t.Errorf("RFC6749_2.3.1/credentials_are_form_encoded: got %q:%q", iss.lastUser, iss.lastPass)
		}
		if got := iss.lastForm.Get("token"); got != raw {
			t.Errorf("RFC7662_2.1/token: got %q", got)
		}
		if got := iss.lastForm.Get("token_type_hint"); got != "access_token" {
			t.Errorf("RFC7662_2.1/token_type_hint: got %q", got)
		}
	})
}

// The Token of an introspected token carries the answer.
func TestIntrospectedToken(t *testing.T) {
	iss := newTestIssuer(t)
	raw := "lk_at_" + randomID()
	iss.answer(raw, iss.activeAnswer())
	tok, err := iss.guard().Verify(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Subject != "user-2" || tok.Username != "ada" || tok.ClientID != "notes-app" || !tok.HasScope("notes.read") ||
		tok.Issuer != iss.URL || !tok.Expiry.Equal(iss.clock.Now().Add(time.Hour)) || tok.Claims["username"] != "ada" {
		t.Errorf("token %+v", tok)
	}
}

// Without credentials the API cannot introspect: an opaque token is
// refused without asking anyone.
func TestOpaqueWithoutCredentials(t *testing.T) {
	iss := newTestIssuer(t)
	raw := "lk_at_" + randomID()
	iss.answer(raw, iss.activeAnswer())
	g := iss.guard(func(c *Config) { c.ClientID, c.ClientSecret = "", "" })
	wantStatus(t, g, bearer(raw), raw, 401, ErrorInvalidToken)
	if n := iss.introHits.Load(); n != 0 {
		t.Errorf("%d introspection calls", n)
	}
}

// An introspection endpoint that fails or cannot be reached is a 503 that
// says nothing about the token, and the failure is not cached.
func TestIntrospectionUnavailable(t *testing.T) {
	t.Run("RFC7662_2.3/server_error_is_503_and_not_cached", func(t *testing.T) {
		iss := newTestIssuer(t)
		iss.set(func(iss *testIssuer) { iss.introStatus = http.StatusInternalServerError })
		raw := "lk_at_" + randomID()
		iss.answer(raw, iss.activeAnswer())
		g := iss.guard()
		for range 3 {
			w := wantStatus(t, g, bearer(raw), raw, 503, "-")
			if !strings.Contains(w.Body.String(), `"error":"temporarily_unavailable"`) {
				t.Errorf("body %s", w.Body)
			}
		}
		if n := iss.introHits.Load(); n != 3 {
			t.Errorf("%d introspection calls for 3 requests, want 3 (failures are not cached)", n)
		}
		iss.set(func(iss *testIssuer) { iss.introStatus = 0 })
		wantStatus(t, g, bearer(raw), raw, 200, "")
	})
	t.Run("RFC7662_2.3/unreachable_server_is_503", func(t *testing.T) {
		iss := newTestIssuer(t)
		raw := "lk_at_" + randomID()
		g := iss.guard()
		if err := g.Prefetch(t.Context()); err != nil {
			t.Fatal(err)
		}
		iss.srv.Close()
		_, err := g.Verify(t.Context(), raw)
		e, ok := err.(*Error)
		if !ok || e.Status != 503 || e.Code != ErrorUnavailable || e.Unwrap() == nil || strings.Contains(e.Description, raw) {
			t.Errorf("Verify: %#v", err)
		}
	})
}

// Introspection answers are reused for IntrospectionCacheTTL, never past
// the token's exp; inactive answers too.
func TestIntrospectionCache(t *testing.T) {
	t.Run("RFC7662_4/active_answer_is_reused_within_the_TTL", func(t *testing.T) {
		iss := newTestIssuer(t)
		raw := "lk_at_" + randomID()
		iss.answer(raw, iss.activeAnswer())
		g := iss.guard()
		for range 3 {
			wantStatus(t, g, bearer(raw), raw, 200, "")
		}
		if n := iss.introHits.Load(); n != 1 {
			t.Errorf("%d introspection calls, want 1", n)
		}
		iss.clock.Add(DefaultIntrospectionCacheTTL)
		wantStatus(t, g, bearer(raw), raw, 200, "")
		if n := iss.introHits.Load(); n != 2 {
			t.Errorf("%d introspection calls after the TTL, want 2", n)
		}
	})
	t.Run("RFC7662_4/answer_is_not_reused_past_exp", func(t *testing.T) {
		iss := newTestIssuer(t)
		raw := "lk_at_" + randomID()
		iss.answer(raw, map[string]any{"active": true, "aud": testResource, "exp": iss.clock.Now().Add(2 * time.Second).Unix()})
		g := iss.guard(func(c *Config) { c.Leeway = -1 })
		wantStatus(t, g, bearer(raw), raw, 200, "")
		iss.clock.Add(2 * time.Second)
		wantStatus(t, g, bearer(raw), raw, 401, ErrorInvalidToken)
		if n := iss.introHits.Load(); n != 2 {
			t.Errorf("%d introspection calls, want 2", n)
		}
	})
	t.Run("RFC7662_4/inactive_answer_is_reused_within_the_TTL", func(t *testing.T) {
		iss := newTestIssuer(t)
		raw := "lk_at_" + randomID()
		g := iss.guard()
		for range 3 {
			wantStatus(t, g, bearer(raw), raw, 401, ErrorInvalidToken)
		}
		if n := iss.introHits.Load(); n != 1 {
			t.Errorf("%d introspection calls, want 1", n)
		}
		iss.answer(raw, iss.activeAnswer())
		iss.clock.Add(DefaultIntrospectionCacheTTL)
		wantStatus(t, g, bearer(raw), raw, 200, "")
	})
	t.Run("RFC7662_4/negative_TTL_asks_every_time", func(t *testing.T) {
		iss := newTestIssuer(t)
		raw := "lk_at_" + randomID()
		iss.answer(raw, iss.activeAnswer())
		g := iss.guard(func(c *Config) { c.IntrospectionCacheTTL = -1 })
		for range 3 {
			wantStatus(t, g, bearer(raw), raw, 200, "")
		}
		if n := iss.introHits.Load(); n != 3 {
			t.Errorf("%d introspection calls, want 3", n)
		}
	})
}

// With CheckRevocation a JWT is also confirmed at introspection: a revoked
// one stops working once its answer's TTL has passed, and the inactive
// answer replaces the verified entry.
func TestCheckRevocation(t *testing.T) {
	iss := newTestIssuer(t)
	raw := iss.token()
	a := iss.activeAnswer()
	iss.answer(raw, a)
	g := iss.guard(func(c *Config) { c.CheckRevocation = true })
	tok, err := g.Verify(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Subject != "user-1" || tok.Username != "ada" {
		t.Errorf("token %+v: want the JWT's claims and the answer's username", tok)
	}
	iss.answer(raw, map[string]any{"active": false}) // revoked
	wantStatus(t, g, bearer(raw), raw, 200, "")      // the answer is reused for the TTL
	iss.clock.Add(DefaultIntrospectionCacheTTL)
	wantStatus(t, g, bearer(raw), raw, 401, ErrorInvalidToken)
	wantStatus(t, g, bearer(raw), raw, 401, ErrorInvalidToken)
	if n := iss.introHits.Load(); n != 2 {
		t.Errorf("%d introspection calls, want 2 (the inactive answer is cached)", n)
	}
	if e, ok := g.cache.get(keyOf(raw), iss.clock.Now()); !ok || e.tok != nil {
		t.Errorf("cache entry %+v, want the inactive answer", e)
	}
}

// Without CheckRevocation a JWT is never introspected.
func TestJWTIsNotIntrospectedByDefault(t *testing.T) {
	iss := newTestIssuer(t)
	raw := iss.token()
	iss.answer(raw, map[string]any{"active": false})
	wantStatus(t, iss.guard(), bearer(raw), raw, 200, "")
	if n := iss.introHits.Load(); n != 0 {
		t.Errorf("%d introspection calls", n)
	}
}

// Concurrent requests with the same new token share one introspection.
func TestConcurrentMissesShareOneIntrospection(t *testing.T) {
	iss := newTestIssuer(t)
	iss.set(func(iss *testIssuer) { iss.introDelay = 100 * time.Millisecond })
	raw := "lk_at_" + randomID()
	iss.answer(raw, iss.activeAnswer())
	g := iss.guard()
	if err := g.Prefetch(t.Context()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := g.Verify(t.Context(), raw); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := iss.introHits.Load(); n != 1 {
		t.Errorf("%d introspection calls for 20 concurrent requests, want 1", n)
	}
}
