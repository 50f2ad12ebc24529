package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// TestJanitor_DeletesExpiredRowsAndKeepsRotatedTokensOfLiveFamilies:
// latchkey janitor runs one purge on demand and prints what it deleted per
// table; a rotated refresh token whose family still lives stays.
func TestJanitor_DeletesExpiredRowsAndKeepsRotatedTokensOfLiveFamilies(t *testing.T) {
	flag, path := tempDB(t)
	mustRun(t, "", "clients", "create", "--id", "backup", "--name", "Backup", "--grant-type", "client_credentials", "--scope", "notes.read", flag)

	db := openDB(t, path)
	now := time.Now()
	err := db.CreateTokens(t.Context(), []store.Token{
		{Hash: "expired-access", Kind: store.KindAccess, ClientID: "backup", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
		{Hash: "rotated-refresh", Kind: store.KindRefresh, FamilyID: "fam", ClientID: "backup", CreatedAt: now.Add(-2 * time.Hour),
			ExpiresAt: now.Add(-time.Hour), RotatedAt: now.Add(-90 * time.Minute)},
		{Hash: "newest-refresh", Kind: store.KindRefresh, FamilyID: "fam", ClientID: "backup", CreatedAt: now.Add(-90 * time.Minute),
			ExpiresAt: now.Add(time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	var got struct {
		Skipped bool
		Deleted map[string]int64
	}
	mustRunJSON(t, &got, "janitor", flag)
	if got.Skipped || got.Deleted["tokens"] != 1 || len(got.Deleted) < 7 {
		t.Fatalf("janitor -o json = %+v, want one token deleted and a count for every purged table", got)
	}
	db = openDB(t, path)
	if _, err := db.GetToken(t.Context(), "expired-access"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired access token after janitor: %v, want deleted", err)
	}
	for _, h := range []string{"rotated-refresh", "newest-refresh"} {
		if _, err := db.GetToken(t.Context(), h); err != nil {
			t.Fatalf("%s after janitor: %v, want kept (its family lives)", h, err)
		}
	}
	db.Close()

	out := mustRun(t, "", "janitor", flag)
	if !strings.Contains(out, "TABLE") || !strings.Contains(out, "tokens") || !strings.Contains(out, "activity") {
		t.Fatalf("janitor printed %q, want a table of deleted rows", out)
	}
	if msg := mustFail(t, "", "janitor", "--output", "yaml", flag); !strings.Contains(msg, "invalid --output") {
		t.Fatalf("janitor --output yaml: %q", msg)
	}
}
