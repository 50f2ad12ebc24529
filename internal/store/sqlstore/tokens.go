package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const tokenColumns = "hash, kind, family_id, grant_id, client_id, user_id, scopes, " +
	"auth_time, created_at, expires_at, rotated_at, revoked_at, claims, device, address, resources, jkt"

// tokenReadColumns are the columns a token is read from: tokenColumns and
// the sealed successor of a rotated refresh token, which only a rotation
// writes (never an INSERT).
const tokenReadColumns = tokenColumns + ", successor"

// qualifiedTokenColumns are tokenReadColumns of the table named t; with
// tokenAndGrantColumns, its grant's too (g).
var (
	qualifiedTokenColumns = qualified("t", tokenReadColumns)
	tokenAndGrantColumns  = qualifiedTokenColumns + ", " + qualified("g", grantColumns)
)

// tokenColumnCount is the number of tokenColumns.
const tokenColumnCount = 17

// tokensPerInsert bounds the rows of one INSERT on PostgreSQL, far below
// its limit on parameters per statement (65535); SQLite takes fewer
// (rowsPerStatement).
const tokensPerInsert = 256

func scanToken(s rowScanner) (store.Token, error) {
	var t store.Token
	err := s.Scan(tokenFields(&t)...)
	return t, err
}

// tokenFields are the scan destinations of tokenReadColumns.
func tokenFields(t *store.Token) []any {
	return []any{&t.Hash, &t.Kind, opt(&t.FamilyID), opt(&t.GrantID), &t.ClientID, opt(&t.UserID), list(&t.Scopes),
		tm(&t.AuthTime), tm(&t.CreatedAt), tm(&t.ExpiresAt), tm(&t.RotatedAt), tm(&t.RevokedAt), &t.Claims, &t.Device, &t.Address, list(&t.Resources),
		opt(&t.JKT), &t.Successor}
}

func checkTokens(tokens []store.Token) error {
	for _, t := range tokens {
		if t.Kind != store.KindAccess && t.Kind != store.KindRefresh {
			return fmt.Errorf("%w: unknown token kind", store.ErrInvalid)
		}
		if err := checkKeys(t.Hash, t.FamilyID, t.GrantID, t.ClientID, t.UserID); err != nil {
			return err
		}
		if err := checkText(t.Claims, t.Device, t.Address, t.JKT); err != nil {
			return err
		}
		if err := checkText(append(slices.Clone(t.Scopes), t.Resources...)...); err != nil {
			return err
		}
	}
	return nil
}

// insertTokens inserts tokens with one statement per tokensPerInsert rows;
// callers run it in a transaction when that is more than one statement.
// ErrConflict on a duplicate hash; ErrNotFound if a grant, client or user
// referred to does not exist.
func (db *DB) insertTokens(ctx context.Context, q querier, tokens []store.Token) error {
	return insertRows(ctx, db, q, "tokens", tokenColumns, tokenColumnCount, tokensPerInsert, tokens, db.tokenValues)
}

func (db *DB) tokenValues(t store.Token) []any {
	return []any{t.Hash, t.Kind, optional(t.FamilyID), optional(t.GrantID), t.ClientID, optional(t.UserID),
		encodeList(t.Scopes), db.d.time(t.AuthTime), db.d.time(t.CreatedAt), db.d.time(t.ExpiresAt),
		db.d.time(t.RotatedAt), db.d.time(t.RevokedAt), t.Claims, t.Device, t.Address, encodeList(t.Resources), optional(t.JKT)}
}

// insertTokensAfter is one PostgreSQL statement that runs the data-modifying
// statement first (an UPDATE ... RETURNING 1 that decides whether the
// tokens are issued, with parameters firstArgs) and inserts tokens only if
// it returned a row: rows is then len(tokens), else 0. The values are cast
// to their columns' types: in a SELECT, unlike in VALUES of an INSERT,
// PostgreSQL would take untyped parameters for text.
func (db *DB) insertTokensAfter(first string, firstArgs []any, tokens []store.Token) *statement {
	var b strings.Builder
	b.WriteString("WITH decided AS (" + first + ") INSERT INTO tokens (" + tokenColumns + ") ")
	args := slices.Clone(firstArgs)
	for i, t := range tokens {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString("SELECT ")
		for k, v := range db.tokenValues(t) {
			if k > 0 {
				b.WriteString(", ")
			}
			args = append(args, v)
			b.WriteString(db.d.arg(len(args)) + tokenColumnTypes[k])
		}
		b.WriteString(" WHERE EXISTS (SELECT 1 FROM decided)")
	}
	return &statement{query: b.String(), args: args}
}

