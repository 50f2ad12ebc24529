package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// The janitor's purge (PurgeExpired). Every DELETE is a transaction of one
// statement through the group-commit writer (execWrite): it shares a
// commit with the requests' writes around it and, on PostgreSQL, is
// pipelined with them, and no statement removes more than a batch of rows,
// so none holds SQLite's write lock, or PostgreSQL's row locks, for more
// than milliseconds. A run is many such statements, never one long
// transaction: what one statement deleted stays deleted if the next
// fails.
//
// Tables whose expired rows may have to stay (tokens, codes, device codes:
// see keyedPurges) are walked in (expires_at, hash) order, one window of
// batch rows at a time: a read finds where the window ends, then one
// DELETE removes the window's rows that may go. The rows that stay are thus
// read once per run, not once per statement, however many of them lie
// before the rows that go. The other tables delete their oldest expired
// rows, a batch at a time, until a statement deletes fewer than a batch.

// purgedTables names the tables PurgeExpired deletes from, in its order.
var purgedTables = []string{"tokens", "codes", "device_codes", "auth_requests", "pushed_requests", "sessions", "replay", "activity"}

// janitorLockKey is the PostgreSQL advisory lock a purge holds: one node
// of a deployment purges at a time. (Any fixed 64-bit number; this one
// spells "lk-janitor" loosely in hex.)
const janitorLockKey int64 = 0x6c6b6a616e69746f

// keyedPurge is a table whose expired rows are walked by key (see above).
type keyedPurge struct {
	table string
	// keepFor delays the deletion of an expired row past the purge's
	// cutoff.
	keepFor time.Duration
	// keep is the condition (on the table's row, $live the purge's
	// cutoff) under which an expired row stays.
	keep string
}

// familyLive is true when a token of the family named by the column
// family (a code's or device code's hash, or a token's family_id) is
// unexpired at the cutoff (the parameter marker cutoff; "$live" in
// keyedPurges). The family index finds them.
func familyLive(family, cutoff string) string {
	return "EXISTS (SELECT 1 FROM tokens f WHERE f.family_id = " + family + " AND f.expires_at > " + cutoff + ")"
}

// keyedPurges are the tables with expired rows that reuse or replay
// detection may still need:
//
//   - tokens: a refresh token (rotated or not) stays while any token of its
//     family is unexpired, for presenting a rotated one again revokes the
//     family (RFC 9700 §4.14.2), and that needs its row. Access tokens go
//     once expired: a revoked JWT's row denies its jti exactly until its
//     exp, and an expired access token is inactive with or without a row.
//   - codes: a redeemed code stays while any token of its family (the
//     tokens it issued and their rotations) is unexpired, since its replay
//     revokes them (RFC 6749 §4.1.2). An unredeemed one can no longer be
//     redeemed, and goes.
//   - device_codes: as codes; and every device code stays a day past its
//     expiry, so that a late poll still hears expired_token.
var keyedPurges = []keyedPurge{
	{table: "tokens", keep: "tokens.kind = 'refresh' AND tokens.family_id IS NOT NULL AND " + familyLive("tokens.family_id", "$live")},
	{table: "codes", keep: "codes.used_at IS NOT NULL AND " + familyLive("codes.hash", "$live")},
	{table: "device_codes", keepFor: deviceCodeKeep, keep: "device_codes.used_at IS NOT NULL AND " + familyLive("device_codes.hash", "$live")},
}

// simplePurge is a table whose expired rows all go.
type simplePurge struct {
	table, key, expires string
	activity            bool // cut off at Purge.Activity, not Purge.Expired
}

var simplePurges = []simplePurge{
	{table: "auth_requests", key: "id", expires: "expires_at"},
	{table: "pushed_requests", key: "hash", expires: "expires_at"}, // used or not: single use needs no row past expiry
	{table: "sessions", key: "hash", expires: "expires_at"},        // their session_clients rows go with them (ON DELETE CASCADE)
	{table: "replay", key: "(scope, id)", expires: "expires_at"},
	{table: "activity", expires: "at", activity: true},
}

