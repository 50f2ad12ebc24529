package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// replayBase is the base time of these tests.
var replayBase = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// freshPostgres returns a migrated store on a database of its own.
func freshPostgres(t *testing.T) (*DB, string) {
	t.Helper()
	admin, server := postgresAdmin(t)
	dsn := createPostgresDatabase(t, admin, server)
	db := openPostgresTest(t, dsn)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db, dsn
}

// backends runs fn on a fresh SQLite store and a fresh PostgreSQL store;
// second opens another store on the same database (another process or
// node), closed when t ends.
func backends(t *testing.T, fn func(t *testing.T, db *DB, second func() *DB)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "latchkey.db")
		fn(t, openSQLiteFile(t, path), func() *DB { return openSQLiteFile(t, path) })
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		db, dsn := freshPostgres(t)
		fn(t, db, func() *DB { return openPostgresTest(t, dsn) })
	})
}

func countReplay(t *testing.T, db *DB) int {
	t.Helper()
	var n int
	if err := db.write.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM replay").Scan(&n); err != nil {
		t.Fatalf("count replay: %v", err)
	}
	return n
}

// TestReplayPurgesExpiredRecords writes a record per call, each expiring a
// second after it was written: the table must stay near the number of
// unexpired records instead of growing with every call.
func TestReplayPurgesExpiredRecords(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, db *DB, _ func() *DB) {
		const calls = 20 * replayPurgeEvery
		for i := range calls {
			now := replayBase.Add(time.Duration(i) * time.Second)
			if err := db.UseOnce(t.Context(), "s", fmt.Sprintf("id-%d", i), now.Add(time.Second), now); err != nil {
				t.Fatalf("UseOnce %d: %v", i, err)
			}
		}
		// At most the records written since the last purge, plus the one
		// that had not expired at it.
		if n := countReplay(t, db); n > replayPurgeEvery+1 {
			t.Fatalf("%d records left after %d calls, want at most %d", n, calls, replayPurgeEvery+1)
		}
	})
}

// TestReplayPurgeKeepsUnexpiredRecords checks that the purge removes only
// records expired at the caller's now, whatever their number.
func TestReplayPurgeKeepsUnexpiredRecords(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, db *DB, _ func() *DB) {
		ctx := t.Context()
		const live = 3 * replayPurgeBatch
		for i := range live {
			if err := db.UseOnce(ctx, "live", fmt.Sprintf("%d", i), replayBase.Add(time.Hour), replayBase); err != nil {
				t.Fatal(err)
			}
		}
		for range 4 * replayPurgeEvery {
			db.purgeReplay(ctx, replayBase.Add(time.Hour-time.Microsecond))
		}
		if n := countReplay(t, db); n != live {
			t.Fatalf("%d records left, want the %d unexpired ones", n, live)
		}
		for i := range live {
			err := db.UseOnce(ctx, "live", fmt.Sprintf("%d", i), replayBase.Add(2*time.Hour), replayBase.Add(time.Hour-time.Microsecond))
			if !errors.Is(err, store.ErrAlreadyUsed) {
				t.Fatalf("UseOnce(%d) = %v, want ErrAlreadyUsed", i, err)
			}
		}
		db.purgeReplay(ctx, replayBase.Add(time.Hour))
		if n, want := countReplay(t, db), live-replayPurgeBatch; n != want {
			t.Fatalf("one purge left %d records, want %d (a batch of %d gone)", n, want, replayPurgeBatch)
		}
	})
}

// TestReplayHoldsAcrossReopenAndProcesses checks that a record lives in the
// database, not in the DB value: a store reopened on the same database,
// and a second one open at the same time (another process or node), see it.
func TestReplayHoldsAcrossReopenAndProcesses(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, db *DB, second func() *DB) {
		ctx := t.Context()
		if err := db.UseOnce(ctx, "client_assertion:c", "jti", replayBase.Add(time.Minute), replayBase); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		reopened := second()
		if err := reopened.UseOnce(ctx, "client_assertion:c", "jti", replayBase.Add(time.Hour), replayBase.Add(time.Second)); !errors.Is(err, store.ErrAlreadyUsed) {
			t.Fatalf("UseOnce after reopening = %v, want ErrAlreadyUsed", err)
		}
		other := second()
		if err := other.UseOnce(ctx, "client_assertion:c", "jti", replayBase.Add(time.Hour), replayBase.Add(time.Second)); !errors.Is(err, store.ErrAlreadyUsed) {
			t.Fatalf("UseOnce on a second store = %v, want ErrAlreadyUsed", err)
		}
		if err := other.UseOnce(ctx, "client_assertion:c", "jti", replayBase.Add(time.Hour), replayBase.Add(time.Minute)); err != nil {
			t.Fatalf("UseOnce after expiry on a second store: %v", err)
		}
	})
}

