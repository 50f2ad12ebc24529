package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkey/latchkey/internal/store"
)

// TestInTx_RetriesOnlyConcurrencyFailures: a transaction that PostgreSQL
// aborted for a deadlock (40P01) or a serialization failure (40001) runs
// again, four times in all; any other failure, a success, or a cancelled
// context ends it at once. (fn's errors are made here, so the rule is
// checked on SQLite too.)
func TestInTx_RetriesOnlyConcurrencyFailures(t *testing.T) {
	db := openSQLiteTest(t)
	// run counts the attempts; past the bound it cancels the context, so
	// a retry loop that never counts up still ends (and fails the test).
	run := func(ctx context.Context, fail error) (int, error) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		n := 0
		err := db.inTx(ctx, func(*sql.Tx) error {
			if n++; n > maxTxAttempts {
				cancel()
			}
			return fail
		})
		return n, err
	}
	for _, tc := range []struct {
		name     string
		err      error
		attempts int
	}{
		{"deadlock_runs_four_times", &pgconn.PgError{Code: "40P01"}, maxTxAttempts},
		{"serialization_failure_runs_four_times", &pgconn.PgError{Code: "40001"}, maxTxAttempts},
		{"wrapped_serialization_failure_runs_four_times", errWrap(&pgconn.PgError{Code: "40001"}), maxTxAttempts},
		{"unique_violation_runs_once", &pgconn.PgError{Code: "23505"}, 1},
		{"another_error_runs_once", errors.New("boom"), 1},
		{"success_runs_once", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := run(t.Context(), tc.err)
			if n != tc.attempts || !errors.Is(err, tc.err) {
				t.Fatalf("%d attempts, error %v; want %d, %v", n, err, tc.attempts, tc.err)
			}
		})
	}
	t.Run("cancelled_context_stops_retrying", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		n := 0
		err := db.inTx(ctx, func(*sql.Tx) error {
			n++
			cancel()
			return &pgconn.PgError{Code: "40001"}
		})
		if n != 1 || err == nil {
			t.Fatalf("%d attempts, error %v; want 1 and the error", n, err)
		}
	})
}

func errWrap(err error) error { return &wrapped{err} }

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "insert: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

// TestSQLite_ReadStatementsArePreparedOnce: a read on the SQLite pool is
// prepared once and reused, never prepared again per call.
func TestSQLite_ReadStatementsArePreparedOnce(t *testing.T) {
	db := openSQLiteTest(t)
	for range 3 {
		if _, err := db.GetClient(t.Context(), "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetClient: %v", err)
		}
	}
	n := 0
	db.stmts.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Fatalf("%d prepared statements after three identical reads, want 1", n)
	}
}

// TestSQLite_ReadPoolScalesWithCPUs: the SQLite read pool has two
// connections per CPU, at least four.
func TestSQLite_ReadPoolScalesWithCPUs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))
	db := openSQLiteTest(t)
	if got := db.read.Stats().MaxOpenConnections; got != 16 {
		t.Fatalf("read pool of %d connections on 8 CPUs, want 16", got)
	}
}

// TestSQLite_CloseCheckpointsTheWAL: Close closes every connection, the
// read pool's too, so SQLite checkpoints the WAL into the database file and
// removes it: after Close the file alone holds every commit (a copy of it
// is a complete backup).
func TestSQLite_CloseCheckpointsTheWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	db, err := Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := db.CreateClient(t.Context(), store.Client{ID: "c1", Name: "c1", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetClient(t.Context(), "c1"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("after Close the WAL still holds %d bytes", fi.Size())
	}
}
