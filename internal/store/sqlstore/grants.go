package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const grantColumns = "id, user_id, client_id, scopes, created_at, expires_at, revoked_at"

// grantOrder lists grants newest first; ties (and unset creation times,
// last on both backends) fall back to id so the order is total.
const grantOrder = " ORDER BY created_at DESC NULLS LAST, id DESC"

func scanGrant(s rowScanner) (store.Grant, error) {
	var g store.Grant
	err := s.Scan(grantFields(&g)...)
	return g, err
}

// grantFields are the scan destinations of grantColumns; the keys scan
// NULL as "" for the grant of a LEFT JOIN that found none.
func grantFields(g *store.Grant) []any {
	return []any{opt(&g.ID), opt(&g.UserID), opt(&g.ClientID), list(&g.Scopes), tm(&g.CreatedAt), tm(&g.ExpiresAt), tm(&g.RevokedAt)}
}

func checkGrant(g store.Grant) error {
	if err := checkKeys(g.ID, g.UserID, g.ClientID); err != nil {
		return err
	}
	return checkText(g.Scopes...)
}

// CreateGrant inserts g, a grant made without a consent page (the password
// grant's, say); ErrConflict if the id exists, ErrNotFound if the user or
// client does not, ErrInvalid.
func (db *DB) CreateGrant(ctx context.Context, g store.Grant) error {
	if err := checkGrant(g); err != nil {
		return fmt.Errorf("create grant: %w", err)
	}
	q := "INSERT INTO grants (" + grantColumns + ") VALUES (" + db.d.args(1, 7) + ")"
	_, err := db.execWrite(ctx, q, g.ID, g.UserID, g.ClientID, encodeList(g.Scopes),
		db.d.time(g.CreatedAt), db.d.time(g.ExpiresAt), db.d.time(g.RevokedAt))
	if err != nil {
		return fmt.Errorf("create grant: %w", mapErr(err))
	}
	return nil
}

// SaveGrant stores a consent decision made without a consent page (the
// password grant's): see saveGrant.
func (db *DB) SaveGrant(ctx context.Context, g store.Grant) error {
	if err := checkGrant(g); err != nil {
		return fmt.Errorf("save grant: %w", err)
	}
	if err := db.inTx(ctx, func(tx *sql.Tx) error { return db.saveGrant(ctx, tx, g) }); err != nil {
		return fmt.Errorf("save grant: %w", mapErr(err))
	}
	return nil
}

// saveGrant inserts g or, if a grant with g.ID exists and is not revoked,
// sets its scopes and expiry to g's (a consent extends the app's grant,
// renewing it if it had expired); a revoked one is ErrAlreadyUsed, so a
// consent never revives a revoked grant. Another unrevoked grant of the
// same user and app is ErrConflict (one grant per app, grants_one_per_app).
// The row stays locked until the transaction ends, so a concurrent
// RevokeGrant waits and then revokes what this transaction inserted.
func (db *DB) saveGrant(ctx context.Context, tx *sql.Tx, g store.Grant) error {
	p := db.d.arg
	stmt := "INSERT INTO grants (" + grantColumns + ") VALUES (" + db.d.args(1, 7) + ") ON CONFLICT (id) DO NOTHING"
	n, err := db.execCount(ctx, tx, stmt, g.ID, g.UserID, g.ClientID, encodeList(g.Scopes),
		db.d.time(g.CreatedAt), db.d.time(g.ExpiresAt), db.d.time(g.RevokedAt))
	if err != nil || n == 1 {
		return err
	}
	n, err = db.execCount(ctx, tx, "UPDATE grants SET scopes = "+p(1)+", expires_at = "+p(2)+
		" WHERE id = "+p(3)+" AND user_id = "+p(4)+" AND client_id = "+p(5)+" AND revoked_at IS NULL",
		encodeList(g.Scopes), db.d.time(g.ExpiresAt), g.ID, g.UserID, g.ClientID)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrAlreadyUsed
	}
	return nil
}

