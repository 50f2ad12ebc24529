package sqlstore

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// BenchmarkStore measures the store's hot paths on a SQLite file, next to
// a bare net/http handler run first in the same process (the reference of
// bench/): each reports allocations and its throughput as a ratio to the
// reference (ratio). The write paths run from 16 goroutines at once, as
// concurrent requests do, so group commit gathers them.
//
//	go test -run XXX -bench BenchmarkStore -benchmem ./internal/store/sqlstore
func BenchmarkStore(b *testing.B) {
	db := openSQLiteTest(b)
	ctx := context.Background()
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	if err := db.CreateClient(ctx, store.Client{ID: "c", Name: "c", CreatedAt: now, UpdatedAt: now}); err != nil {
		b.Fatal(err)
	}
	if err := db.CreateUser(ctx, store.User{ID: "u", Username: "alice", CreatedAt: now, UpdatedAt: now}); err != nil {
		b.Fatal(err)
	}
	g := store.Grant{ID: "g", UserID: "u", ClientID: "c", Scopes: []string{"notes.read", "offline_access"}, CreatedAt: now}
	if err := db.SaveGrant(ctx, g); err != nil {
		b.Fatal(err)
	}
	token := func(hash, kind string) store.Token {
		return store.Token{Hash: hash, Kind: kind, FamilyID: "f", GrantID: "g", ClientID: "c", UserID: "u",
			Scopes: g.Scopes, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	var seq atomic.Int64
	next := func() string { return fmt.Sprintf("h%d", seq.Add(1)) }

	var base float64 // the bare handler's ns/op
	report := func(b *testing.B) {
		if per := float64(b.Elapsed().Nanoseconds()) / float64(b.N); base > 0 {
			b.ReportMetric(base/per, "ratio")
		}
	}
	b.Run("bare-handler", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"active":true}`))
		})
		r := httptest.NewRequest(http.MethodPost, "/introspect", nil)
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
		base = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("introspection-lookup", func(b *testing.B) {
		if err := db.CreateTokens(ctx, []store.Token{token("read", store.KindAccess)}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, name, err := db.GetTokenWithUsername(ctx, "read"); err != nil || name != "alice" {
				b.Fatal(name, err)
			}
		}
		report(b)
	})
	b.Run("create-token-16-concurrent", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := db.CreateTokens(ctx, []store.Token{token(next(), store.KindAccess)}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		report(b)
	})
	b.Run("rotate-refresh-16-concurrent", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			old := next()
			if err := db.CreateTokens(ctx, []store.Token{token(old, store.KindRefresh)}); err != nil {
				b.Error(err)
				return
			}
			for pb.Next() {
				at, rt := token(next(), store.KindAccess), token(next(), store.KindRefresh)
				if err := db.RotateRefreshToken(ctx, old, time.Now(), []store.Token{at, rt}); err != nil {
					b.Error(err)
					return
				}
				old = rt.Hash
			}
		})
		report(b)
	})
}
