package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/session"
)

// The refresh reuse grace (tokens.refresh_reuse_grace): a rotated refresh
// token presented again within the grace, while its successor is unused,
// is answered with that same successor and a new access token; anything
// else is reuse and revokes the family (RFC 9700 §4.14.2).

// graceScope asks for an ID token too, so the retry's answer is checked
// to carry one as a refresh does (OpenID Connect Core §12.2).
const graceScope = "openid notes.read"

// firstRefreshToken runs the code flow for the web client and returns its
// refresh token.
func (e *env) firstRefreshToken(t *testing.T) string {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	a := e.redeem(e.codeFor(e.browser(), graceScope, verifier), verifier)
	if a.status != 200 || a.str("refresh_token") == "" {
		t.Fatalf("code redemption: %d %v", a.status, a.body)
	}
	return a.str("refresh_token")
}

func (e *env) refreshWeb(rt string) tokenAnswer {
	e.t.Helper()
	return e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, &e.web, true)
}

// wantRefreshed checks a successful refresh answer and returns it.
func wantRefreshed(t *testing.T, what string, a tokenAnswer) tokenAnswer {
	t.Helper()
	if a.status != 200 || a.str("access_token") == "" || a.str("refresh_token") == "" || a.str("id_token") == "" {
		t.Fatalf("%s: %d %v, want an access token, a refresh token and an ID token", what, a.status, a.body)
	}
	return a
}

// wantFamilyRevoked checks that rt's family ended: each token is inactive
// and refreshing with the newest refresh token is invalid_grant.
func (e *env) wantFamilyRevoked(t *testing.T, newest string, tokens ...string) {
	t.Helper()
	for _, tok := range append(tokens, newest) {
		if e.tokenActive(tok) {
			t.Fatalf("RFC 9700 §4.14.2: a token of the family is still active after reuse")
		}
	}
	wantError(t, e.refreshWeb(newest), 400, "invalid_grant")
}

// dropFirstResponse is a transport that loses the first response: the
// server answers it in full, the client never sees it (a connection reset
// after the server wrote). It keeps the lost body for the test.
type dropFirstResponse struct {
	mu   sync.Mutex
	lost []byte
}

func (d *dropFirstResponse) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lost != nil {
		return resp, nil
	}
	d.lost, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	return nil, errors.New("connection reset by peer")
}

func TestRefreshGrace_RetryAfterLostResponseGetsTheSameSuccessor(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			rt := e.firstRefreshToken(t)
			conf := e.oauth2Config(e.web, strings.Fields(graceScope)...)
			drop := &dropFirstResponse{}
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: drop})

			if _, err := refresh(ctx, conf, rt); err == nil {
				t.Fatal("the first refresh's response was meant to be lost")
			}
			var lost struct {
				RefreshToken string `json:"refresh_token"`
				AccessToken  string `json:"access_token"`
			}
			if err := json.Unmarshal(drop.lost, &lost); err != nil || lost.RefreshToken == "" {
				t.Fatalf("the lost response was no token response: %s", drop.lost)
			}
			e.clock.Advance(2 * time.Second) // the client's retry, within the 5 s default

			tok, err := refresh(ctx, conf, rt)
			if err != nil {
				t.Fatalf("the retry with the same refresh token within the grace: %v", err)
			}
			if tok.RefreshToken != lost.RefreshToken {
				t.Fatal("the retry got another refresh token than the lost response's successor")
			}
			if tok.AccessToken == "" || tok.AccessToken == lost.AccessToken {
				t.Fatal("the retry must get a new access token")
			}
			if id, _ := tok.Extra("id_token").(string); id == "" {
				t.Fatal("OpenID Connect Core §12.2: the retry's answer lacks the ID token a refresh carries")
			}
			// The access token works: introspection and /userinfo.
			if !e.tokenActive(tok.AccessToken) {
				t.Fatal("the retry's access token is not active")
			}
			req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if body := readBody(t, resp); resp.StatusCode != 200 || !strings.Contains(body, `"sub"`) {
				t.Fatalf("/userinfo with the retry's access token: %d %s", resp.StatusCode, body)
			}

			// The successor then refreshes normally, and rotates.
			next, err := refresh(context.Background(), conf, tok.RefreshToken)
			if err != nil {
				t.Fatalf("refresh with the successor: %v", err)
			}
			if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
				t.Fatal("the successor must rotate on use")
			}
			if !e.tokenActive(next.AccessToken) || !e.tokenActive(next.RefreshToken) {
				t.Fatal("the successor's refresh issued inactive tokens")
			}
			logs := e.logs.String()
			if !strings.Contains(logs, "within the reuse grace") || strings.Contains(logs, "family is revoked") {
				t.Fatalf("want one grace reuse logged and no revocation:\n%s", logs)
			}
			for _, v := range []string{rt, lost.RefreshToken, tok.AccessToken} {
				if strings.Contains(logs, v) {
					t.Fatal("a token value was logged")
				}
			}
		})
	}
}

