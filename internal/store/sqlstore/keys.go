package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const signingKeyColumns = "id, algorithm, sealed, public_jwk, created_at, active_at, retire_at"

func scanSigningKey(s rowScanner) (store.SigningKey, error) {
	var k store.SigningKey
	err := s.Scan(&k.ID, &k.Algorithm, blob(&k.Sealed), blob(&k.PublicJWK), tm(&k.CreatedAt), tm(&k.ActiveAt), tm(&k.RetireAt))
	return k, err
}

// CreateSigningKey inserts k; ErrConflict if the id exists, ErrInvalid.
// Sealed and PublicJWK are stored byte for byte; empty ones read back as nil.
func (db *DB) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	if err := checkKeys(k.ID); err != nil {
		return fmt.Errorf("create signing key: %w", err)
	}
	if err := checkText(k.Algorithm); err != nil {
		return fmt.Errorf("create signing key: %w", err)
	}
	q := "INSERT INTO signing_keys (" + signingKeyColumns + ") VALUES (" + db.d.args(1, 7) + ")"
	_, err := db.execWrite(ctx, q, k.ID, k.Algorithm, encodeBlob(k.Sealed), encodeBlob(k.PublicJWK),
		db.d.time(k.CreatedAt), db.d.time(k.ActiveAt), db.d.time(k.RetireAt))
	if err != nil {
		return fmt.Errorf("create signing key: %w", mapErr(err))
	}
	return nil
}

// ListSigningKeys returns every key, retired or not, newest ActiveAt first
// (a key without ActiveAt last), keys active at the same instant by id in
// byte order.
func (db *DB) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := db.query(ctx, db.read, "SELECT "+signingKeyColumns+" FROM signing_keys ORDER BY active_at DESC NULLS LAST, id")
	out, err := collect(rows, err, scanSigningKey)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return out, nil
}

// RetireSigningKey sets the key's RetireAt (the zero time clears it);
// ErrNotFound.
func (db *DB) RetireSigningKey(ctx context.Context, id string, retireAt time.Time) error {
	if !validKey(id) {
		return fmt.Errorf("retire signing key: %w", store.ErrNotFound)
	}
	p := db.d.arg
	n, err := db.execWrite(ctx, "UPDATE signing_keys SET retire_at = "+p(2)+" WHERE id = "+p(1), id, db.d.time(retireAt))
	if err != nil {
		return fmt.Errorf("retire signing key: %w", mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("retire signing key: %w", store.ErrNotFound)
	}
	return nil
}

// ResealSigningKey replaces the key's sealed private half; ErrNotFound.
func (db *DB) ResealSigningKey(ctx context.Context, id string, sealed []byte) error {
	if !validKey(id) {
		return fmt.Errorf("reseal signing key: %w", store.ErrNotFound)
	}
	p := db.d.arg
	n, err := db.execWrite(ctx, "UPDATE signing_keys SET sealed = "+p(2)+" WHERE id = "+p(1), id, encodeBlob(sealed))
	if err != nil {
		return fmt.Errorf("reseal signing key: %w", mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("reseal signing key: %w", store.ErrNotFound)
	}
	return nil
}

// DeleteSigningKey removes the key; ErrNotFound.
func (db *DB) DeleteSigningKey(ctx context.Context, id string) error {
	if !validKey(id) {
		return fmt.Errorf("delete signing key: %w", store.ErrNotFound)
	}
	n, err := db.execWrite(ctx, "DELETE FROM signing_keys WHERE id = "+db.d.arg(1), id)
	if err != nil {
		return fmt.Errorf("delete signing key: %w", mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("delete signing key: %w", store.ErrNotFound)
	}
	return nil
}
