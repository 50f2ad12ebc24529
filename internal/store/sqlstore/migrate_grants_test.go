package sqlstore

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// TestMigrateMergesGrantsToOnePerApp takes a database written before
// migration 8, where one user could hold several unrevoked grants to one
// app, and checks that the upgrade merges them: the newest survives with
// the union of their scopes and the longest lifetime, takes over their
// tokens and codes, and the unique index then refuses a second grant.
func TestMigrateMergesGrantsToOnePerApp(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, db *DB) {
		ctx := t.Context()
		p, err := db.migrator()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(ctx, 7); err != nil {
			t.Fatalf("up to 7: %v", err)
		}
		now := time.Now().UTC().Truncate(time.Second)
		for _, c := range []string{"notes", "photos"} {
			if _, err := db.write.ExecContext(ctx, "INSERT INTO clients (id, secret_hash, name, public, redirect_uris, grant_types, scopes, "+
				"code_ttl, access_token_ttl, refresh_token_ttl) VALUES ('"+c+"', '', '"+c+"', false, '[]', '[]', '[]', 0, 0, 0)"); err != nil {
				t.Fatalf("insert a version-7 client: %v", err)
			}
		}
		// A user as version 7 wrote it (later versions add columns).
		if _, err := db.write.ExecContext(ctx, "INSERT INTO users (id, username, password_hash, name, email, created_at, updated_at)"+
			" VALUES ('u', 'u', '', '', '', "+db.d.arg(1)+", "+db.d.arg(1)+")", db.d.time(now)); err != nil {
			t.Fatalf("insert a version-7 user: %v", err)
		}
		grants := []store.Grant{
			{ID: "old", UserID: "u", ClientID: "notes", Scopes: []string{"openid", "notes.read"}, CreatedAt: now.Add(-3 * time.Hour)},
			{ID: "newest", UserID: "u", ClientID: "notes", Scopes: []string{"notes.write", "openid"}, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)},
			{ID: "lapsed", UserID: "u", ClientID: "notes", Scopes: []string{"admin"}, CreatedAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(-24 * time.Hour)},
			{ID: "revoked", UserID: "u", ClientID: "notes", Scopes: []string{"admin"}, CreatedAt: now.Add(-2 * time.Hour), RevokedAt: now.Add(-time.Minute)},
			{ID: "photos", UserID: "u", ClientID: "photos", Scopes: []string{"photos.read"}, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(2 * time.Hour)},
			{ID: "limited-a", UserID: "u", ClientID: "photos", Scopes: []string{"photos.read"}, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(5 * time.Hour)},
		}
		for _, g := range grants {
			if err := db.CreateGrant(ctx, g); err != nil {
				t.Fatalf("CreateGrant(%s): %v", g.ID, err)
			}
		}
		// Tokens and a code as version 7 wrote them (later versions add
		// columns, so the current store code cannot write them here).
		arg := db.d.arg
		for _, q := range []struct {
			stmt string
			args []any
		}{
			{"INSERT INTO tokens (hash, kind, family_id, grant_id, client_id, user_id, scopes, created_at, expires_at, claims)" +
				" VALUES ('rt-old', 'refresh', 'f1', 'old', 'notes', 'u', '[]', " + arg(1) + ", " + arg(2) + ", '')",
				[]any{db.d.time(now), db.d.time(now.Add(time.Hour))}},
			{"INSERT INTO tokens (hash, kind, family_id, grant_id, client_id, user_id, scopes, created_at, expires_at, claims)" +
				" VALUES ('rt-newest', 'refresh', 'f2', 'newest', 'notes', 'u', '[]', " + arg(1) + ", " + arg(2) + ", '')",
				[]any{db.d.time(now), db.d.time(now.Add(time.Hour))}},
			{"INSERT INTO codes (hash, grant_id, client_id, user_id, redirect_uri, redirect_uri_given, scopes, code_challenge," +
				" code_challenge_method, nonce, created_at, expires_at, session_id, acr, claims)" +
				" VALUES ('code-old', 'old', 'notes', 'u', '', false, '[]', '', '', '', " + arg(1) + ", " + arg(2) + ", '', '', '')",
				[]any{db.d.time(now), db.d.time(now.Add(time.Minute))}},
		} {
			if _, err := db.write.ExecContext(ctx, q.stmt, q.args...); err != nil {
				t.Fatalf("insert version-7 rows: %v", err)
			}
		}

		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}

		g, err := db.FindGrant(ctx, "u", "notes")
		if err != nil {
			t.Fatal(err)
		}
		// The newest survives; the union of the unexpired grants' scopes; the
		// longest lifetime (old had none: until revoked).
		if g.ID != "newest" || !slices.Equal(g.Scopes, []string{"notes.read", "notes.write", "openid"}) || !g.ExpiresAt.IsZero() {
			t.Fatalf("merged grant: %+v", g)
		}
		if _, err := db.GetGrant(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the merged grant old is still there: %v", err)
		}
		for _, h := range []string{"rt-old", "rt-newest"} {
			if tok, err := db.GetToken(ctx, h); err != nil || tok.GrantID != "newest" || !tok.Active(now) {
				t.Fatalf("token %s after the merge: %+v, %v", h, tok, err)
			}
		}
		if c, err := db.GetCode(ctx, "code-old"); err != nil || c.GrantID != "newest" {
			t.Fatalf("code after the merge: %+v, %v", c, err)
		}
		lapsed, err := db.GetGrant(ctx, "lapsed")
		if err != nil || !lapsed.RevokedAt.Equal(lapsed.ExpiresAt) {
			t.Fatalf("an expired grant is closed at its expiry: %+v, %v", lapsed, err)
		}
		if r, err := db.GetGrant(ctx, "revoked"); err != nil || !r.RevokedAt.Equal(now.Add(-time.Minute)) || len(r.Scopes) != 1 {
			t.Fatalf("a revoked grant is left as it was: %+v, %v", r, err)
		}
		ph, err := db.FindGrant(ctx, "u", "photos")
		if err != nil || ph.ID != "photos" || !ph.ExpiresAt.Equal(now.Add(5*time.Hour)) {
			t.Fatalf("photos grant: %+v, %v; want the newest with the later expiry", ph, err)
		}
		if err := db.CreateGrant(ctx, store.Grant{ID: "second", UserID: "u", ClientID: "notes"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a second grant after the migration: %v, want ErrConflict", err)
		}
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