func TestRefreshGrace_ConcurrentRefreshesAllGetTheSameSuccessor(t *testing.T) {
	const n = 8
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			barrier := &refreshBarrier{Store: dbtest.Open(t, backend)}
			e := newEnvConfig(t, backend, barrier, nil)
			// free: racers released together; atTheDatabase: every racer
			// reads the token unrotated, and all but one lose at the
			// database (store.ErrAlreadyUsed) rather than seeing it rotated.
			for _, atTheDatabase := range []bool{false, true, false} {
				rt := e.firstRefreshToken(t)
				if atTheDatabase {
					barrier.arm(rt, n)
				}
				answers := raceAll(n, func() tokenAnswer { return e.refreshWeb(rt) })
				if barrier.disarm() {
					t.Fatalf("the %d racers did not all read the refresh token before one rotated it", n)
				}
				successor := ""
				seen := map[string]bool{}
				for i, a := range answers {
					wantRefreshed(t, "racer", a)
					if i == 0 {
						successor = a.str("refresh_token")
					}
					if a.str("refresh_token") != successor {
						t.Fatalf("racers got different refresh tokens (at the database: %v)", atTheDatabase)
					}
					if seen[a.str("access_token")] {
						t.Fatal("two racers got the same access token")
					}
					seen[a.str("access_token")] = true
				}
				for at := range seen {
					if !e.tokenActive(at) {
						t.Fatal("a racer's access token is not active: the family was revoked")
					}
				}
				// One rotation only: the successor refreshes normally.
				next := wantRefreshed(t, "refresh with the successor", e.refreshWeb(successor))
				if next.str("refresh_token") == successor {
					t.Fatal("the successor did not rotate")
				}
				// Then the first token again is past its successor: reuse.
				wantError(t, e.refreshWeb(rt), 400, "invalid_grant")
				e.wantFamilyRevoked(t, next.str("refresh_token"), successor)
			}
			if logs := e.logs.String(); !strings.Contains(logs, "within the reuse grace") {
				t.Fatalf("no grace reuse logged:\n%s", logs)
			}
		})
	}
}

func TestRefreshGrace_ReuseAfterTheWindowRevokesTheFamily(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			rt := e.firstRefreshToken(t)
			a := wantRefreshed(t, "refresh", e.refreshWeb(rt))
			// Exactly the grace still answers; a moment later is reuse.
			e.clock.Advance(config.DefaultRefreshReuseGrace)
			b := wantRefreshed(t, "retry at the end of the grace", e.refreshWeb(rt))
			if b.str("refresh_token") != a.str("refresh_token") {
				t.Fatal("the retry got another refresh token")
			}
			e.clock.Advance(time.Second)
			wantError(t, e.refreshWeb(rt), 400, "invalid_grant")
			e.wantFamilyRevoked(t, a.str("refresh_token"), a.str("access_token"), b.str("access_token"))
			if logs := e.logs.String(); !strings.Contains(logs, "family is revoked") || !strings.Contains(logs, "after the reuse grace") {
				t.Fatalf("the reuse is not logged with its reason:\n%s", logs)
			}
			// The retry within the grace and the reuse after it are each
			// an audit event and counted.
			fams := scrape(t, e.issuer+"/metrics")
			wantSample(t, fams, 1, "latchkey_refreshes_total", "outcome", "grace")
			wantSample(t, fams, 1, "latchkey_refreshes_total", "outcome", "rotated")
			wantSample(t, fams, 1, "latchkey_token_reuse_detected_total", "kind", "refresh_token")
			events := map[string]int{}
			for _, ev := range e.auditEvents(t) {
				events[ev["event"]]++
			}
			if events["token.grace_reuse"] != 1 || events["token.reuse_detected"] != 1 {
				t.Fatalf("audit events %v, want one grace reuse and one reuse detected", events)
			}
		})
	}
}

