package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/token"
)

func kidOf(t *testing.T, raw string) string {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Headers[0].KeyID
}

// TestOIDC_10_1_1_KeyRotation: a rotated key is published before it signs,
// tokens signed before the rotation keep verifying, and new tokens use the
// new key (SECURITY.md K1, conformance oidcc-server-rotate-keys).
func TestOIDC_10_1_1_KeyRotation(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := context.Background()
			before, err := e.ccConfig(e.svc).Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			oldKid := kidOf(t, before.AccessToken)
			seal := session.DeriveKey([]byte(strings.Repeat("k", 32)), "signing-keys")
			next, err := token.Rotate(ctx, e.store, seal, "ES256", e.clock.Now(), 5*time.Minute, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.server.ReloadKeys(ctx); err != nil {
				t.Fatal(err)
			}
			set := e.jwks()
			if len(set.Key(next.ID)) != 1 || len(set.Key(oldKid)) != 1 {
				t.Fatalf("JWKS must hold the next key %s before it signs, and still the old %s", next.ID, oldKid)
			}
			during, _ := e.ccConfig(e.svc).Token(ctx)
			if kidOf(t, during.AccessToken) != oldKid {
				t.Fatal("the next key signed before its publish delay passed")
			}
			e.clock.Advance(5*time.Minute + time.Second)
			after, err := e.ccConfig(e.svc).Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if kidOf(t, after.AccessToken) != next.ID {
				t.Fatalf("new tokens are signed by %s, want the new key %s", kidOf(t, after.AccessToken), next.ID)
			}
			e.verifyJWT(before.AccessToken)
			e.verifyJWT(after.AccessToken)
			if !active(e.introspect(&e.svc, before.AccessToken)) {
				t.Fatal("a token signed before the rotation no longer introspects")
			}
		})
	}
}

// TestTwoNodesShareKeysAndState: two Latchkey processes on one database
// serve the same JWKS, and each accepts what the other issued.
func TestTwoNodesShareKeysAndState(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			dsn := dbtest.DSN(t, backend)
			open := func() *sqlstore.DB {
				db, err := sqlstore.Open(ctx, dsn)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				if err := db.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
				return db
			}
			a := newEnvOn(t, backend, open())
			cfg := config.Default()
			cfg.SystemSecret = strings.Repeat("k", 32)
			cfg.Issuer = a.issuer
			cfg.Tokens.Audience = []string{a.issuer, "notes-api"}
			b, err := server.New(server.Options{Config: cfg, Store: open(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: a.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			nodeB := httptest.NewServer(b.Handler())
			defer nodeB.Close()

			jwksA := readBody(t, mustGet(t, a.issuer+"/jwks.json"))
			jwksB := readBody(t, mustGet(t, nodeB.URL+"/jwks.json"))
			if jwksA != jwksB {
				t.Fatalf("the nodes publish different keys:\n%s\n%s", jwksA, jwksB)
			}
			tok, err := a.ccConfig(a.svc).Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			req := a.formRequest("/introspect", nil, &a.svc)
			req.URL.Host = strings.TrimPrefix(nodeB.URL, "http://")
			req.Body = io.NopCloser(strings.NewReader("token=" + tok.AccessToken))
			req.ContentLength = -1
			if got := a.doToken(req); !active(got) {
				t.Fatalf("node B does not accept node A's token: %v", got.body)
			}
		})
	}
}

func mustGet(t *testing.T, u string) *http.Response {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
