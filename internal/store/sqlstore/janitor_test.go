package sqlstore

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// TestPostgresJanitor_OneNodePurgesAtATime: two nodes on one PostgreSQL
// database never purge at the same time. A node whose janitor finds the
// advisory lock held skips its run; once released, it purges.
func TestPostgresJanitor_OneNodePurgesAtATime(t *testing.T) {
	t.Parallel()
	admin, server := postgresAdmin(t)
	dsn := createPostgresDatabase(t, admin, server)
	a, b := openPostgresTest(t, dsn), openPostgresTest(t, dsn)
	if err := a.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := a.CreateClient(ctx, store.Client{ID: "c", Name: "C", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	expired := func(hash string) store.Token {
		return store.Token{Hash: hash, Kind: store.KindAccess, ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	}
	if err := a.CreateTokens(ctx, []store.Token{expired("t1")}); err != nil {
		t.Fatal(err)
	}
	purge := store.Purge{Expired: now.Add(time.Hour), Batch: 10}

	// Node a is in the middle of a run: it holds the lock.
	unlock, ok, err := a.janitorLock(ctx)
	if err != nil || !ok {
		t.Fatalf("janitorLock = %v, %v", ok, err)
	}
	got, err := b.PurgeExpired(ctx, purge)
	if err != nil || !got.Skipped || got.Total() != 0 {
		t.Fatalf("node b's purge while node a holds the lock = %+v, %v; want skipped, nothing deleted", got, err)
	}
	if _, err := b.GetToken(ctx, "t1"); err != nil {
		t.Fatalf("t1 after a skipped run: %v", err)
	}
	// Another run of a itself, on another connection, is skipped too.
	if got, err := a.PurgeExpired(ctx, purge); err != nil || !got.Skipped {
		t.Fatalf("a second run of node a = %+v, %v; want skipped", got, err)
	}
	unlock()
	got, err = b.PurgeExpired(ctx, purge)
	if err != nil || got.Skipped || got.Rows["tokens"] != 1 {
		t.Fatalf("node b's purge after the lock was released = %+v, %v; want t1 deleted", got, err)
	}

	// Racing runs: of the runs that overlap, only one purges; every
	// expired row is deleted exactly once.
	var ts []store.Token
	for i := range 200 {
		ts = append(ts, expired(fmt.Sprintf("r%03d", i)))
	}
	if err := a.CreateTokens(ctx, ts); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var deleted, ran int64
	var wg sync.WaitGroup
	for i := range 8 {
		db := a
		if i%2 == 1 {
			db = b
		}
		wg.Go(func() {
			got, err := db.PurgeExpired(ctx, store.Purge{Expired: now.Add(time.Hour), Batch: 5})
			if err != nil {
				t.Errorf("PurgeExpired: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			deleted += got.Rows["tokens"]
			if !got.Skipped {
				ran++
			}
		})
	}
	wg.Wait()
	if deleted != 200 || ran < 1 {
		t.Fatalf("racing runs deleted %d tokens in %d runs that were not skipped, want 200 in at least one", deleted, ran)
	}
	// The lock is free again after the runs.
	if got, err := a.PurgeExpired(ctx, purge); err != nil || got.Skipped {
		t.Fatalf("a run after the racing ones = %+v, %v; want it to run", got, err)
	}
}
