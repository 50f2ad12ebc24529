package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
)

// TestLogs_OnlyServerFailuresAreLoggedAsFailures: a client's mistake
// (an error answer of the 4xx kind) and a successful sign-in log no
// warning and no error; the warning and error levels are kept for
// failures of the server, which an operator must look at.
func TestLogs_OnlyServerFailuresAreLoggedAsFailures(t *testing.T) {
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) { c.Session.RevokeRefreshOnLogout = true })
	failures := func() []string {
		var out []string
		for _, l := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
				out = append(out, l)
			}
		}
		return out
	}
	t.Run("a_first_sign_in_and_its_code_log_no_failure", func(t *testing.T) {
		tok := e.redeem(e.codeFor(e.browser(), "openid notes.read", ""), "")
		if tok.status != 200 {
			t.Fatalf("%d %v", tok.status, tok.body)
		}
		if f := failures(); len(f) > 0 {
			t.Fatalf("logged:\n%s", strings.Join(f, "\n"))
		}
	})
	t.Run("token_request_errors_of_the_client_log_no_failure", func(t *testing.T) {
		wantError(t, e.postToken(url.Values{"grant_type": {"authorization_code"}, "code": {"lk_ac_" + strings.Repeat("A", 43)}, "redirect_uri": {e.web.redirect}}, &e.web, true), 400, "invalid_grant")
		wantError(t, e.postToken(url.Values{"grant_type": {"nope"}}, &e.web, true), 400, "unsupported_grant_type")
		if f := failures(); len(f) > 0 {
			t.Fatalf("logged:\n%s", strings.Join(f, "\n"))
		}
	})
	t.Run("a_logout_that_revokes_refresh_tokens_logs_no_failure", func(t *testing.T) {
		ctx := context.Background()
		rp := e.oidcClient("tv", nil)
		p := e.provider(ctx)
		b := e.browser()
		_, tok := e.signIn(ctx, b, p, e.rpConfig(p, rp, "openid", "offline_access"))
		hint, _ := tok.Extra("id_token").(string)
		resp, err := b.Get(e.issuer + "/logout?" + url.Values{"id_token_hint": {hint}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if !strings.Contains(e.logs.String(), "logout revoked refresh tokens") {
			t.Fatalf("the logout revoked nothing:\n%s", e.logs.String())
		}
		if f := failures(); len(f) > 0 {
			t.Fatalf("logged:\n%s", strings.Join(f, "\n"))
		}
	})
}