// activeGrant is the condition that the grant whose id is the column ref
// is active at the time parameter now. On PostgreSQL it share-locks the
// grant's row until the transaction ends: a concurrent RevokeGrant then
// either commits first (and the grant is seen revoked) or waits for this
// transaction, and then revokes the tokens it inserted too. The lock is
// taken while the row that refers to the grant is filtered, before that row
// is updated.
func (db *DB) activeGrant(ref, now string) string {
	return "EXISTS (SELECT 1 FROM grants WHERE grants.id = " + ref + " AND grants.revoked_at IS NULL" +
		" AND (grants.expires_at IS NULL OR grants.expires_at > " + now + ")" + db.d.forShare() + ")"
}

// GetGrant returns the grant; ErrNotFound.
func (db *DB) GetGrant(ctx context.Context, id string) (store.Grant, error) {
	if !validKey(id) {
		return store.Grant{}, fmt.Errorf("get grant: %w", store.ErrNotFound)
	}
	return one(db.queryRow(ctx, db.read, "SELECT "+grantColumns+" FROM grants WHERE id = "+db.d.arg(1), id), scanGrant, "get grant")
}

// ListGrantsByUser returns the user's grants, newest first (by CreatedAt,
// then by id descending), revoked and expired ones included.
func (db *DB) ListGrantsByUser(ctx context.Context, userID string) ([]store.Grant, error) {
	if !validKey(userID) {
		return nil, nil
	}
	rows, err := db.query(ctx, db.read, "SELECT "+grantColumns+" FROM grants WHERE user_id = "+db.d.arg(1)+grantOrder, userID)
	out, err := collect(rows, err, scanGrant)
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	return out, nil
}

// ListGrantsByClient returns the client's grants, newest first, in the
// order of ListGrantsByUser; the grants_client index serves it.
func (db *DB) ListGrantsByClient(ctx context.Context, clientID string) ([]store.Grant, error) {
	if !validKey(clientID) {
		return nil, nil
	}
	rows, err := db.query(ctx, db.read, "SELECT "+grantColumns+" FROM grants WHERE client_id = "+db.d.arg(1)+grantOrder, clientID)
	out, err := collect(rows, err, scanGrant)
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	return out, nil
}

// FindGrant returns the user's unrevoked grant to the client (there is at
// most one), expired or not; ErrNotFound.
func (db *DB) FindGrant(ctx context.Context, userID, clientID string) (store.Grant, error) {
	if !validKey(userID) || !validKey(clientID) {
		return store.Grant{}, fmt.Errorf("find grant: %w", store.ErrNotFound)
	}
	p := db.d.arg
	q := "SELECT " + grantColumns + " FROM grants WHERE user_id = " + p(1) + " AND client_id = " + p(2) + " AND revoked_at IS NULL"
	return one(db.queryRow(ctx, db.read, q, userID, clientID), scanGrant, "find grant")
}

// RevokeGrant marks the grant revoked at now (keeping an earlier revocation
// time) and, in the same transaction, every unrevoked token of it;
// ErrNotFound. The grant's row is updated first, which waits for any
// redemption or rotation holding it (see activeGrant), so tokens such a
// transaction inserts are revoked as well.
func (db *DB) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	if !validKey(id) {
		return fmt.Errorf("revoke grant: %w", store.ErrNotFound)
	}
	p := db.d.arg
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		n, err := db.execCount(ctx, tx, "UPDATE grants SET revoked_at = COALESCE(revoked_at, "+p(1)+") WHERE id = "+p(2),
			db.d.time(now), id)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		_, err = db.exec(ctx, tx, "UPDATE tokens SET revoked_at = "+p(1)+" WHERE grant_id = "+p(2)+" AND revoked_at IS NULL",
			db.d.time(now), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke grant: %w", mapErr(err))
	}
	return nil
}
