package sqlstore

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/storetest"
)

// openSQLiteTest opens and migrates a fresh SQLite file in t's temporary
// directory, closed when t ends.
func openSQLiteTest(t testing.TB) *DB {
	t.Helper()
	return openSQLiteFile(t, filepath.Join(t.TempDir(), "latchkey.db"))
}

func openSQLiteFile(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return openSQLiteTest(t) })
}

func TestSQLiteSettings(t *testing.T) {
	t.Parallel()
	db := openSQLiteTest(t)
	ctx := t.Context()
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"foreign_keys": "1",
		"busy_timeout": sqliteBusyTimeoutMS,
	} {
		for name, pool := range map[string]querier{"writer": db.write, "reader": db.read} {
			var got string
			if err := pool.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("%s PRAGMA %s: %v", name, pragma, err)
			}
			if got != want {
				t.Errorf("%s PRAGMA %s = %q, want %q", name, pragma, got, want)
			}
		}
	}
	if _, err := db.read.ExecContext(ctx, "DELETE FROM clients"); err == nil {
		t.Errorf("the reader pool accepted a write")
	}
}

func TestSQLiteMigrateTwiceIsANoOp(t *testing.T) {
	t.Parallel()
	db := openSQLiteTest(t)
	if err := db.CreateClient(t.Context(), store.Client{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if _, err := db.GetClient(t.Context(), "c"); err != nil {
		t.Fatalf("GetClient after second Migrate: %v", err)
	}
}

// TestSQLiteWritersNeverSeeBusy has two stores on one file (two processes,
// say the server and the CLI) write at full speed: BEGIN IMMEDIATE and the
// busy timeout must keep SQLITE_BUSY from surfacing.
func TestSQLiteWritersNeverSeeBusy(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	a := openSQLiteFile(t, path)
	b := openSQLiteFile(t, path)
	ctx := t.Context()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := a.CreateClient(ctx, store.Client{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	for w := range writers {
		db := a
		if w%2 == 1 {
			db = b
		}
		wg.Go(func() {
			for i := range each {
				h := fmt.Sprintf("t-%d-%d", w, i)
				tok := store.Token{Hash: h, Kind: store.KindRefresh, FamilyID: h, ClientID: "c", ExpiresAt: base.Add(time.Hour)}
				if err := db.CreateTokens(ctx, []store.Token{tok}); err != nil {
					errs <- err
					continue
				}
				if err := db.RotateRefreshToken(ctx, h, base, nil); err != nil {
					errs <- err
				}
				if _, err := db.GetToken(ctx, h); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	var ok string
	if err := a.write.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check = %q, %v", ok, err)
	}
}

func TestQueriesCountsStatements(t *testing.T) {
	t.Parallel()
	db := openSQLiteTest(t)
	before := db.Queries()
	if err := db.CreateClient(t.Context(), store.Client{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetClient(t.Context(), "c"); err != nil {
		t.Fatal(err)
	}
	if got := db.Queries() - before; got != 2 {
		t.Fatalf("Queries grew by %d for one insert and one select, want 2", got)
	}
}

func TestOpenRefusesUnknownDSN(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{"", "sqlite:", "mysql://u:secret@h/db", "sqlite3:x.db"} {
		db, err := Open(t.Context(), dsn)
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", dsn)
		}
	}
}
