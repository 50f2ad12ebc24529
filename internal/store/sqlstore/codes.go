package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const codeColumns = "hash, grant_id, client_id, user_id, redirect_uri, redirect_uri_given, scopes, " +
	"code_challenge, code_challenge_method, nonce, auth_time, created_at, expires_at, used_at, " +
	"session_id, acr, claims, device, resources, dpop_jkt"

// codeAndGrantColumns are the columns of a code (c) and its grant (g).
var codeAndGrantColumns = qualified("c", codeColumns) + ", " + qualified("g", grantColumns)

// codeColumnCount is the number of codeColumns.
const codeColumnCount = 20

func scanCode(s rowScanner) (store.AuthCode, error) {
	var c store.AuthCode
	err := s.Scan(codeFields(&c)...)
	return c, err
}

// codeFields are the scan destinations of codeColumns.
func codeFields(c *store.AuthCode) []any {
	return []any{&c.Hash, &c.GrantID, &c.ClientID, &c.UserID, &c.RedirectURI, &c.RedirectURIGiven, list(&c.Scopes),
		&c.CodeChallenge, &c.CodeChallengeMethod, &c.Nonce, tm(&c.AuthTime), tm(&c.CreatedAt), tm(&c.ExpiresAt), tm(&c.UsedAt),
		&c.SessionID, &c.ACR, &c.Claims, &c.Device, list(&c.Resources), &c.DPoPJKT}
}

func checkCode(c store.AuthCode) error {
	if err := checkKeys(c.Hash, c.GrantID, c.ClientID, c.UserID); err != nil {
		return err
	}
	if err := checkText(c.RedirectURI, c.CodeChallenge, c.CodeChallengeMethod, c.Nonce, c.SessionID, c.ACR, c.Claims, c.Device, c.DPoPJKT); err != nil {
		return err
	}
	return checkText(append(slices.Clone(c.Scopes), c.Resources...)...)
}

// insertCode inserts c; ErrConflict on a duplicate hash, ErrNotFound if its
// grant does not exist.
func (db *DB) insertCode(ctx context.Context, tx *sql.Tx, c store.AuthCode) error {
	return db.run(ctx, tx, db.codeInsert(c, 1))
}

// codeInsert is the INSERT of c, its parameters numbered from first.
func (db *DB) codeInsert(c store.AuthCode, first int) *statement {
	return &statement{
		query: "INSERT INTO codes (" + codeColumns + ") VALUES (" + db.d.args(first, codeColumnCount) + ")",
		args: []any{c.Hash, c.GrantID, c.ClientID, c.UserID, c.RedirectURI, c.RedirectURIGiven,
			encodeList(c.Scopes), c.CodeChallenge, c.CodeChallengeMethod, c.Nonce,
			db.d.time(c.AuthTime), db.d.time(c.CreatedAt), db.d.time(c.ExpiresAt), db.d.time(c.UsedAt),
			c.SessionID, c.ACR, c.Claims, c.Device, encodeList(c.Resources), c.DPoPJKT},
	}
}

// GetCode returns the code by hash, used or not; ErrNotFound.
func (db *DB) GetCode(ctx context.Context, hash string) (store.AuthCode, error) {
	if !validKey(hash) {
		return store.AuthCode{}, fmt.Errorf("get code: %w", store.ErrNotFound)
	}
	return one(db.queryRow(ctx, db.read, "SELECT "+codeColumns+" FROM codes WHERE hash = "+db.d.arg(1), hash), scanCode, "get code")
}

// GetCodeWithGrant returns the code by hash, used or not, and, in the same
// lookup, its grant (zero if the grant is gone); ErrNotFound.
func (db *DB) GetCodeWithGrant(ctx context.Context, hash string) (store.AuthCode, store.Grant, error) {
	if !validKey(hash) {
		return store.AuthCode{}, store.Grant{}, fmt.Errorf("get code: %w", store.ErrNotFound)
	}
	var c store.AuthCode
	var g store.Grant
	q := "SELECT " + codeAndGrantColumns + " FROM codes c LEFT JOIN grants g ON g.id = c.grant_id WHERE c.hash = " + db.d.arg(1)
	if err := scanRow(db.queryRow(ctx, db.read, q, hash), append(codeFields(&c), grantFields(&g)...)...); err != nil {
		return store.AuthCode{}, store.Grant{}, fmt.Errorf("get code: %w", err)
	}
	return c, g, nil
}

// RedeemCode marks the code used at now and inserts issued, in one
// transaction (two statements; one on PostgreSQL), provided the code is unused, unexpired at
// now and its grant active at now (activeGrant, which on PostgreSQL locks
// the grant first). Exactly one concurrent caller succeeds: the conditional
// UPDATE decides, and on PostgreSQL a later caller waits for the row and
// then finds it used. The others get ErrAlreadyUsed and nothing is written.
// ErrNotFound if no such code; ErrConflict if an issued hash exists;
// ErrInvalid. On any error nothing is written and the code stays as it was.
func (db *DB) RedeemCode(ctx context.Context, hash string, now time.Time, issued []store.Token) error {
	if !validKey(hash) {
		return fmt.Errorf("redeem code: %w", store.ErrNotFound)
	}
	if err := checkTokens(issued); err != nil {
		return fmt.Errorf("redeem code: %w", err)
	}
	p := db.d.arg
	redeem := "UPDATE codes SET used_at = " + p(2) + " WHERE hash = " + p(1) +
		" AND used_at IS NULL AND expires_at > " + p(2) + " AND " + db.activeGrant("codes.grant_id", p(2))
	err := db.decideAndInsert(ctx, redeem, []any{hash, db.d.time(now)}, issued)
	if errors.Is(err, errUnchanged) {
		err = db.usedOrMissing(ctx, db.read, "codes", hash)
	}
	if err != nil {
		return fmt.Errorf("redeem code: %w", mapErr(err))
	}
	return nil
}
