package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const sessionColumns = "hash, id, user_id, auth_time, created_at, expires_at, last_seen_at"

// sessionColumnCount is the number of sessionColumns.
const sessionColumnCount = 7

// CreateSession inserts s; ErrConflict if the hash or the sid (s.ID)
// exists, ErrNotFound if its user does not, ErrInvalid (an empty sid
// included). s.Clients is not stored: AddSessionClient records them.
func (db *DB) CreateSession(ctx context.Context, s store.Session) error {
	if err := checkKeys(s.Hash, s.ID, s.UserID); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if s.ID == "" {
		return fmt.Errorf("create session: %w: empty session id", store.ErrInvalid)
	}
	q := "INSERT INTO sessions (" + sessionColumns + ") VALUES (" + db.d.args(1, sessionColumnCount) + ")"
	_, err := db.execWrite(ctx, q, s.Hash, s.ID, s.UserID, db.d.time(s.AuthTime), db.d.time(s.CreatedAt),
		db.d.time(s.ExpiresAt), db.d.time(s.LastSeenAt))
	if err != nil {
		return fmt.Errorf("create session: %w", mapErr(err))
	}
	return nil
}

// GetSession returns the session if it is unexpired at now, with the
// clients it signed in to in the order first added (then by client id);
// ErrNotFound otherwise.
//
// GetSession is on the path of every authorization, so it reads the
// session and its clients with one statement on the read pool: one row per
// client, or one row with a NULL client for a session without clients.
// NULLS FIRST makes both backends place a client added without a time alike.
func (db *DB) GetSession(ctx context.Context, hash string, now time.Time) (store.Session, error) {
	if !validKey(hash) {
		return store.Session{}, fmt.Errorf("get session: %w", store.ErrNotFound)
	}
	p := db.d.arg
	q := "SELECT s.hash, s.id, s.user_id, s.auth_time, s.created_at, s.expires_at, s.last_seen_at, c.client_id" +
		" FROM sessions s LEFT JOIN session_clients c ON c.session_hash = s.hash" +
		" WHERE s.hash = " + p(1) + " AND s.expires_at > " + p(2) +
		" ORDER BY c.created_at NULLS FIRST, c.client_id"
	rows, err := db.query(ctx, db.read, q, hash, db.d.time(now))
	if err != nil {
		return store.Session{}, fmt.Errorf("get session: %w", err)
	}
	defer rows.Close()
	var s store.Session
	found := false
	for rows.Next() {
		var clientID string
		if err := rows.Scan(&s.Hash, &s.ID, &s.UserID, tm(&s.AuthTime), tm(&s.CreatedAt), tm(&s.ExpiresAt),
			tm(&s.LastSeenAt), opt(&clientID)); err != nil {
			return store.Session{}, fmt.Errorf("get session: %w", err)
		}
		found = true
		if clientID != "" {
			s.Clients = append(s.Clients, clientID)
		}
	}
	if err := rows.Err(); err != nil {
		return store.Session{}, fmt.Errorf("get session: %w", err)
	}
	if !found {
		return store.Session{}, fmt.Errorf("get session: %w", store.ErrNotFound)
	}
	return s, nil
}

// TouchSession sets the session's LastSeenAt to now, expired or not;
// ErrNotFound if there is no such session.
func (db *DB) TouchSession(ctx context.Context, hash string, now time.Time) error {
	if !validKey(hash) {
		return fmt.Errorf("touch session: %w", store.ErrNotFound)
	}
	p := db.d.arg
	n, err := db.execWrite(ctx, "UPDATE sessions SET last_seen_at = "+p(1)+" WHERE hash = "+p(2), db.d.time(now), hash)
	if err != nil {
		return fmt.Errorf("touch session: %w", mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("touch session: %w", store.ErrNotFound)
	}
	return nil
}

// AddSessionClient records that the session signed in to clientID, at now
// the first time; adding it again changes nothing and is no error, and of
// concurrent calls all succeed and one row remains (the primary key
// decides). ErrNotFound if the session or the client does not exist (the
// foreign keys decide, so a session or client deleted meanwhile counts as
// absent).
func (db *DB) AddSessionClient(ctx context.Context, hash, clientID string, now time.Time) error {
	if !validKey(hash) || !validKey(clientID) {
		return fmt.Errorf("add session client: %w", store.ErrNotFound)
	}
	q := "INSERT INTO session_clients (session_hash, client_id, created_at) VALUES (" + db.d.args(1, 3) + ")" +
		" ON CONFLICT (session_hash, client_id) DO NOTHING"
	if _, err := db.execWrite(ctx, q, hash, clientID, db.d.time(now)); err != nil {
		return fmt.Errorf("add session client: %w", mapErr(err))
	}
	return nil
}

// DeleteSession removes the session and, by a cascading foreign key, its
// clients (no error if absent).
func (db *DB) DeleteSession(ctx context.Context, hash string) error {
	if !validKey(hash) {
		return nil
	}
	if _, err := db.execWrite(ctx, "DELETE FROM sessions WHERE hash = "+db.d.arg(1), hash); err != nil {
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
	n, err := db.execWrite(ctx, "DELETE FROM sessions WHERE user_id = "+db.d.arg(1), userID)
	if err != nil {
		return 0, fmt.Errorf("delete user sessions: %w", mapErr(err))
	}
	return int(n), nil
}

// DeleteOtherSessions removes every session of the user but keepHash.
func (db *DB) DeleteOtherSessions(ctx context.Context, userID, keepHash string) (int, error) {
	if !validKey(userID) {
		return 0, nil
	}
	p := db.d.arg
	n, err := db.execWrite(ctx, "DELETE FROM sessions WHERE user_id = "+p(1)+" AND hash <> "+p(2), userID, keepHash)
	if err != nil {
		return 0, fmt.Errorf("delete other sessions: %w", mapErr(err))
	}
	return int(n), nil
}
