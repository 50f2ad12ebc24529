package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// countersPerStatement bounds the rows of one upsert (4 parameters each).
const countersPerStatement = 100

// Every countersPurgeEvery-th sync of a DB also deletes up to
// countersPurgeBatch counters of its scope whose window has ended.
const (
	countersPurgeEvery = 16
	countersPurgeBatch = 1000
)

// SharesCounters reports whether the rate-limit counters should be shared
// through this database: on PostgreSQL, which several nodes share; an
// SQLite file serves one node, which keeps them in memory.
func (db *DB) SharesCounters() bool { return db.d.rowLocks }

// SyncCounters adds each delta to its counter of scope and returns the
// counters updated at or after since whose window has not ended, in one
// transaction. Keys are written in sorted order, so two nodes syncing the
// same keys never deadlock.
func (db *DB) SyncCounters(ctx context.Context, scope string, window time.Duration, deltas map[string]int, since, now time.Time, limit int) ([]store.Counter, error) {
	keys := make([]string, 0, len(deltas))
	for k, d := range deltas {
		if d != 0 && checkText(k) == nil && !strings.ContainsRune(k, 0) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if err := checkText(scope); err != nil {
		return nil, fmt.Errorf("sync counters: %w", err)
	}
	p := db.d.arg
	cut := db.d.time(now.Add(-window))
	var out []store.Counter
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		for rest := keys; len(rest) > 0; {
			batch := rest[:min(len(rest), countersPerStatement)]
			rest = rest[len(batch):]
			args := []any{scope, db.d.time(now), cut}
			var rows []string
			for _, k := range batch {
				n := len(args)
				rows = append(rows, "("+p(1)+", "+p(n+1)+", "+p(2)+", "+p(n+2)+", "+p(2)+")")
				args = append(args, k, deltas[k])
			}
			q := "INSERT INTO counters (scope, key, window_start, count, updated_at) VALUES " + strings.Join(rows, ", ") +
				" ON CONFLICT (scope, key) DO UPDATE SET" +
				" count = CASE WHEN counters.window_start <= " + p(3) + " THEN excluded.count ELSE counters.count + excluded.count END," +
				" window_start = CASE WHEN counters.window_start <= " + p(3) + " THEN excluded.window_start ELSE counters.window_start END," +
				" updated_at = excluded.updated_at"
			if _, err := db.exec(ctx, tx, q, args...); err != nil {
				return err
			}
		}
		rows, err := db.query(ctx, tx, "SELECT key, window_start, count FROM counters WHERE scope = "+p(1)+
			" AND updated_at >= "+p(2)+" AND window_start > "+p(3)+" LIMIT "+strconv.Itoa(limit),
			scope, db.d.time(since), cut)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c store.Counter
			if err := rows.Scan(&c.Key, tm(&c.Start), &c.Count); err != nil {
				return err
			}
			c.Count = max(c.Count, 0) // a release synced after its window restarted
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sync counters: %w", mapErr(err))
	}
	if db.counterSyncs.Add(1)%countersPurgeEvery == 0 {
		_, _ = db.execWrite(ctx, "DELETE FROM counters WHERE scope = "+p(1)+" AND window_start <= "+p(2)+
			" AND key IN (SELECT key FROM counters WHERE scope = "+p(1)+" AND window_start <= "+p(2)+
			" LIMIT "+strconv.Itoa(countersPurgeBatch)+db.d.skipLocked()+")", scope, cut)
	}
	return out, nil
}