// PurgeExpired deletes what has expired (see store.Janitor), a batch of
// rows per statement, and returns how many rows it deleted per table.
//
// On PostgreSQL a run first takes a session-level advisory lock
// (pg_try_advisory_lock) on a connection it keeps for the run, and
// releases it at the end; a node that does not get it skips the run. A
// transaction-level lock (pg_try_advisory_xact_lock) would not do: a run
// is many short transactions, each shared with other requests' writes by
// the group-commit writer, so such a lock would cover one statement, and
// two nodes would interleave their runs over the same rows. If the node
// dies, PostgreSQL ends its session and the lock with it. SQLite needs no
// lock: one process serves a file, and a CLI run on the same file purges
// with the same statements, each a transaction of its own.
func (db *DB) PurgeExpired(ctx context.Context, p store.Purge) (store.Purged, error) {
	out := store.Purged{Rows: make(map[string]int64, len(purgedTables))}
	for _, t := range purgedTables {
		out.Rows[t] = 0
	}
	batch := p.Batch
	if batch <= 0 {
		batch = store.DefaultPurgeBatch
	}
	if p.Expired.IsZero() {
		return out, fmt.Errorf("purge expired: %w: zero time", store.ErrInvalid)
	}
	if db.d.rowLocks {
		unlock, ok, err := db.janitorLock(ctx)
		if err != nil {
			return out, fmt.Errorf("purge expired: lock: %w", err)
		}
		if !ok {
			out.Skipped = true
			return out, nil
		}
		defer unlock()
	}
	if !p.Successors.IsZero() {
		if err := db.clearSuccessors(ctx, p.Successors, batch, &out.Successors); err != nil {
			return out, fmt.Errorf("purge expired: clear successors: %w", err)
		}
	}
	for _, k := range keyedPurges {
		if err := db.purgeKeyed(ctx, k, p.Expired, batch, out.Rows); err != nil {
			return out, fmt.Errorf("purge expired %s: %w", k.table, err)
		}
	}
	for _, s := range simplePurges {
		cutoff := p.Expired
		if s.activity {
			if p.Activity.IsZero() {
				continue
			}
			cutoff = p.Activity
		}
		if err := db.purgeSimple(ctx, s, cutoff, batch, out.Rows); err != nil {
			return out, fmt.Errorf("purge expired %s: %w", s.table, err)
		}
	}
	return out, nil
}

// janitorLock takes the purge's advisory lock on a connection of its own,
// if no other session holds it. unlock releases it and the connection.
func (db *DB) janitorLock(ctx context.Context) (unlock func(), ok bool, err error) {
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return nil, false, err
	}
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", janitorLockKey).Scan(&ok); err != nil || !ok {
		conn.Close()
		return nil, false, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", janitorLockKey); err != nil {
			// A connection that may still hold the lock is not put back
			// in the pool: closing it ends the session and the lock.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}, true, nil
}

