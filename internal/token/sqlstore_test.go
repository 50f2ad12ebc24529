package token

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

var _ store.KeyStore = (*sqlstore.DB)(nil)

// TestSQLStore_KeyLifecycle runs the life of the keys on the real backends:
// generated once and persisted, sealed bytes intact, rotation published
// before it signs, old tokens verified until RetireAt, then purged.
func TestSQLStore_KeyLifecycle(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := t.Context()
			db := dbtest.Open(t, backend)
			sealKey, clk := newSealKey(t), newClock()
			open := func() *Keys {
				k, err := NewKeys(ctx, KeysOptions{Store: db, SealKey: sealKey, Now: clk.Now})
				if err != nil {
					t.Fatalf("NewKeys: %v", err)
				}
				return k
			}
			a := open()
			oldTok := mustSign(t, a, testClaims(clk.Now()))
			b := open()
			rows, err := db.ListSigningKeys(ctx)
			if err != nil || len(rows) != 1 {
				t.Fatalf("after two starts the store has %d keys (%v), want 1", len(rows), err)
			}
			accepts(t, b, oldTok, TypeAccessToken)
			if m := b.set.Load().byID[rows[0].ID].material; !bytes.Equal(m.sealed, rows[0].Sealed) {
				t.Error("sealed bytes changed through the store")
			}

			nk, err := Rotate(ctx, db, sealKey, EdDSA, clk.Now(), time.Minute, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			if !jwksHas(b, nk.ID) || jwksHas(a, nk.ID) {
				t.Error("the new key is not published by the reloaded node only")
			}
			if kidOf(t, mustSign(t, b, testClaims(clk.Now()))) == nk.ID {
				t.Error("the new key signs before its publish delay")
			}
			clk.Advance(time.Minute)
			newTok := mustSign(t, b, testClaims(clk.Now()))
			if kidOf(t, newTok) != nk.ID {
				t.Error("the new key does not sign after its publish delay")
			}
			if err := a.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			accepts(t, a, newTok, TypeAccessToken)
			accepts(t, a, oldTok, TypeAccessToken)

			clk.Advance(time.Hour)
			rejects(t, a, oldTok, TypeAccessToken, "retired")
			if n, err := PurgeRetired(ctx, db, clk.Now()); n != 1 || err != nil {
				t.Errorf("PurgeRetired = %d, %v; want 1", n, err)
			}
			if err := a.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			if got := a.Algorithms(); len(got) != 1 || got[0] != EdDSA {
				t.Errorf("algorithms after purge = %v", got)
			}
		})
	}
}

// TestSQLStore_RaceOnEmptyDatabase: two processes start at once on an empty
// database; however many keys they create, after a reload both sign with
// the same key and verify each other's tokens.
func TestSQLStore_RaceOnEmptyDatabase(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			dsn := dbtest.DSN(t, backend)
			var dbs [2]*sqlstore.DB
			for i := range dbs {
				db, err := sqlstore.Open(ctx, dsn)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				dbs[i] = db
			}
			if err := dbs[0].Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			sealKey, clk := newSealKey(t), newClock()
			var nodes [2]*Keys
			var errs [2]error
			var wg sync.WaitGroup
			for i := range nodes {
				wg.Go(func() {
					nodes[i], errs[i] = NewKeys(ctx, KeysOptions{Store: dbs[i], SealKey: sealKey, Now: clk.Now})
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, n := range nodes {
				if err := n.Reload(ctx); err != nil {
					t.Fatal(err)
				}
			}
			assertSameSigner(t, nodes[0], nodes[1])
		})
	}
}