// tokenColumnTypes are the casts of tokenColumns' values on PostgreSQL.
var tokenColumnTypes = [tokenColumnCount]string{"::text", "::text", "::text", "::text", "::text", "::text", "::text",
	"::timestamptz", "::timestamptz", "::timestamptz", "::timestamptz", "::timestamptz", "::text", "::text", "::text", "::text", "::text"}

// CreateTokens inserts the tokens, all or none; ErrConflict if a hash
// exists (or repeats), ErrNotFound if a grant, client or user referred to
// does not exist, ErrInvalid.
func (db *DB) CreateTokens(ctx context.Context, tokens []store.Token) error {
	if err := checkTokens(tokens); err != nil {
		return fmt.Errorf("create tokens: %w", err)
	}
	var err error
	switch {
	case len(tokens) == 0:
		return nil
	case len(tokens) <= db.d.rowsPerStatement(tokenColumnCount, tokensPerInsert):
		err = db.inTxOne(ctx, insertStatement(db, "tokens", tokenColumns, tokenColumnCount, tokens, db.tokenValues), nil)
	default:
		err = db.inTx(ctx, func(tx *sql.Tx) error { return db.insertTokens(ctx, tx, tokens) })
	}
	if err != nil {
		return fmt.Errorf("create tokens: %w", mapErr(err))
	}
	return nil
}

// GetToken returns the token by hash, in any state; ErrNotFound.
func (db *DB) GetToken(ctx context.Context, hash string) (store.Token, error) {
	if !validKey(hash) {
		return store.Token{}, fmt.Errorf("get token: %w", store.ErrNotFound)
	}
	return one(db.queryRow(ctx, db.read, "SELECT "+tokenReadColumns+" FROM tokens WHERE hash = "+db.d.arg(1), hash), scanToken, "get token")
}

// GetTokenWithGrant returns the token by hash and, in the same lookup, its
// grant (zero if it has none); ErrNotFound if no such token.
func (db *DB) GetTokenWithGrant(ctx context.Context, hash string) (store.Token, store.Grant, error) {
	if !validKey(hash) {
		return store.Token{}, store.Grant{}, fmt.Errorf("get token: %w", store.ErrNotFound)
	}
	var t store.Token
	var g store.Grant
	q := "SELECT " + tokenAndGrantColumns + " FROM tokens t LEFT JOIN grants g ON g.id = t.grant_id WHERE t.hash = " + db.d.arg(1)
	if err := scanRow(db.queryRow(ctx, db.read, q, hash), append(tokenFields(&t), grantFields(&g)...)...); err != nil {
		return store.Token{}, store.Grant{}, fmt.Errorf("get token: %w", err)
	}
	return t, g, nil
}

// GetTokenWithUsername returns the token by hash and, in the same lookup,
// the username of its user ("" if none); ErrNotFound if no such token.
func (db *DB) GetTokenWithUsername(ctx context.Context, hash string) (store.Token, string, error) {
	if !validKey(hash) {
		return store.Token{}, "", fmt.Errorf("get token: %w", store.ErrNotFound)
	}
	var t store.Token
	var username string
	q := "SELECT " + qualifiedTokenColumns + ", u.username FROM tokens t LEFT JOIN users u ON u.id = t.user_id WHERE t.hash = " + db.d.arg(1)
	if err := scanRow(db.queryRow(ctx, db.read, q, hash), append(tokenFields(&t), opt(&username))...); err != nil {
		return store.Token{}, "", fmt.Errorf("get token: %w", err)
	}
	return t, username, nil
}

