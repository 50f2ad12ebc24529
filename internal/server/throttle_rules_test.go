package server_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// Throttling windows are fixed and end on the dot: an attempt made exactly
// when the window ends starts a new window (SECURITY.md B1; RFC 6749
// §2.3.1 and §4.3.2 ask for protection against brute force, not for a
// lockout that outlives its window).

// TestRFC6749_2_3_1_ClientThrottleWindowEndsOnTheDot: twenty failed client
// authentications refuse the client until exactly one minute after the
// first; then a failure is counted in a new window and the right secret is
// accepted.
func TestRFC6749_2_3_1_ClientThrottleWindowEndsOnTheDot(t *testing.T) {
	e := newEnv(t, "sqlite")
	bad := testClient{id: e.svc.id, secret: "lk_cs_guess"}
	form := url.Values{"grant_type": {"client_credentials"}}
	for range 20 {
		wantError(t, e.postToken(form, &bad, true), 401, "invalid_client")
	}
	e.clock.Advance(time.Minute - time.Second)
	wantError(t, e.postToken(form, &e.svc, true), http.StatusTooManyRequests, "invalid_client")
	e.clock.Advance(time.Second)
	wantError(t, e.postToken(form, &bad, true), 401, "invalid_client")
	if a := e.postToken(form, &e.svc, true); a.status != 200 {
		t.Fatalf("a minute after the first failure: %d %v", a.status, a.body)
	}
}

// TestRFC6749_4_3_2_PasswordThrottleWindowEndsOnTheDot: five wrong
// passwords for an account refuse it from that address for exactly fifteen
// minutes from the first.
func TestRFC6749_4_3_2_PasswordThrottleWindowEndsOnTheDot(t *testing.T) {
	e := newEnv(t, "sqlite")
	signIn := func(password string) tokenAnswer {
		return e.postToken(url.Values{"grant_type": {"password"}, "username": {testUser}, "password": {password}}, &e.app, true)
	}
	for i := range 5 {
		if i >= 3 { // past the growing delay: 1 s, then 2 s
			e.clock.Advance(time.Duration(1<<(i-3)) * time.Second)
		}
		wantError(t, signIn("guess"), 400, "invalid_grant")
	}
	e.clock.Advance(15*time.Minute - 3*time.Second - time.Second)
	wantError(t, signIn(testPassword), http.StatusTooManyRequests, "invalid_grant")
	e.clock.Advance(time.Second)
	if a := signIn(testPassword); a.status != 200 {
		t.Fatalf("fifteen minutes after the first guess: %d %v", a.status, a.body)
	}
}
