package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Expired replay records are purged opportunistically: every
// replayPurgeEvery-th UseOnce of a DB also deletes up to replayPurgeBatch
// records expired at its now. Each node thus deletes up to
// replayPurgeBatch/replayPurgeEvery (4) expired records per record it
// writes, more than it writes, so expired rows never pile up, and the cost
// is one indexed DELETE every 64 calls.
const (
	replayPurgeEvery = 64
	replayPurgeBatch = 256
)

// UseOnce records (scope, id) until expiresAt; ErrAlreadyUsed if a record
// of (scope, id) exists that has not expired at now (expires_at > now). An
// expired record is overwritten, so the identifier may be used again.
// ErrInvalid if scope or id cannot be stored as a key or a time is zero.
//
// One statement decides, in the database:
//
//	INSERT ... ON CONFLICT (scope, id) DO UPDATE SET expires_at = excluded.expires_at
//	WHERE replay.expires_at <= now
//
// which changes one row if the identifier was new or its record expired,
// and none otherwise. Exactly one concurrent caller changes the row:
//
//   - PostgreSQL (READ COMMITTED, autocommit): an INSERT that meets a
//     concurrent, uncommitted insertion of the same key waits for it and
//     then takes the conflict path. The conflict path locks the existing
//     row, re-reading its latest committed version if another transaction
//     updated it meanwhile, and evaluates the WHERE on that version. So
//     after the winner's insert or update commits, every other caller sees
//     the winner's unexpired expires_at and changes nothing. (The documented
//     guarantee: ON CONFLICT DO UPDATE yields an atomic insert-or-update
//     outcome even under high concurrency.)
//   - SQLite: the statement runs as one write transaction, and SQLite lets
//     one write transaction run at a time per database file (this process's
//     writes also queue for the single writer connection), so the conflict
//     check and the update happen with no other writer in between, across
//     processes too.
//
// Nothing is cached in memory: the record is in the database, so it holds
// across restarts and across nodes sharing the database.
func (db *DB) UseOnce(ctx context.Context, scope, id string, expiresAt, now time.Time) error {
	if err := checkKeys(scope, id); err != nil {
		return fmt.Errorf("use once: %w", err)
	}
	if expiresAt.IsZero() || now.IsZero() {
		return fmt.Errorf("use once: %w: zero time", store.ErrInvalid)
	}
	p := db.d.arg
	q := "INSERT INTO replay (scope, id, expires_at) VALUES (" + db.d.args(1, 3) + ")" +
		" ON CONFLICT (scope, id) DO UPDATE SET expires_at = excluded.expires_at" +
		" WHERE replay.expires_at <= " + p(4)
	n, err := db.execWrite(ctx, q, scope, id, db.d.time(expiresAt), db.d.time(now))
	if db.replayCalls.Add(1)%replayPurgeEvery == 0 {
		db.purgeReplay(ctx, now)
	}
	if err != nil {
		return fmt.Errorf("use once: %w", mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("use once: %w", store.ErrAlreadyUsed)
	}
	return nil
}

// purgeReplay deletes up to replayPurgeBatch records expired at now. It is
// best effort: a failure (a canceled context, say) leaves the rows to a
// later purge and does not fail the UseOnce that triggered it. On
// PostgreSQL it skips rows another transaction holds (an UseOnce
// overwriting an expired record, a concurrent purge), so it never waits
// and never deadlocks.
func (db *DB) purgeReplay(ctx context.Context, now time.Time) {
	p := db.d.arg
	q := "DELETE FROM replay WHERE expires_at <= " + p(1) + " AND (scope, id) IN (SELECT scope, id FROM replay WHERE expires_at <= " +
		p(1) + " LIMIT " + strconv.Itoa(replayPurgeBatch) + db.d.skipLocked() + ")"
	_, _ = db.execWrite(ctx, q, db.d.time(now))
}
