package token

import (
	"bytes"
	"context"
	"reflect"
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

			nk, err := Rotate(ctx, db, sealKey, ES256, clk.Now(), time.Minute, time.Hour)
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
			if rows, err := db.ListSigningKeys(ctx); err != nil || len(rows) != 1 || rows[0].ID != nk.ID {
				t.Errorf("after purge the store holds %d keys (%v), want only the new one", len(rows), err)
			}
			if got := a.Algorithms(); len(got) != 1 || got[0] != ES256 {
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

// TestSQLStore_TwoNodesAgreePerAlgorithm: on a real database, a deployment
// that had only an ES256 key gains RS256 and EdDSA keys when two nodes
// configured as the server is start at once; whatever keys they create,
// after a reload both sign each algorithm with the same key and verify
// each other's tokens.
func TestSQLStore_TwoNodesAgreePerAlgorithm(t *testing.T) {
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
			old, err := NewKeys(ctx, KeysOptions{Store: dbs[0], SealKey: sealKey, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			es := activeKid(t, old)
			oldTok := mustSign(t, old, testClaims(clk.Now()))

			var nodes [2]*Keys
			var errs [2]error
			var wg sync.WaitGroup
			for i := range nodes {
				wg.Go(func() {
					nodes[i], errs[i] = NewKeys(ctx, KeysOptions{Store: dbs[i], SealKey: sealKey, Algorithm: ES256, Algorithms: allAlgs, Now: clk.Now})
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			rows, err := dbs[0].ListSigningKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			for _, r := range rows {
				count[r.Algorithm]++
			}
			if count[ES256] != 1 || count[RS256] < 1 || count[RS256] > 2 || count[EdDSA] < 1 || count[EdDSA] > 2 {
				t.Errorf("keys per algorithm = %v, want the one ES256 key and one or two of each other", count)
			}
			for _, n := range nodes {
				if err := n.Reload(ctx); err != nil {
					t.Fatal(err)
				}
				if kid := activeKid(t, n); kid != es {
					t.Errorf("Sign uses %s, want the existing ES256 key %s", kid, es)
				}
				accepts(t, n, oldTok, TypeAccessToken)
			}
			assertSameSignerPerAlgorithm(t, nodes[0], nodes[1])

			if _, err := Rotate(ctx, dbs[0], sealKey, RS256, clk.Now(), 0, time.Hour); err != nil {
				t.Fatal(err)
			}
			l, err := List(ctx, dbs[1], clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			active := map[string]int{}
			for _, k := range l {
				if k.State == StateActive {
					active[k.Algorithm]++
				}
				if k.Algorithm != RS256 && !k.RetireAt.IsZero() {
					t.Errorf("rotating RS256 scheduled the retirement of %s key %s", k.Algorithm, k.ID)
				}
			}
			if !reflect.DeepEqual(active, map[string]int{RS256: 1, ES256: 1, EdDSA: 1}) {
				t.Errorf("active keys per algorithm = %v, want one each", active)
			}
			for _, n := range nodes {
				if err := n.Reload(ctx); err != nil {
					t.Fatal(err)
				}
			}
			assertSameSignerPerAlgorithm(t, nodes[0], nodes[1])
		})
	}
}
