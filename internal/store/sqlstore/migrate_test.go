package sqlstore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// TestMigrateUpgradesAndDowngrades takes a database written at version 1
// (the first release's schema) up to the latest version, keeping its rows,
// then every migration down to version 1 and up again: each Down undoes
// its Up on both dialects.
func TestMigrateUpgradesAndDowngrades(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, db *DB) {
		ctx := t.Context()
		p, err := db.migrator()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(ctx, 1); err != nil {
			t.Fatalf("up to 1: %v", err)
		}
		// A client as version 1 wrote it.
		if _, err := db.write.ExecContext(ctx, "INSERT INTO clients (id, secret_hash, name, public, redirect_uris, grant_types, scopes, "+
			"code_ttl, access_token_ttl, refresh_token_ttl) VALUES ('old', '', 'Old', false, '[]', '[]', '[\"openid\"]', 0, 0, 0)"); err != nil {
			t.Fatalf("insert a version-1 client: %v", err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		got, err := db.GetClient(ctx, "old")
		if err != nil {
			t.Fatalf("GetClient after the upgrade: %v", err)
		}
		if got.Name != "Old" || got.AccessTokenFormat != "" || got.TokenEndpointAuthMethod != "" || got.JWKS != "" || got.JWKSURI != "" {
			t.Fatalf("client after the upgrade: %+v", got)
		}
		exercise := func(what string) {
			t.Helper()
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			if err := db.CreateSigningKey(ctx, store.SigningKey{ID: "k", Algorithm: "ES256", Sealed: []byte{0, 1}, ActiveAt: now}); err != nil {
				t.Fatalf("%s: CreateSigningKey: %v", what, err)
			}
			if err := db.UseOnce(ctx, "s", "id", now.Add(time.Minute), now); err != nil {
				t.Fatalf("%s: UseOnce: %v", what, err)
			}
			if err := db.UpdateClient(ctx, store.Client{ID: "old", TokenEndpointAuthMethod: "private_key_jwt", JWKSURI: "https://x.example/jwks"}); err != nil {
				t.Fatalf("%s: UpdateClient: %v", what, err)
			}
		}
		exercise("after the upgrade")
		if _, err := p.DownTo(ctx, 1); err != nil {
			t.Fatalf("down to 1: %v", err)
		}
		if _, err := db.GetClient(ctx, "old"); err == nil {
			t.Fatal("GetClient succeeded on the version-1 schema")
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
		if _, err := db.ListSigningKeys(ctx); err != nil {
			t.Fatalf("ListSigningKeys: %v", err)
		}
		exercise("after down and up")
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		db, err := Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "latchkey.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		run(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		admin, server := postgresAdmin(t)
		run(t, openPostgresTest(t, createPostgresDatabase(t, admin, server)))
	})
}