// purgeKeyed walks k's rows expired at cutoff (less k.keepFor) in
// (expires_at, hash) order, a window of batch rows at a time, deleting
// those k.keep does not hold back.
func (db *DB) purgeKeyed(ctx context.Context, k keyedPurge, cutoff time.Time, batch int, rows map[string]int64) error {
	p := db.d.arg
	rowCut := db.d.time(cutoff.Add(-k.keepFor))
	liveCut := db.d.time(cutoff)
	var after *windowKey // the last key of the previous window
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Where this window ends: the batch-th expired row after the
		// previous window, or nowhere if fewer are left.
		args := []any{rowCut}
		where := "expires_at <= " + p(1)
		if after != nil {
			where += " AND (expires_at, hash) > (" + p(2) + ", " + p(3) + ")"
			args = append(args, after.expires, after.hash)
		}
		var end windowKey
		var expires time.Time
		err := db.queryRow(ctx, db.read, "SELECT expires_at, hash FROM "+k.table+" WHERE "+where+
			" ORDER BY expires_at, hash LIMIT 1 OFFSET "+strconv.Itoa(batch-1), args...).Scan(tm(&expires), &end.hash)
		last := errors.Is(err, sql.ErrNoRows)
		if err != nil && !last {
			return err
		}
		end.expires = db.d.time(expires)

		// The window's rows: after the previous window's last key, up to
		// this one's (which implies expired), or every expired row left.
		// Parameter 1 is the families' cutoff (keep).
		args = []any{liveCut}
		var window []string
		if after != nil {
			window = append(window, "(expires_at, hash) > ("+p(2)+", "+p(3)+")")
			args = append(args, after.expires, after.hash)
		}
		if last {
			window = append(window, "expires_at <= "+p(len(args)+1))
			args = append(args, rowCut)
		} else {
			window = append(window, "(expires_at, hash) <= ("+p(len(args)+1)+", "+p(len(args)+2)+")")
			args = append(args, end.expires, end.hash)
		}
		q := "DELETE FROM " + k.table + " WHERE hash IN (SELECT hash FROM " + k.table + " WHERE " + strings.Join(window, " AND ") +
			" AND NOT (" + db.keepCondition(k.keep) + ")" + db.d.skipLocked() + ")"
		n, err := db.execWrite(ctx, q, args...)
		if err != nil {
			return mapErr(err)
		}
		rows[k.table] += n
		if last {
			return nil
		}
		after = &end
	}
}

// keepCondition is keep with its families' cutoff numbered as
// parameter 1 in the dialect.
func (db *DB) keepCondition(keep string) string {
	return strings.ReplaceAll(keep, "$live", db.d.arg(1))
}

// windowKey is a row's place in the (expires_at, hash) order, its time
// encoded as a parameter.
type windowKey struct {
	expires any
	hash    string
}

// clearSuccessors clears the sealed successors of refresh tokens rotated at
// or before cutoff, a batch per statement, until a statement clears fewer.
// The partial index tokens_successor_rotated finds them.
func (db *DB) clearSuccessors(ctx context.Context, cutoff time.Time, batch int, n *int64) error {
	const cond = "successor IS NOT NULL AND rotated_at <= "
	p := db.d.arg
	q := "UPDATE tokens SET successor = NULL WHERE " + cond + p(1) + " AND hash IN (SELECT hash FROM tokens WHERE " + cond + p(1) +
		" LIMIT " + strconv.Itoa(batch) + db.d.skipLocked() + ")"
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		cleared, err := db.execWrite(ctx, q, db.d.time(cutoff))
		if err != nil {
			return mapErr(err)
		}
		*n += cleared
		if cleared < int64(batch) {
			return nil
		}
	}
}

// purgeSimple deletes s's rows expired at cutoff (activity: older than
// it), a batch per statement, until a statement deletes fewer.
func (db *DB) purgeSimple(ctx context.Context, s simplePurge, cutoff time.Time, batch int, rows map[string]int64) error {
	p := db.d.arg
	key, lock := s.key, db.d.skipLocked()
	cond := s.expires + " <= " + p(1)
	if s.activity {
		// Entries are never updated, so nothing to skip; rows are keyed
		// by their physical address, as PurgeActivity does.
		key, lock, cond = "rowid", "", s.expires+" < "+p(1)
		if db.d.rowLocks {
			key = "ctid"
		}
	}
	q := "DELETE FROM " + s.table + " WHERE " + cond + " AND " + key + " IN (SELECT " + strings.Trim(key, "()") + " FROM " + s.table +
		" WHERE " + cond + " LIMIT " + strconv.Itoa(batch) + lock + ")"
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := db.execWrite(ctx, q, db.d.time(cutoff))
		if err != nil {
			return mapErr(err)
		}
		rows[s.table] += n
		if n < int64(batch) {
			return nil
		}
	}
}