func TestRefreshGrace_ZeroIsStrict(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnvConfig(t, backend, dbtest.Open(t, backend), strictRefresh)
			rt := e.firstRefreshToken(t)
			a := wantRefreshed(t, "refresh", e.refreshWeb(rt))
			// Strict keeps no successor at all.
			if old, err := e.store.GetToken(context.Background(), secret.Hash(rt)); err != nil || old.Successor != nil {
				t.Fatalf("strict rotation kept a successor: %v %q", err, old.Successor)
			}
			wantError(t, e.refreshWeb(rt), 400, "invalid_grant")
			e.wantFamilyRevoked(t, a.str("refresh_token"), a.str("access_token"))
		})
	}
}

func TestRefreshGrace_ReuseAfterTheSuccessorWasUsedRevokesTheFamily(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			rt := e.firstRefreshToken(t)
			a := wantRefreshed(t, "refresh", e.refreshWeb(rt))
			b := wantRefreshed(t, "refresh with the successor", e.refreshWeb(a.str("refresh_token")))
			// Within the window of rt's rotation, but the legitimate
			// client has moved on: this presentation is a copy.
			wantError(t, e.refreshWeb(rt), 400, "invalid_grant")
			e.wantFamilyRevoked(t, b.str("refresh_token"), a.str("access_token"), b.str("access_token"))
		})
	}
}

// TestRefreshGrace_OtherClientWithinTheWindowChangesNothing: the client
// binding (RFC 6749 §10.4) is checked before the grace: another client's
// attempt is invalid_grant and neither answered nor counted as reuse.
func TestRefreshGrace_OtherClientWithinTheWindowChangesNothing(t *testing.T) {
	e := newEnv(t, "sqlite")
	rt := e.firstRefreshToken(t)
	a := wantRefreshed(t, "refresh", e.refreshWeb(rt))
	wantError(t, e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, &e.app, true), 400, "invalid_grant")
	b := wantRefreshed(t, "the owner's retry", e.refreshWeb(rt))
	if b.str("refresh_token") != a.str("refresh_token") || !e.tokenActive(a.str("access_token")) {
		t.Fatal("another client's attempt changed the owner's tokens")
	}
}

func TestRefreshGrace_StoredSuccessorIsSealedNeverPlain(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			rt := e.firstRefreshToken(t)
			successor := wantRefreshed(t, "refresh", e.refreshWeb(rt)).str("refresh_token")
			old, err := e.store.GetToken(context.Background(), secret.Hash(rt))
			if err != nil {
				t.Fatal(err)
			}
			if len(old.Successor) == 0 {
				t.Fatal("the rotated token kept no successor")
			}
			random := strings.TrimPrefix(successor, secret.PrefixRefreshToken)
			for name, v := range map[string]string{"the successor": successor, "its random part": random, "its hash": secret.Hash(successor)} {
				if bytes.Contains(old.Successor, []byte(v)) {
					t.Fatalf("the stored column holds %s in plain text", name)
				}
			}
			// It is the successor sealed under the system secret's key for
			// this purpose, bound to the rotated token's hash.
			key := session.DeriveKey([]byte(strings.Repeat("k", 32)), "refresh-successors")
			plain, err := secret.Open(key, old.Successor, []byte(secret.Hash(rt)))
			if err != nil || string(plain) != successor {
				t.Fatalf("the column does not open to the successor: %v", err)
			}
			if _, err := secret.Open(key, old.Successor, []byte(secret.Hash(successor))); err == nil {
				t.Fatal("the sealed successor opens for another row")
			}
			// The successor's own row keeps none until it rotates.
			if s, err := e.store.GetToken(context.Background(), secret.Hash(successor)); err != nil || s.Successor != nil {
				t.Fatalf("the successor's row: %v %q", err, s.Successor)
			}
			// Once no grace can use it, the janitor clears it: the database
			// keeps hashes alone again, and the rotated row for reuse
			// detection.
			e.clock.Advance(time.Minute - time.Second)
			if _, err := e.server.Janitor().RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if kept, _ := e.store.GetToken(context.Background(), secret.Hash(rt)); kept.Successor == nil {
				t.Fatal("the janitor cleared a successor that the longest grace may still use")
			}
			e.clock.Advance(time.Second)
			if _, err := e.server.Janitor().RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			cleared, err := e.store.GetToken(context.Background(), secret.Hash(rt))
			if err != nil || cleared.Successor != nil || cleared.RotatedAt.IsZero() {
				t.Fatalf("after the janitor, the rotated row: %v %+v; want it kept without its successor", err, cleared)
			}
			if n := e.server.Janitor().Counters().SuccessorsCleared; n != 1 {
				t.Fatalf("SuccessorsCleared = %d, want 1", n)
			}
		})
	}
}
