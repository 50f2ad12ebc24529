package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const registrationTokenColumns = "id, hash, description, created_at, expires_at, max_uses, uses"

func scanRegistrationToken(s rowScanner) (store.RegistrationToken, error) {
	var t store.RegistrationToken
	err := s.Scan(&t.ID, &t.Hash, &t.Description, tm(&t.CreatedAt), tm(&t.ExpiresAt), &t.MaxUses, &t.Uses)
	return t, err
}

// CreateRegistrationToken inserts t; ErrConflict if its id or hash exists,
// ErrInvalid.
func (db *DB) CreateRegistrationToken(ctx context.Context, t store.RegistrationToken) error {
	if err := checkKeys(t.ID, t.Hash); err != nil {
		return fmt.Errorf("create registration token: %w", err)
	}
	if err := checkText(t.Description); err != nil {
		return fmt.Errorf("create registration token: %w", err)
	}
	if t.ID == "" || t.Hash == "" || t.MaxUses < 0 {
		return fmt.Errorf("create registration token: %w: id and hash are required, max uses not negative", store.ErrInvalid)
	}
	q := "INSERT INTO registration_tokens (" + registrationTokenColumns + ") VALUES (" + db.d.args(1, 7) + ")"
	if _, err := db.execWrite(ctx, q, t.ID, t.Hash, t.Description, db.d.time(t.CreatedAt), db.d.time(t.ExpiresAt), t.MaxUses, t.Uses); err != nil {
		return fmt.Errorf("create registration token: %w", mapErr(err))
	}
	return nil
}

// ListRegistrationTokens returns every token ordered by id.
func (db *DB) ListRegistrationTokens(ctx context.Context) ([]store.RegistrationToken, error) {
	rows, err := db.query(ctx, db.read, "SELECT "+registrationTokenColumns+" FROM registration_tokens ORDER BY id")
	out, err := collect(rows, err, scanRegistrationToken)
	if err != nil {
		return nil, fmt.Errorf("list registration tokens: %w", err)
	}
	return out, nil
}

// DeleteRegistrationToken removes the token; ErrNotFound.
func (db *DB) DeleteRegistrationToken(ctx context.Context, id string) error {
	if !validKey(id) {
		return fmt.Errorf("delete registration token: %w", store.ErrNotFound)
	}
	n, err := db.execWrite(ctx, "DELETE FROM registration_tokens WHERE id = "+db.d.arg(1), id)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("delete registration token: %w", mapErr(err))
	}
	return nil
}

// UseRegistrationToken counts one use of the token with hash in a single
// conditional UPDATE, so the database decides between racing uses;
// ErrNotFound if there is no such token, it expired or it is used up.
func (db *DB) UseRegistrationToken(ctx context.Context, hash string, now time.Time) error {
	if !validKey(hash) {
		return fmt.Errorf("use registration token: %w", store.ErrNotFound)
	}
	p := db.d.arg
	q := "UPDATE registration_tokens SET uses = uses + 1 WHERE hash = " + p(1) +
		" AND (expires_at IS NULL OR expires_at > " + p(2) + ") AND (max_uses = 0 OR uses < max_uses)"
	n, err := db.execWrite(ctx, q, hash, db.d.time(now))
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("use registration token: %w", mapErr(err))
	}
	return nil
}
