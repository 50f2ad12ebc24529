package sqlstore

import (
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// TestStats_CountsRowsAndExpiredOnes: Stats counts every table's rows and,
// where rows expire, those expired at the time asked about and the oldest
// expiry among them.
func TestStats_CountsRowsAndExpiredOnes(t *testing.T) {
	groupBackends(t, func(t *testing.T, db *DB) {
		groupClient(t, db)
		now := time.Now().UTC().Truncate(time.Microsecond)
		tok := func(hash string, exp time.Time) store.Token {
			return store.Token{Hash: hash, Kind: store.KindAccess, ClientID: "c", ExpiresAt: exp}
		}
		if err := db.CreateTokens(t.Context(), []store.Token{
			tok("old", now.Add(-2*time.Hour)), tok("older", now.Add(-3*time.Hour)), tok("live", now.Add(time.Hour)),
		}); err != nil {
			t.Fatal(err)
		}
		stats, err := db.Stats(t.Context(), now)
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]TableStats{}
		for _, s := range stats {
			byName[s.Table] = s
		}
		if len(byName) != len(statsTables) {
			t.Fatalf("%d tables, want %d", len(byName), len(statsTables))
		}
		got := byName["tokens"]
		if got.Rows != 3 || got.Expired != 2 || !got.OldestExpiry.Equal(now.Add(-3*time.Hour)) || !got.Expires {
			t.Fatalf("tokens: %+v, want 3 rows, 2 expired, the oldest 3 h ago", got)
		}
		if c := byName["clients"]; c.Rows != 1 || c.Expires || c.Expired != 0 {
			t.Fatalf("clients: %+v", c)
		}
		if c := byName["codes"]; c.Rows != 0 || c.Expired != 0 || !c.OldestExpiry.IsZero() {
			t.Fatalf("codes: %+v", c)
		}
	})
}

// TestMigrationStatus_ShowsAndChangesNothing: a fresh database has every
// migration pending, and asking changes nothing; after Migrate none is.
func TestMigrationStatus_ShowsAndChangesNothing(t *testing.T) {
	db, err := Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for range 2 {
		st, err := db.MigrationStatus(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		// Every migration this binary has, whose numbers may skip one that
		// another change numbered and lands separately.
		all, err := fs.Glob(migrations, "migrations/sqlite/*.sql")
		if err != nil {
			t.Fatal(err)
		}
		if st.Current != 0 || st.Latest < 13 || len(st.Pending) != len(all) || len(all) < 13 {
			t.Fatalf("fresh database: %+v", st)
		}
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	st, err := db.MigrationStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Current != st.Latest || len(st.Pending) != 0 {
		t.Fatalf("migrated database: %+v", st)
	}
}
