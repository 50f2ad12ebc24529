package server_test

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/dbtest"
)

// logLine parses one line of slog's text format: key=value pairs, values
// quoted when they need it.
func logLine(t *testing.T, line string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for rest := strings.TrimSpace(line); rest != ""; rest = strings.TrimLeft(rest, " ") {
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			t.Fatalf("not key=value at %q in %q", rest, line)
		}
		var value string
		if strings.HasPrefix(after, `"`) {
			q, err := strconv.QuotedPrefix(after)
			if err != nil {
				t.Fatalf("bad quoting at %q: %v", after, err)
			}
			value, _ = strconv.Unquote(q)
			rest = after[len(q):]
		} else {
			value, rest, _ = strings.Cut(after, " ")
		}
		out[key] = value
	}
	return out
}

// auditEvents returns the audit lines logged so far, parsed.
func (e *env) auditEvents(t *testing.T) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, " msg=audit ") {
			out = append(out, logLine(t, l))
		}
	}
	return out
}

// auditFields is the audit schema (internal/audit): every field an audit
// line may carry. Fields are added over time, never renamed.
var auditFields = []string{"time", "level", "msg", "event", "client_id", "user_id", "address", "device", "grant_type",
	"format", "scope", "reason", "detail", "request_id"}

// TestAudit_EventsOfAFlowHaveTheStableSchema: a sign-in, consent, code,
// refresh, reuse, revocation, failed password and client-credentials token
// each write one audit line with the documented fields, the request's id,
// and nothing outside the schema.
func TestAudit_EventsOfAFlowHaveTheStableSchema(t *testing.T) {
	e := newEnv(t, "sqlite")
	tok := e.redeem(e.codeFor(e.browser(), "openid notes.read offline_access", ""), "")
	if tok.status != 200 {
		t.Fatalf("%d %v", tok.status, tok.body)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}}
	next := e.postToken(refresh, &e.web, true)
	if next.status != 200 {
		t.Fatalf("refresh: %d %v", next.status, next.body)
	}
	if code := e.revoke(&e.web, next.str("refresh_token")); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	e.clock.Advance(time.Minute)
	wantError(t, e.postToken(refresh, &e.web, true), 400, "invalid_grant")
	wantError(t, e.postToken(url.Values{"grant_type": {"password"}, "username": {e.user}, "password": {"wrong"}}, &e.app, true), 400, "invalid_grant")
	if a := e.postToken(url.Values{"grant_type": {"client_credentials"}}, &e.opaque, true); a.status != 200 {
		t.Fatalf("%d %v", a.status, a.body)
	}

	events := e.auditEvents(t)
	find := func(want map[string]string) map[string]string {
		t.Helper()
	each:
		for _, ev := range events {
			for k, v := range want {
				if ev[k] != v {
					continue each
				}
			}
			return ev
		}
		t.Errorf("no audit event %v among:\n%v", want, events)
		return nil
	}
	find(map[string]string{"event": "user.signed_in", "user_id": "u1", "client_id": e.web.id})
	find(map[string]string{"event": "consent.granted", "user_id": "u1", "client_id": e.web.id})
	find(map[string]string{"event": "token.issued", "user_id": "u1", "client_id": e.web.id, "grant_type": "authorization_code", "format": "jwt"})
	find(map[string]string{"event": "token.refreshed", "user_id": "u1", "grant_type": "refresh_token"})
	find(map[string]string{"event": "token.revoked", "user_id": "u1", "client_id": e.web.id})
	find(map[string]string{"event": "token.reuse_detected", "user_id": "u1", "client_id": e.web.id, "reason": "refresh_token"})
	find(map[string]string{"event": "user.sign_in_failed", "client_id": e.app.id, "reason": "bad_credentials", "detail": "password_grant"})
	cc := find(map[string]string{"event": "token.issued", "client_id": e.opaque.id, "grant_type": "client_credentials", "format": "opaque"})
	if cc != nil && cc["user_id"] != "" {
		t.Errorf("a client-credentials token names a user: %v", cc)
	}
	for _, ev := range events {
		if ev["level"] != "INFO" {
			t.Errorf("audit line at level %s: %v", ev["level"], ev)
		}
		if ev["request_id"] == "" || ev["address"] == "" {
			t.Errorf("audit line of a request without its request_id or client address: %v", ev)
		}
		for k := range ev {
			if !slices.Contains(auditFields, k) {
				t.Errorf("field %q is not in the audit schema: %v", k, ev)
			}
		}
	}
}

