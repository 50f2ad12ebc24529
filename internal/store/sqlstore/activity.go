package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const activityColumns = "user_id, client_id, kind, device, address, detail, at"

// activityPerInsert bounds the rows of one INSERT (7 parameters each).
const activityPerInsert = 500

// AddActivity inserts the entries, one statement per activityPerInsert, in
// one transaction; entries with text neither backend can store are
// dropped rather than failing the batch.
func (db *DB) AddActivity(ctx context.Context, entries []store.Activity) error {
	keep := make([]store.Activity, 0, len(entries))
	for _, a := range entries {
		if checkText(a.UserID, a.ClientID, a.Kind, a.Device, a.Address, a.Detail) == nil && a.UserID != "" {
			keep = append(keep, a)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		return insertRows(ctx, db, tx, "activity", activityColumns, 7, activityPerInsert, keep, func(a store.Activity) []any {
			return []any{a.UserID, a.ClientID, a.Kind, a.Device, a.Address, a.Detail, db.d.time(a.At)}
		})
	})
	if err != nil {
		return fmt.Errorf("add activity: %w", mapErr(err))
	}
	return nil
}

// ListActivity returns the user's newest entries, at most limit.
func (db *DB) ListActivity(ctx context.Context, userID string, limit int) ([]store.Activity, error) {
	if !validKey(userID) || limit <= 0 {
		return nil, nil
	}
	rows, err := db.query(ctx, db.read, "SELECT "+activityColumns+" FROM activity WHERE user_id = "+db.d.arg(1)+
		" ORDER BY at DESC LIMIT "+strconv.Itoa(limit), userID)
	out, err := collect(rows, err, func(s rowScanner) (store.Activity, error) {
		var a store.Activity
		err := s.Scan(&a.UserID, &a.ClientID, &a.Kind, &a.Device, &a.Address, &a.Detail, tm(&a.At))
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("list activity: %w", mapErr(err))
	}
	return out, nil
}

// QueryActivity pages entries by user or client, newest first, keyset on
// (at, id): SQLite's rowid, PostgreSQL's id column (00023).
func (db *DB) QueryActivity(ctx context.Context, q store.ActivityQuery) ([]store.Activity, error) {
	if q.Limit <= 0 || q.UserID == "" && q.ClientID == "" {
		return nil, nil
	}
	id := "rowid"
	if db.d.rowLocks {
		id = "id"
	}
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return db.d.arg(len(args)) }
	if q.UserID != "" {
		if !validKey(q.UserID) {
			return nil, nil
		}
		where = append(where, "user_id = "+arg(q.UserID))
	}
	if q.ClientID != "" {
		if !validKey(q.ClientID) {
			return nil, nil
		}
		where = append(where, "client_id = "+arg(q.ClientID))
	}
	if q.After != nil {
		at := db.d.time(q.After.At)
		where = append(where, "(at < "+arg(at)+" OR (at = "+arg(at)+" AND "+id+" < "+arg(q.After.ID)+"))")
	}
	rows, err := db.query(ctx, db.read, "SELECT "+id+", "+activityColumns+" FROM activity WHERE "+strings.Join(where, " AND ")+
		" ORDER BY at DESC, "+id+" DESC LIMIT "+strconv.Itoa(q.Limit), args...)
	out, err := collect(rows, err, func(s rowScanner) (store.Activity, error) {
		var a store.Activity
		err := s.Scan(&a.ID, &a.UserID, &a.ClientID, &a.Kind, &a.Device, &a.Address, &a.Detail, tm(&a.At))
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("query activity: %w", mapErr(err))
	}
	return out, nil
}

// PurgeActivity deletes up to limit entries older than before.
func (db *DB) PurgeActivity(ctx context.Context, before time.Time, limit int) (int, error) {
	p := db.d.arg
	var q string
	if db.d.rowLocks {
		q = "DELETE FROM activity WHERE ctid IN (SELECT ctid FROM activity WHERE at < " + p(1) + " LIMIT " + strconv.Itoa(limit) + ")"
	} else {
		q = "DELETE FROM activity WHERE rowid IN (SELECT rowid FROM activity WHERE at < " + p(1) + " LIMIT " + strconv.Itoa(limit) + ")"
	}
	n, err := db.execWrite(ctx, q, db.d.time(before))
	if err != nil {
		return 0, fmt.Errorf("purge activity: %w", mapErr(err))
	}
	return int(n), nil
}
