package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// groupBackends runs test on a migrated SQLite file and, as everywhere in
// this package, a migrated PostgreSQL database.
func groupBackends(t *testing.T, test func(t *testing.T, db *DB)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		db := openSQLiteTest(t)
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		test(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		admin, server := postgresAdmin(t)
		db := openPostgresTest(t, createPostgresDatabase(t, admin, server))
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		test(t, db)
	})
}

// groupClient creates the client the tokens below belong to.
func groupClient(t *testing.T, db *DB) {
	t.Helper()
	now := time.Now()
	if err := db.CreateClient(t.Context(), store.Client{ID: "c", Name: "c", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

func groupToken(hash string) store.Token {
	return store.Token{Hash: hash, Kind: store.KindAccess, ClientID: "c", ExpiresAt: time.Now().Add(time.Hour)}
}

// holdWriter occupies the group-commit writer with a transaction that waits
// until the returned release is called, so that the writes started
// meanwhile queue up and are gathered into one batch when it returns.
func holdWriter(t *testing.T, db *DB) (release func()) {
	t.Helper()
	entered, gate := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.inTx(context.Background(), func(*sql.Tx) error {
			close(entered)
			<-gate
			return nil
		})
	}()
	<-entered
	return func() {
		close(gate)
		if err := <-done; err != nil {
			t.Errorf("holding transaction: %v", err)
		}
	}
}

// queued starts fn in n goroutines while the writer is held, and gives them
// time to block on the writer's queue.
func queued(n int, fn func(i int) error) (wait func() []error) {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	// The goroutines only have to reach the channel send; a tenth of a
	// second is ages for that, and a late one merely lands in a later batch.
	time.Sleep(100 * time.Millisecond)
	return func() []error { wg.Wait(); return errs }
}

// TestGroupCommit_ConcurrentWritesShareOneCommit: writes that wait while a
// transaction commits are committed together, every one of them durable
// and readable once its caller is answered.
func TestGroupCommit_ConcurrentWritesShareOneCommit(t *testing.T) {
	groupBackends(t, func(t *testing.T, db *DB) {
		groupClient(t, db)
		release := holdWriter(t, db)
		before := db.Commits()
		const n = 32
		wait := queued(n, func(i int) error {
			return db.CreateTokens(context.Background(), []store.Token{groupToken(fmt.Sprintf("t%d", i))})
		})
		release()
		for i, err := range wait() {
			if err != nil {
				t.Fatalf("CreateTokens %d: %v", i, err)
			}
			if _, err := db.GetToken(t.Context(), fmt.Sprintf("t%d", i)); err != nil {
				t.Fatalf("token %d after its write returned: %v", i, err)
			}
		}
		// The holding transaction's commit, then the queued writes in at
		// most a few batches (maxBatch each), not one commit apiece.
		if got := db.Commits() - before; got < 2 || got > 1+n/2 {
			t.Fatalf("%d commits for 1 + %d transactions, want 2 to %d", got, n, 1+n/2)
		}
	})
}

// TestGroupCommit_TransactionsOfSeveralStatementsShareOneCommit: a batch of
// transactions that are not single statements (savepoints on SQLite, one
// transaction without them on PostgreSQL) commits once.
func TestGroupCommit_TransactionsOfSeveralStatementsShareOneCommit(t *testing.T) {
	groupBackends(t, func(t *testing.T, db *DB) {
		groupClient(t, db)
		release := holdWriter(t, db)
		before := db.Commits()
		const n = 8
		wait := queued(n, func(i int) error {
			ctx := context.Background()
			return db.inTx(ctx, func(tx *sql.Tx) error {
				return db.insertTokens(ctx, tx, []store.Token{groupToken(fmt.Sprintf("a%d", i)), groupToken(fmt.Sprintf("b%d", i))})
			})
		})
		release()
		for i, err := range wait() {
			if err != nil {
				t.Fatalf("transaction %d: %v", i, err)
			}
			for _, h := range []string{fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)} {
				if _, err := db.GetToken(t.Context(), h); err != nil {
					t.Fatalf("token %s: %v", h, err)
				}
			}
		}
		if got := db.Commits() - before; got != 2 {
			t.Fatalf("%d commits for the holding transaction and a batch of %d, want 2", got, n)
		}
	})
}

// TestGroupCommit_AFailureFailsOnlyItsCaller: in one batch, a write that
// conflicts and a transaction that fails after writing are undone alone;
// the writes around them commit.
func TestGroupCommit_AFailureFailsOnlyItsCaller(t *testing.T) {
	groupBackends(t, func(t *testing.T, db *DB) {
		groupClient(t, db)
		if err := db.CreateTokens(t.Context(), []store.Token{groupToken("taken")}); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		release := holdWriter(t, db)
		before := db.Commits()
		wait := queued(4, func(i int) error {
			ctx := context.Background()
			switch i {
			case 1: // a duplicate hash: a failed statement
				return db.CreateTokens(ctx, []store.Token{groupToken("fresh-1"), groupToken("taken")})
			case 2: // a statement that succeeds, then a failure
				return db.inTx(ctx, func(tx *sql.Tx) error {
					if err := db.insertTokens(ctx, tx, []store.Token{groupToken("fresh-2")}); err != nil {
						return err
					}
					return boom
				})
			default:
				return db.CreateTokens(ctx, []store.Token{groupToken(fmt.Sprintf("fresh-%d", i))})
			}
		})
		release()
		errs := wait()
		if !errors.Is(errs[1], store.ErrConflict) || !errors.Is(mapErr(errs[2]), boom) || errs[0] != nil || errs[3] != nil {
			t.Fatalf("outcomes %v, want nil, ErrConflict, boom, nil", errs)
		}
		for hash, want := range map[string]bool{"fresh-0": true, "fresh-1": false, "fresh-2": false, "fresh-3": true} {
			_, err := db.GetToken(t.Context(), hash)
			if got := err == nil; got != want {
				t.Errorf("token %s stored: %v, want %v (%v)", hash, got, want, err)
			}
		}
		// On SQLite the failures were rolled back to their savepoints and
		// the batch committed once; PostgreSQL ran each alone after the
		// batch failed: two commits, for fresh-0 and fresh-3.
		want := int64(1)
		if db.d.rowLocks {
			want = 2
		}
		if got := db.Commits() - before; got != want+1 {
			t.Errorf("%d commits after the holding one, want %d", got-1, want)
		}
	})
}

// TestGroupCommit_AConflictAmongSingleStatementsFailsOnlyItsCaller: a
// batch of single-statement writes (on PostgreSQL one pipeline) with a
// duplicate among them: the duplicate fails alone.
func TestGroupCommit_AConflictAmongSingleStatementsFailsOnlyItsCaller(t *testing.T) {
	groupBackends(t, func(t *testing.T, db *DB) {
		groupClient(t, db)
		if err := db.CreateTokens(t.Context(), []store.Token{groupToken("taken")}); err != nil {
			t.Fatal(err)
		}
		release := holdWriter(t, db)
		wait := queued(5, func(i int) error {
			hash := fmt.Sprintf("fresh-%d", i)
			if i == 2 {
				hash = "taken"
			}
			return db.CreateTokens(context.Background(), []store.Token{groupToken(hash)})
		})
		release()
		for i, err := range wait() {
			if want := i == 2; errors.Is(err, store.ErrConflict) != want || !want && err != nil {
				t.Errorf("write %d: %v", i, err)
			}
			if _, err := db.GetToken(t.Context(), fmt.Sprintf("fresh-%d", i)); i != 2 && err != nil {
				t.Errorf("token %d: %v", i, err)
			}
		}
	})
}

// TestGroupCommit_ARaceInsideOneBatchHasOneWinner: rotations of the same
// refresh token gathered into one batch (on PostgreSQL one pipeline of
// single statements) still have exactly one winner, whose tokens alone are
// written, and the write batched with them commits.
func TestGroupCommit_ARaceInsideOneBatchHasOneWinner(t *testing.T) {
	groupBackends(t, func(t *testing.T, db *DB) {
		groupClient(t, db)
		old := groupToken("old")
		old.Kind = store.KindRefresh
		if err := db.CreateTokens(t.Context(), []store.Token{old}); err != nil {
			t.Fatal(err)
		}
		release := holdWriter(t, db)
		const racers = 8
		wait := queued(racers+1, func(i int) error {
			ctx := context.Background()
			if i == racers {
				return db.CreateTokens(ctx, []store.Token{groupToken("bystander")})
			}
			return db.RotateRefreshToken(ctx, "old", time.Now(), []store.Token{groupToken(fmt.Sprintf("new-%d", i))})
		})
		release()
		errs := wait()
		winners := 0
		for i, err := range errs[:racers] {
			_, getErr := db.GetToken(t.Context(), fmt.Sprintf("new-%d", i))
			switch {
			case err == nil:
				winners++
				if getErr != nil {
					t.Errorf("winner %d's token: %v", i, getErr)
				}
			case errors.Is(err, store.ErrAlreadyUsed):
				if getErr == nil {
					t.Errorf("loser %d's token was written", i)
				}
			default:
				t.Errorf("rotation %d: %v", i, err)
			}
		}
		if winners != 1 {
			t.Fatalf("%d rotations succeeded, want 1", winners)
		}
		if errs[racers] != nil {
			t.Fatalf("the write batched with the race: %v", errs[racers])
		}
		if _, err := db.GetToken(t.Context(), "bystander"); err != nil {
			t.Fatalf("bystander: %v", err)
		}
	})
}

// TestGroupCommit_WritesAfterCloseFail: a write after Close returns an error
// at once instead of waiting for a writer that is gone.
func TestGroupCommit_WritesAfterCloseFail(t *testing.T) {
	db, err := Open(t.Context(), "sqlite:"+t.TempDir()+"/latchkey.db")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	done := make(chan error, 1)
	go func() { _, err := db.execWrite(context.Background(), "DELETE FROM tokens"); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, errClosed) {
			t.Fatalf("a write after Close: %v, want errClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write after Close still waits after 10 s")
	}
}

// TestRotationAndRedemptionAreTwoStatements: a refresh rotation and a code
// redemption are one conditional UPDATE and one INSERT (on PostgreSQL one
// statement that does both), and the lookups before them one statement
// each, token or code joined with its grant.
func TestRotationAndRedemptionAreTwoStatements(t *testing.T) {
	groupBackends(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		groupClient(t, db)
		now := time.Now()
		if err := db.CreateUser(ctx, store.User{ID: "u", Username: "u", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		g := store.Grant{ID: "g", UserID: "u", ClientID: "c", Scopes: []string{"s"}, CreatedAt: now}
		code := store.AuthCode{Hash: "code", GrantID: "g", ClientID: "c", UserID: "u", ExpiresAt: now.Add(time.Minute)}
		if err := db.CompleteAuthRequest(ctx, db.mustAuthRequest(t), now, &g, &code); err != nil {
			t.Fatal(err)
		}
		rt := func(h string) store.Token {
			return store.Token{Hash: h, Kind: store.KindRefresh, FamilyID: "code", GrantID: "g", ClientID: "c", UserID: "u", ExpiresAt: now.Add(time.Hour)}
		}
		count := func(what string, want int64, fn func() error) {
			t.Helper()
			before := db.Queries()
			if err := fn(); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if got := db.Queries() - before; got != want {
				t.Errorf("%s: %d statements, want %d", what, got, want)
			}
		}
		count("GetCodeWithGrant", 1, func() error {
			c, gr, err := db.GetCodeWithGrant(ctx, "code")
			if err == nil && (c.Hash != "code" || gr.ID != "g" || gr.UserID != "u") {
				err = fmt.Errorf("got %+v and %+v", c, gr)
			}
			return err
		})
		// On PostgreSQL each is one statement (a data-modifying CTE).
		writes := int64(2)
		if db.d.rowLocks {
			writes = 1
		}
		count("RedeemCode", writes, func() error { return db.RedeemCode(ctx, "code", now, []store.Token{rt("rt1")}) })
		count("GetTokenWithGrant", 1, func() error {
			tok, gr, err := db.GetTokenWithGrant(ctx, "rt1")
			if err == nil && (tok.Hash != "rt1" || gr.ID != "g") {
				err = fmt.Errorf("got %+v and %+v", tok, gr)
			}
			return err
		})
		count("RotateRefreshToken", writes, func() error { return db.RotateRefreshToken(ctx, "rt1", now, []store.Token{rt("rt2")}) })
	})
}

// mustAuthRequest creates a pending authorization request of client c.
func (db *DB) mustAuthRequest(t *testing.T) string {
	t.Helper()
	now := time.Now()
	r := store.AuthRequest{ID: "req", ClientID: "c", RedirectURI: "https://c.example/cb", ResponseType: "code",
		CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := db.CreateAuthRequest(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return r.ID
}
