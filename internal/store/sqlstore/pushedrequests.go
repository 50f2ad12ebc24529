package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// CreatePushedRequest inserts r; ErrConflict if its hash exists,
// ErrNotFound if its client does not, ErrInvalid if a value cannot be
// stored or a time is zero. Expired rows are left to the janitor.
func (db *DB) CreatePushedRequest(ctx context.Context, r store.PushedRequest) error {
	err := checkKeys(r.Hash, r.ClientID)
	if err == nil {
		err = checkText(r.Params)
	}
	if err == nil && (r.CreatedAt.IsZero() || r.ExpiresAt.IsZero()) {
		err = fmt.Errorf("%w: zero time", store.ErrInvalid)
	}
	if err != nil {
		return fmt.Errorf("create pushed request: %w", err)
	}
	q := "INSERT INTO pushed_requests (hash, client_id, params, created_at, expires_at, used_at) VALUES (" + db.d.args(1, 6) + ")"
	if _, err := db.execWrite(ctx, q, r.Hash, r.ClientID, r.Params, db.d.time(r.CreatedAt), db.d.time(r.ExpiresAt), db.d.time(r.UsedAt)); err != nil {
		return fmt.Errorf("create pushed request: %w", mapErr(err))
	}
	return nil
}

// ConsumePushedRequest marks the request used at now and returns it,
// provided it belongs to clientID and is unused and unexpired at now. One
// conditional UPDATE ... RETURNING decides, as consumeAuthRequest does:
// exactly one concurrent caller changes the row (SQLite runs write
// transactions one at a time; PostgreSQL makes the later ones wait for the
// row lock and re-check the condition on the committed row). The others,
// and any later caller, get ErrAlreadyUsed; ErrNotFound if no request of
// that client has the hash, which leaves another client's request unused.
func (db *DB) ConsumePushedRequest(ctx context.Context, hash, clientID string, now time.Time) (store.PushedRequest, error) {
	if !validKey(hash) || !validKey(clientID) {
		return store.PushedRequest{}, fmt.Errorf("consume pushed request: %w", store.ErrNotFound)
	}
	p := db.d.arg
	r := store.PushedRequest{Hash: hash, ClientID: clientID}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		err := db.queryRow(ctx, tx, "UPDATE pushed_requests SET used_at = "+p(3)+
			" WHERE hash = "+p(1)+" AND client_id = "+p(2)+" AND used_at IS NULL AND expires_at > "+p(3)+
			" RETURNING params, created_at, expires_at, used_at",
			hash, clientID, db.d.time(now)).Scan(&r.Params, tm(&r.CreatedAt), tm(&r.ExpiresAt), tm(&r.UsedAt))
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		ok, err := db.exists(ctx, tx, "SELECT 1 FROM pushed_requests WHERE hash = "+p(1)+" AND client_id = "+p(2), hash, clientID)
		switch {
		case err != nil:
			return err
		case ok:
			return store.ErrAlreadyUsed
		default:
			return store.ErrNotFound
		}
	})
	if err != nil {
		return store.PushedRequest{}, fmt.Errorf("consume pushed request: %w", mapErr(err))
	}
	return r, nil
}