// TestReplayRaceAcrossProcesses races 32 callers on one identifier through
// two stores on one database, as two processes or nodes would: exactly one
// may succeed, for a new identifier and for an expired record alike.
func TestReplayRaceAcrossProcesses(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, db *DB, second func() *DB) {
		ctx := t.Context()
		nodes := []*DB{db, second()}
		const racers, iterations = 32, 10
		for it := range iterations {
			now := replayBase.Add(time.Duration(it) * time.Hour)
			for _, id := range []string{fmt.Sprintf("new-%d", it), "reused"} {
				start := make(chan struct{})
				errs := make([]error, racers)
				var wg sync.WaitGroup
				for i := range racers {
					wg.Go(func() {
						<-start
						errs[i] = nodes[i%2].UseOnce(ctx, "s", id, now.Add(time.Minute), now)
					})
				}
				close(start)
				wg.Wait()
				won := 0
				for i, err := range errs {
					switch {
					case err == nil:
						won++
					case !errors.Is(err, store.ErrAlreadyUsed):
						t.Fatalf("iteration %d, %s, racer %d: %v", it, id, i, err)
					}
				}
				if won != 1 {
					t.Fatalf("iteration %d, %s: %d racers succeeded, want 1", it, id, won)
				}
			}
		}
	})
}

// TestKeysOfMaximalLength stores replay records and a signing key whose
// keys have the longest length the store accepts, in bytes that do not
// compress: PostgreSQL must still fit (scope, id) in its B-tree.
func TestKeysOfMaximalLength(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, db *DB, _ func() *DB) {
		ctx := t.Context()
		r := rand.New(rand.NewPCG(1, 2))
		long := func() string {
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			var b strings.Builder
			for range maxKeyBytes {
				b.WriteByte(alphabet[r.IntN(len(alphabet))])
			}
			return b.String()
		}
		scope, id := long(), long()
		if err := db.UseOnce(ctx, scope, id, replayBase.Add(time.Hour), replayBase); err != nil {
			t.Fatalf("UseOnce(%d-byte scope and id): %v", maxKeyBytes, err)
		}
		if err := db.UseOnce(ctx, scope, id, replayBase.Add(time.Hour), replayBase); !errors.Is(err, store.ErrAlreadyUsed) {
			t.Fatalf("UseOnce(again) = %v, want ErrAlreadyUsed", err)
		}
		if err := db.UseOnce(ctx, scope+"x", id, replayBase.Add(time.Hour), replayBase); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("UseOnce(%d-byte scope) = %v, want ErrInvalid", maxKeyBytes+1, err)
		}
		kid := long()
		if err := db.CreateSigningKey(ctx, store.SigningKey{ID: kid, Algorithm: "ES256", ActiveAt: replayBase}); err != nil {
			t.Fatalf("CreateSigningKey(%d-byte id): %v", maxKeyBytes, err)
		}
		if err := db.RetireSigningKey(ctx, kid, replayBase.Add(time.Hour)); err != nil {
			t.Fatalf("RetireSigningKey: %v", err)
		}
	})
}

// TestUseOnceIsOneStatement checks the cost of UseOnce: one statement, and
// one more, the purge, every replayPurgeEvery calls.
func TestUseOnceIsOneStatement(t *testing.T) {
	t.Parallel()
	db := openSQLiteTest(t)
	ctx := context.Background()
	before := db.Queries()
	for i := range 2 * replayPurgeEvery {
		err := db.UseOnce(ctx, "s", "id", replayBase.Add(time.Minute), replayBase)
		if i > 0 && !errors.Is(err, store.ErrAlreadyUsed) {
			t.Fatalf("UseOnce %d = %v", i, err)
		}
	}
	if got, want := db.Queries()-before, int64(2*replayPurgeEvery+2); got != want {
		t.Fatalf("Queries grew by %d for %d calls, want %d", got, 2*replayPurgeEvery, want)
	}
}
