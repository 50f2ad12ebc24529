package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const sessionColumns = "hash, user_id, auth_time, created_at, expires_at"

// CreateSession inserts s; ErrConflict if the hash exists, ErrNotFound if
// its user does not, ErrInvalid.
func (db *DB) CreateSession(ctx context.Context, s store.Session) error {
	if err := checkKeys(s.Hash, s.UserID); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	q := "INSERT INTO sessions (" + sessionColumns + ") VALUES (" + db.d.args(1, 5) + ")"
	_, err := db.exec(ctx, db.write, q, s.Hash, s.UserID, db.d.time(s.AuthTime), db.d.time(s.CreatedAt), db.d.time(s.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create session: %w", mapErr(err))
	}
	return nil
}

// GetSession returns the session if it is unexpired at now; ErrNotFound
// otherwise.
func (db *DB) GetSession(ctx context.Context, hash string, now time.Time) (store.Session, error) {
	if !validKey(hash) {
		return store.Session{}, fmt.Errorf("get session: %w", store.ErrNotFound)
	}
	p := db.d.arg
	var s store.Session
	err := db.queryRow(ctx, db.read, "SELECT "+sessionColumns+" FROM sessions WHERE hash = "+p(1)+" AND expires_at > "+p(2),
		hash, db.d.time(now)).Scan(&s.Hash, &s.UserID, tm(&s.AuthTime), tm(&s.CreatedAt), tm(&s.ExpiresAt))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, fmt.Errorf("get session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("get session: %w", err)
	}
	return s, nil
}

// DeleteSession removes the session (no error if absent).
func (db *DB) DeleteSession(ctx context.Context, hash string) error {
	if !validKey(hash) {
		return nil
	}
	if _, err := db.exec(ctx, db.write, "DELETE FROM sessions WHERE hash = "+db.d.arg(1), hash); err != nil {
		return fmt.Errorf("delete session: %w", mapErr(err))
	}
	return nil
}

// DeleteUserSessions removes every session of the user, expired or not, and
// returns how many it removed (0 for an unknown user).
func (db *DB) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	if !validKey(userID) {
		return 0, nil
	}
	n, err := db.execCount(ctx, db.write, "DELETE FROM sessions WHERE user_id = "+db.d.arg(1), userID)
	if err != nil {
		return 0, fmt.Errorf("delete user sessions: %w", mapErr(err))
	}
	return int(n), nil
}