// secretPatterns match what must never reach a log whatever the values:
// Latchkey's tokens, codes and secrets by their prefixes, and JWTs.
var secretPatterns = regexp.MustCompile(`lk_(ac|at|rt|cs|ss|br|dc)_[A-Za-z0-9_-]{8,}|eyJ[A-Za-z0-9_-]{8,}\.eyJ`)

// TestLogs_NoSecretInAWholeRun greps every line a whole run logs, at debug
// level, for the secrets it handled: passwords (right and wrong), client
// secrets, codes, PKCE verifiers, access, refresh and ID tokens, of every
// grant, a refresh, a reuse, an introspection and a revocation.
func TestLogs_NoSecretInAWholeRun(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnvOn(t, backend, dbtest.Open(t, backend))
			secrets := []string{e.pass, e.web.secret, e.app.secret, e.opaque.secret, e.svc.secret, e.api.secret}
			keep := func(a tokenAnswer) {
				for _, k := range []string{"access_token", "refresh_token", "id_token"} {
					if v := a.str(k); v != "" {
						secrets = append(secrets, v)
					}
				}
			}
			verifier := oauth2.GenerateVerifier()
			code := e.codeFor(e.browser(), "openid profile notes.read offline_access", verifier)
			secrets = append(secrets, verifier, code)
			tok := e.redeem(code, verifier)
			keep(tok)
			wantError(t, e.redeem(code, verifier), 400, "invalid_grant") // replay
			code = e.codeFor(e.browser(), "notes.read offline_access", "")
			secrets = append(secrets, code)
			tok = e.redeem(code, "")
			keep(tok)
			refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}}
			keep(e.postToken(refresh, &e.web, true))
			e.clock.Advance(time.Minute)
			wantError(t, e.postToken(refresh, &e.web, true), 400, "invalid_grant") // reuse
			pw := e.postToken(url.Values{"grant_type": {"password"}, "username": {e.user}, "password": {e.pass}, "scope": {"notes.read offline_access"}}, &e.app, false)
			keep(pw)
			const wrong = "not-the-password-7Qz"
			secrets = append(secrets, wrong)
			wantError(t, e.postToken(url.Values{"grant_type": {"password"}, "username": {e.user}, "password": {wrong}}, &e.app, true), 400, "invalid_grant")
			badSecret := e.app
			badSecret.secret = "lk_cs_wrongwrongwrongwrong"
			secrets = append(secrets, badSecret.secret)
			if a := e.postToken(url.Values{"grant_type": {"client_credentials"}}, &badSecret, true); a.status != 401 {
				t.Fatalf("a wrong client secret: %d %v", a.status, a.body)
			}
			cc := e.postToken(url.Values{"grant_type": {"client_credentials"}}, &e.svc, false)
			keep(cc)
			keep(e.postToken(url.Values{"grant_type": {"client_credentials"}}, &e.opaque, true))
			e.introspect(&e.api, cc.str("access_token"))
			e.revoke(&e.app, pw.str("refresh_token"))
			e.revoke(&e.svc, cc.str("access_token"))
			if err := e.server.FlushActivity(t.Context()); err != nil {
				t.Fatal(err)
			}

			logs := e.logs.String()
			if !strings.Contains(logs, "msg=audit") || strings.Count(logs, "\n") < 20 {
				t.Fatalf("the run logged too little to prove anything:\n%s", logs)
			}
			for _, s := range secrets {
				if s == "" {
					t.Fatal("a secret of the run is empty: the run went wrong")
				}
				if strings.Contains(logs, s) {
					t.Errorf("the logs contain a secret (%.8s…)", s)
				}
			}
			if m := secretPatterns.FindString(logs); m != "" {
				t.Errorf("the logs contain token material (%.12s…)", m)
			}
		})
	}
}
