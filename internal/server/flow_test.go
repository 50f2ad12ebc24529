package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
)

func (e *env) oauth2Config(c testClient, scopes ...string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     c.id,
		ClientSecret: c.secret,
		RedirectURL:  c.redirect,
		Scopes:       scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.issuer + "/authorize",
			TokenURL:  e.issuer + "/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
}

// refresh exchanges a refresh token through golang.org/x/oauth2.
func refresh(ctx context.Context, conf *oauth2.Config, rt string) (*oauth2.Token, error) {
	return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Unix(1, 0)}).Token()
}

func oauthErrorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// TestRFC6749_4_1_CodeFlowWithGolangOAuth2 drives the whole flow with a
// client nobody here wrote: authorize -> login -> consent -> code -> token
// -> refresh -> reuse of the rotated refresh token rejected, which revokes
// the family.
func TestRFC6749_4_1_CodeFlowWithGolangOAuth2(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := context.Background()
			for _, c := range []testClient{e.web, e.native} {
				t.Run(c.id, func(t *testing.T) {
					scopes := []string{"notes.read", "offline_access"}
					conf := e.oauth2Config(c, scopes...)
					if c.secret == "" {
						conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
						conf.RedirectURL = "http://127.0.0.1:49152/cb" // RFC 8252 §7.3: any port
					}
					verifier := oauth2.GenerateVerifier()
					state := "st-" + c.id
					loc := e.authorize(e.browser(), conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))

					if got := loc.Scheme + "://" + loc.Host + loc.Path; got != conf.RedirectURL {
						t.Fatalf("redirected to %s, want %s", got, conf.RedirectURL)
					}
					q := loc.Query()
					if q.Get("state") != state || q.Get("iss") != e.issuer || q.Get("code") == "" {
						t.Fatalf("authorization response %v: want code, state %q and iss %q (RFC 9207)", q, state, e.issuer)
					}

					tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
					if err != nil {
						t.Fatalf("exchange: %v", err)
					}
					if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.RefreshToken == "" {
						t.Fatalf("token %+v: want a Bearer access token and a refresh token", tok)
					}
					if tok.Extra("scope") != "notes.read offline_access" {
						t.Fatalf("scope %v", tok.Extra("scope"))
					}
					if d := time.Until(tok.Expiry); d < 50*time.Minute || d > 61*time.Minute {
						t.Fatalf("expires in %v, want about an hour", d)
					}

					tok2, err := refresh(ctx, conf, tok.RefreshToken)
					if err != nil {
						t.Fatalf("refresh: %v", err)
					}
					if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken || tok2.AccessToken == tok.AccessToken {
						t.Fatal("RFC 9700 §4.14.2: the refresh token must rotate on use")
					}
					// Past tokens.refresh_reuse_grace, a rotated token is reuse.
					e.clock.Advance(config.DefaultRefreshReuseGrace + time.Second)
					if _, err := refresh(ctx, conf, tok.RefreshToken); oauthErrorCode(err) != "invalid_grant" {
						t.Fatalf("reuse of a rotated refresh token: got %v, want invalid_grant", err)
					}
					if _, err := refresh(ctx, conf, tok2.RefreshToken); oauthErrorCode(err) != "invalid_grant" {
						t.Fatalf("after reuse the whole family must be revoked; refresh with the newest token: %v", err)
					}
				})
			}
		})
	}
}

// TestSSO_SecondAuthorizationSkipsLoginAndConsent: a signed-in user who
// already granted the scopes goes straight back to the client.
func TestSSO_SecondAuthorizationSkipsLoginAndConsent(t *testing.T) {
	e := newEnv(t, "sqlite")
	b := e.browser()
	conf := e.oauth2Config(e.web, "notes.read")
	e.authorize(b, conf.AuthCodeURL("one"))
	resp, err := b.Get(conf.AuthCodeURL("two"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "two" {
		t.Fatalf("second authorization: status %d, location %v", resp.StatusCode, loc)
	}
	// A wider request needs consent again, but no new sign-in.
	resp, err = b.Get(conf.AuthCodeURL("three", oauth2.SetAuthURLParam("scope", "notes.read photos.read")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/consent" {
		t.Fatalf("wider scope landed on %s, want /consent", resp.Request.URL.Path)
	}
}
