package sqlstore

import (
	"encoding/hex"
	"path/filepath"
	"strings"
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
		// A user, two sessions and a pending request as version 1 wrote them.
		created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		arg := db.d.arg
		for _, q := range []struct {
			stmt string
			args []any
		}{
			{"INSERT INTO users (id, username, password_hash, name, email) VALUES ('u', 'u', '', '', '')", nil},
			{"INSERT INTO sessions (hash, user_id, auth_time, created_at, expires_at) VALUES ('h1', 'u', " + arg(1) + ", " + arg(1) + ", " + arg(2) + ")",
				[]any{db.d.time(created), db.d.time(created.Add(24 * time.Hour))}},
			{"INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES ('h2', 'u', " + arg(1) + ", " + arg(2) + ")",
				[]any{db.d.time(created.Add(time.Hour)), db.d.time(created.Add(24 * time.Hour))}},
			{"INSERT INTO auth_requests (id, browser_hash, client_id, redirect_uri, redirect_uri_given, response_type, scopes, state, " +
				"code_challenge, code_challenge_method, nonce, expires_at) VALUES ('ar', '', 'old', '', false, 'code', '[]', '', '', '', '', " + arg(1) + ")",
				[]any{db.d.time(created.Add(time.Hour))}},
		} {
			if _, err := db.write.ExecContext(ctx, q.stmt, q.args...); err != nil {
				t.Fatalf("insert version-1 rows: %v", err)
			}
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		checkMigratedRows := func(what string) {
			t.Helper()
			s1, err := db.GetSession(ctx, "h1", created)
			if err != nil {
				t.Fatalf("%s: GetSession(h1): %v", what, err)
			}
			s2, err := db.GetSession(ctx, "h2", created)
			if err != nil {
				t.Fatalf("%s: GetSession(h2): %v", what, err)
			}
			for _, s := range []struct {
				got     string
				created time.Time
				seen    time.Time
			}{{s1.ID, created, s1.LastSeenAt}, {s2.ID, created.Add(time.Hour), s2.LastSeenAt}} {
				// 128 random bits in hex: public, and unrelated to the hash.
				if b, err := hex.DecodeString(s.got); err != nil || len(b) != 16 || strings.Contains(s.got, "h1") {
					t.Errorf("%s: sid of an existing session = %q, want 32 random hex digits", what, s.got)
				}
				if !s.seen.Equal(s.created) {
					t.Errorf("%s: LastSeenAt of an existing session = %v, want its CreatedAt %v", what, s.seen, s.created)
				}
			}
			if s1.ID == s2.ID {
				t.Errorf("%s: two existing sessions got the same sid %q", what, s1.ID)
			}
			if s1.UserID != "u" || !s1.AuthTime.Equal(created) || !s1.ExpiresAt.Equal(created.Add(24*time.Hour)) || s1.Clients != nil {
				t.Errorf("%s: existing session changed: %+v", what, s1)
			}
			r, err := db.GetAuthRequest(ctx, "ar")
			if err != nil {
				t.Fatalf("%s: GetAuthRequest: %v", what, err)
			}
			if r.MaxAge != -1 || r.SessionID != "" || r.Claims != "" || r.Prompt != "" {
				t.Errorf("%s: existing auth request: MaxAge %d (want -1, absent), SessionID %q, Claims %q, Prompt %q",
					what, r.MaxAge, r.SessionID, r.Claims, r.Prompt)
			}
			u, err := db.GetUser(ctx, "u")
			if err != nil || u.EmailVerified {
				t.Errorf("%s: existing user: %+v, %v", what, u, err)
			}
		}
		checkMigratedRows("after the upgrade")
		got, err := db.GetClient(ctx, "old")
		if err != nil {
			t.Fatalf("GetClient after the upgrade: %v", err)
		}
		if got.Name != "Old" || got.AccessTokenFormat != "" || got.TokenEndpointAuthMethod != "" || got.JWKS != "" || got.JWKSURI != "" ||
			got.PostLogoutRedirectURIs != nil || got.BackchannelLogoutURI != "" || got.FirstParty || got.IDTokenAlg != "" || got.Description != "" {
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
			if err := db.UpdateClient(ctx, store.Client{ID: "old", TokenEndpointAuthMethod: "private_key_jwt", JWKSURI: "https://x.example/jwks",
				PostLogoutRedirectURIs: []string{"https://x.example/bye"}, FirstParty: true, IDTokenAlg: "ES256"}); err != nil {
				t.Fatalf("%s: UpdateClient: %v", what, err)
			}
			if err := db.AddSessionClient(ctx, "h1", "old", now); err != nil {
				t.Fatalf("%s: AddSessionClient: %v", what, err)
			}
			if err := db.TouchSession(ctx, "h2", now); err != nil {
				t.Fatalf("%s: TouchSession: %v", what, err)
			}
			if s, err := db.GetSession(ctx, "h1", created); err != nil || len(s.Clients) != 1 {
				t.Fatalf("%s: GetSession: %+v, %v", what, s, err)
			}
			if err := db.CreateTokens(ctx, []store.Token{{Hash: "rt-" + what, Kind: store.KindRefresh, FamilyID: "f-" + what,
				ClientID: "old", UserID: "u", ExpiresAt: now.Add(time.Hour), Claims: "{}"}}); err != nil {
				t.Fatalf("%s: CreateTokens: %v", what, err)
			}
			if n, err := db.RevokeRefreshTokens(ctx, "u", []string{"old"}, now); err != nil || n != 1 {
				t.Fatalf("%s: RevokeRefreshTokens = %d, %v; want 1", what, n, err)
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
		checkMigratedRows("after down and up")
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
