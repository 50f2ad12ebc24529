package server

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/token"
)

// watch publishes the figures of the parts that keep their own: the
// password-hash semaphore, the signing keys and, on an SQL store, its
// pools, write path and tables.
func watch(m *metrics.Metrics, p *oauth.Provider, keys *token.Keys, st store.Store, now func() time.Time) {
	m.WatchHashGate(p.Passwords.Gate.Runs, p.Passwords.Gate.Waiting)
	m.WatchKeys(keys.SignerAges)
	db, ok := st.(*sqlstore.DB)
	if !ok {
		return
	}
	for role, pool := range db.Pools() {
		m.WatchDB(role, pool)
	}
	db.Observe(m)
	m.WatchStore(db.Queries, db.Commits, db.Retries)
	m.WatchTables(func(ctx context.Context, now time.Time) ([]metrics.Table, error) {
		stats, err := db.Stats(ctx, now)
		out := make([]metrics.Table, len(stats))
		for i, s := range stats {
			out[i] = metrics.Table{Name: s.Table, Rows: s.Rows, Expired: s.Expired, OldestExpiry: s.OldestExpiry, Expires: s.Expires}
		}
		return out, err
	}, now)
}