// RotateRefreshToken marks the refresh token oldHash rotated at now and
// inserts issued, in one transaction, provided the old token is a refresh
// token, neither rotated nor revoked, unexpired at now, and its grant (if
// it has one) active at now. Exactly one concurrent caller succeeds; the
// others get ErrAlreadyUsed and nothing is written. ErrNotFound if no such
// token; ErrConflict if an issued hash exists; ErrInvalid. On any error
// nothing is written.
//
// It is two statements: one conditional UPDATE decides (and checks the
// grant), then the INSERT. On PostgreSQL the UPDATE share-locks the grant's
// row (activeGrant) before it locks the token's, the order RevokeGrant
// takes them in, so the two never deadlock.
func (db *DB) RotateRefreshToken(ctx context.Context, oldHash string, now time.Time, issued []store.Token) error {
	return db.RotateRefreshTokenWithSuccessor(ctx, oldHash, now, nil, issued)
}

// RotateRefreshTokenWithSuccessor is RotateRefreshToken that also sets the
// old token's successor column to sealedSuccessor (NULL if empty) in the
// same conditional UPDATE: no statement more than a plain rotation.
func (db *DB) RotateRefreshTokenWithSuccessor(ctx context.Context, oldHash string, now time.Time, sealedSuccessor []byte, issued []store.Token) error {
	if !validKey(oldHash) {
		return fmt.Errorf("rotate refresh token: %w", store.ErrNotFound)
	}
	if err := checkTokens(issued); err != nil {
		return fmt.Errorf("rotate refresh token: %w", err)
	}
	p := db.d.arg
	rotate := "UPDATE tokens SET rotated_at = " + p(2) + ", successor = " + p(3) + " WHERE hash = " + p(1) +
		" AND " + db.activeRefresh(p(2))
	var successor any // NULL, not an empty blob
	if len(sealedSuccessor) > 0 {
		successor = sealedSuccessor
	}
	args := []any{oldHash, db.d.time(now), successor}
	err := db.decideAndInsert(ctx, rotate, args, issued)
	if errors.Is(err, errUnchanged) {
		err = db.usedOrMissing(ctx, db.read, "tokens", oldHash)
	}
	if err != nil {
		return fmt.Errorf("rotate refresh token: %w", mapErr(err))
	}
	return nil
}

// IssueWithinGrace inserts issued provided that oldHash is a refresh token
// rotated at or after rotatedSince and not revoked, and successorHash an
// active refresh token of its family (neither rotated nor revoked,
// unexpired at now) whose grant, if any, is active at now; ErrAlreadyUsed
// (nothing written) if not, ErrNotFound if either token does not exist,
// ErrConflict if an issued hash exists, ErrInvalid.
//
// It decides with a conditional UPDATE of the successor's row that changes
// no value (rotated_at stays NULL) but takes the row's lock: on PostgreSQL
// a concurrent rotation or revocation of the successor is thus either
// committed first, and the condition fails, or waits for this transaction,
// and then sees (RevokeFamily) or refuses nothing it should not. The grant
// is share-locked first, as in RotateRefreshToken, so the lock order is
// the same. It is RotateRefreshToken's shape: one statement on
// PostgreSQL (decide, then insert), two on SQLite.
func (db *DB) IssueWithinGrace(ctx context.Context, oldHash, successorHash string, rotatedSince, now time.Time, issued []store.Token) error {
	if !validKey(oldHash) || !validKey(successorHash) {
		return fmt.Errorf("issue within grace: %w", store.ErrNotFound)
	}
	if err := checkTokens(issued); err != nil {
		return fmt.Errorf("issue within grace: %w", err)
	}
	p := db.d.arg
	decide := "UPDATE tokens SET rotated_at = NULL WHERE hash = " + p(1) +
		" AND " + db.activeRefresh(p(3)) +
		" AND EXISTS (SELECT 1 FROM tokens o WHERE o.hash = " + p(2) + " AND o.kind = 'refresh'" +
		" AND o.family_id = tokens.family_id AND o.revoked_at IS NULL AND o.rotated_at >= " + p(4) + ")"
	args := []any{successorHash, oldHash, db.d.time(now), db.d.time(rotatedSince)}
	err := db.decideAndInsert(ctx, decide, args, issued)
	if errors.Is(err, errUnchanged) {
		err = db.usedOrMissing(ctx, db.read, "tokens", successorHash)
		if errors.Is(err, store.ErrAlreadyUsed) {
			err = db.usedOrMissing(ctx, db.read, "tokens", oldHash)
		}
	}
	if err != nil {
		return fmt.Errorf("issue within grace: %w", mapErr(err))
	}
	return nil
}

// IssueForRefreshToken inserts issued provided hash is an active refresh
// token of an active grant (store.TokenStore). It decides as
// IssueWithinGrace does, with a conditional UPDATE that changes no value
// but takes the row's lock, so that a concurrent revocation of the token
// or its family is either seen or waits for the tokens it must revoke.
func (db *DB) IssueForRefreshToken(ctx context.Context, hash string, now time.Time, issued []store.Token) error {
	if !validKey(hash) {
		return fmt.Errorf("issue for refresh token: %w", store.ErrNotFound)
	}
	if err := checkTokens(issued); err != nil {
		return fmt.Errorf("issue for refresh token: %w", err)
	}
	p := db.d.arg
	decide := "UPDATE tokens SET rotated_at = NULL WHERE hash = " + p(1) +
		" AND " + db.activeRefresh(p(2))
	err := db.decideAndInsert(ctx, decide, []any{hash, db.d.time(now)}, issued)
	if errors.Is(err, errUnchanged) {
		err = db.usedOrMissing(ctx, db.read, "tokens", hash)
	}
	if err != nil {
		return fmt.Errorf("issue for refresh token: %w", mapErr(err))
	}
	return nil
}

// activeRefresh is the condition on a tokens row that it is a refresh
// token still usable at now (a placeholder): neither rotated nor revoked,
// unexpired, of an active grant or none.
func (db *DB) activeRefresh(now string) string {
	return "kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > " + now +
		" AND (grant_id IS NULL OR " + db.activeGrant("tokens.grant_id", now) + ")"
}

// errUnchanged: the statement that decides a single-use operation changed
// no row; the caller reads why (usedOrMissing). Once the row is used (or
// expired, or revoked), it never becomes usable again, so that read needs no
// transaction.
var errUnchanged = errors.New("unchanged")

// decideAndInsert runs the conditional UPDATE decide (with args) and, if it
// changed a row, inserts issued, in one transaction; errUnchanged if it
// changed none. On PostgreSQL the two are one statement (insertTokensAfter),
// which the group-commit writer pipelines; on SQLite, two.
func (db *DB) decideAndInsert(ctx context.Context, decide string, args []any, issued []store.Token) error {
	if len(issued) == 0 || len(issued) > tokensPerInsert {
		return db.inTx(ctx, func(tx *sql.Tx) error { return db.decideThenInsert(ctx, tx, decide, args, issued) })
	}
	st := db.insertTokensAfter(decide+" RETURNING 1", args, issued)
	err := db.inTxOne(ctx, st, func(tx *sql.Tx) error { return db.decideThenInsert(ctx, tx, decide, args, issued) })
	if err == nil && db.d.rowLocks && st.rows == 0 {
		return errUnchanged
	}
	return err
}

func (db *DB) decideThenInsert(ctx context.Context, tx *sql.Tx, decide string, args []any, issued []store.Token) error {
	n, err := db.execCount(ctx, tx, decide, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return errUnchanged
	}
	return db.insertTokens(ctx, tx, issued)
}

// RevokeToken marks one token revoked at now, keeping an earlier
// revocation time (no error if it already was revoked); ErrNotFound.
func (db *DB) RevokeToken(ctx context.Context, hash string, now time.Time) error {
	if !validKey(hash) {
		return fmt.Errorf("revoke token: %w", store.ErrNotFound)
	}
	p := db.d.arg
	n, err := db.execWrite(ctx, "UPDATE tokens SET revoked_at = COALESCE(revoked_at, "+p(1)+") WHERE hash = "+p(2),
		db.d.time(now), hash)
	if err != nil {
		return fmt.Errorf("revoke token: %w", mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("revoke token: %w", store.ErrNotFound)
	}
	return nil
}

// RevokeFamily marks every unrevoked token of the family revoked at now
// and returns how many it changed; an empty familyID names no family.
//
// On PostgreSQL it first locks the family's grant, the row every rotation
// and redemption of the grant holds (activeGrant) and every other
// revocation locks first (see inTx): it thus waits for a rotation in
// progress to commit, and the UPDATE that follows sees the tokens that
// rotation inserted and revokes them too. A family without a grant has its
// rows locked in key order instead. (SQLite runs write transactions one at
// a time, so one UPDATE suffices.)
func (db *DB) RevokeFamily(ctx context.Context, familyID string, now time.Time) (int, error) {
	if familyID == "" || !validKey(familyID) {
		return 0, nil
	}
	p := db.d.arg
	var n int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if db.d.rowLocks {
			if err := db.lockFamily(ctx, tx, familyID); err != nil {
				return err
			}
		}
		var err error
		n, err = db.execCount(ctx, tx, "UPDATE tokens SET revoked_at = "+p(1)+" WHERE family_id = "+p(2)+" AND revoked_at IS NULL",
			db.d.time(now), familyID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("revoke family: %w", mapErr(err))
	}
	return int(n), nil
}

// lockFamily locks the grant of the family (a family's tokens share one),
// or, for a family without a grant, its tokens in key order.
func (db *DB) lockFamily(ctx context.Context, tx *sql.Tx, familyID string) error {
	p := db.d.arg
	var grantID string
	err := db.queryRow(ctx, tx, "SELECT grant_id FROM tokens WHERE family_id = "+p(1)+" AND grant_id IS NOT NULL LIMIT 1", familyID).Scan(&grantID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = db.exec(ctx, tx, "SELECT 1 FROM tokens WHERE family_id = "+p(1)+" ORDER BY hash FOR UPDATE", familyID)
		return err
	case err != nil:
		return err
	}
	_, err = db.exec(ctx, tx, "SELECT 1 FROM grants WHERE id = "+p(1)+" FOR UPDATE", grantID)
	return err
}

// clientsPerStatement bounds the client ids of one RevokeRefreshTokens
// statement, far below both backends' limits on parameters.
const clientsPerStatement = 256

// RevokeRefreshTokens marks revoked at now every active refresh token
// (neither rotated nor revoked, unexpired at now) of the user for each of
// clientIDs, and every unrevoked token of their families (the access tokens
// and rotated refresh tokens issued with them), in one transaction; it
// returns how many tokens it changed. An unknown user, or no client, is 0.
//
// On PostgreSQL it first locks the user's grants to those clients, in id
// order (and refresh tokens without a grant, in key order), which waits
// for a rotation of one of their tokens to commit; the UPDATEs that follow
// then see the tokens that rotation inserted and revoke them too. A
// rotation that starts later waits for this transaction and finds its
// token revoked. (SQLite runs write transactions one at a time.)
func (db *DB) RevokeRefreshTokens(ctx context.Context, userID string, clientIDs []string, now time.Time) (int, error) {
	if userID == "" || !validKey(userID) {
		return 0, nil
	}
	ids := make([]string, 0, len(clientIDs))
	for _, id := range clientIDs {
		if validKey(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	// Batches in client order lock grants in (client_id, id) order overall.
	slices.Sort(ids)
	p := db.d.arg
	var total int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		total = 0
		for rest := ids; len(rest) > 0; {
			batch := rest[:min(len(rest), clientsPerStatement)]
			rest = rest[len(batch):]
			args := make([]any, 0, 2+len(batch))
			args = append(args, db.d.time(now), userID)
			for _, id := range batch {
				args = append(args, id)
			}
			// The user's active refresh tokens for the batch's clients,
			// found through tokens_user_client.
			active := "user_id = " + p(2) + " AND client_id IN (" + db.d.args(3, len(batch)) + ")" +
				" AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > " + p(1)
			if db.d.rowLocks {
				if _, err := db.exec(ctx, tx, "SELECT 1 FROM grants WHERE user_id = "+p(1)+" AND client_id IN ("+db.d.args(2, len(batch))+")"+
					" ORDER BY client_id, id FOR UPDATE", args[1:]...); err != nil {
					return err
				}
				if _, err := db.exec(ctx, tx, "SELECT 1 FROM tokens WHERE grant_id IS NULL AND "+active+" ORDER BY hash FOR UPDATE", args...); err != nil {
					return err
				}
			}
			n, err := db.execCount(ctx, tx, "UPDATE tokens SET revoked_at = "+p(1)+" WHERE revoked_at IS NULL"+
				" AND family_id IN (SELECT family_id FROM tokens WHERE "+active+")", args...)
			if err != nil {
				return err
			}
			total += n
			// Refresh tokens issued without a family are revoked alone.
			n, err = db.execCount(ctx, tx, "UPDATE tokens SET revoked_at = "+p(1)+" WHERE family_id IS NULL AND "+active, args...)
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("revoke refresh tokens: %w", mapErr(err))
	}
	return int(total), nil
}
