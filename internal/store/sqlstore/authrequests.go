package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const authRequestColumns = "id, browser_hash, client_id, redirect_uri, redirect_uri_given, response_type, scopes, " +
	"state, code_challenge, code_challenge_method, nonce, user_id, auth_time, created_at, expires_at, consumed_at, " +
	"response_mode, prompt, max_age, login_hint, acr_values, ui_locales, claims, session_id, device, resources, dpop_jkt"

// authRequestColumnCount is the number of authRequestColumns.
const authRequestColumnCount = 27

func scanAuthRequest(s rowScanner) (store.AuthRequest, error) {
	var r store.AuthRequest
	err := s.Scan(&r.ID, &r.BrowserHash, &r.ClientID, &r.RedirectURI, &r.RedirectURIGiven, &r.ResponseType,
		list(&r.Scopes), &r.State, &r.CodeChallenge, &r.CodeChallengeMethod, &r.Nonce, opt(&r.UserID),
		tm(&r.AuthTime), tm(&r.CreatedAt), tm(&r.ExpiresAt), tm(&r.ConsumedAt),
		&r.ResponseMode, &r.Prompt, &r.MaxAge, &r.LoginHint, &r.ACRValues, &r.UILocales, &r.Claims, &r.SessionID, &r.Device, list(&r.Resources), &r.DPoPJKT)
	return r, err
}

// CreateAuthRequest inserts r; ErrConflict on a duplicate id, ErrNotFound
// if its client (or user, if set) does not exist, ErrInvalid. Every
// authRequestPurgeEvery-th call also deletes up to authRequestPurgeBatch
// requests expired at r.CreatedAt, best effort (as purgeReplay), so
// abandoned requests never pile up.
func (db *DB) CreateAuthRequest(ctx context.Context, r store.AuthRequest) error {
	db.purgeAuthRequests(ctx, r.CreatedAt)
	if err := checkAuthRequest(r); err != nil {
		return fmt.Errorf("create auth request: %w", err)
	}
	if err := db.inTxOne(ctx, db.authRequestInsert(r), nil); err != nil {
		return fmt.Errorf("create auth request: %w", mapErr(err))
	}
	return nil
}

// CreateCompletedAuthRequest inserts r, consumed at r.ConsumedAt, with
// what CompleteAuthRequest would write for it (grant, code), in one
// transaction: a request answered without a sign-in or consent page. On any
// error nothing is written.
func (db *DB) CreateCompletedAuthRequest(ctx context.Context, r store.AuthRequest, grant *store.Grant, code *store.AuthCode) error {
	db.purgeAuthRequests(ctx, r.CreatedAt)
	err := checkAuthRequest(r)
	if err == nil && r.ConsumedAt.IsZero() {
		err = fmt.Errorf("%w: the request is not consumed", store.ErrInvalid)
	}
	if err == nil && grant != nil {
		err = checkGrant(*grant)
	}
	if err == nil && code != nil {
		err = checkCode(*code)
	}
	if err != nil {
		return fmt.Errorf("create completed auth request: %w", err)
	}
	fn := func(tx *sql.Tx) error {
		if err := db.run(ctx, tx, db.authRequestInsert(r)); err != nil {
			return err
		}
		return db.saveGrantAndCode(ctx, tx, grant, code)
	}
	if grant == nil && code != nil {
		// The common case, a remembered consent: on PostgreSQL one
		// statement that the writer may pipeline.
		ins := db.authRequestInsert(r)
		then := db.codeInsert(*code, len(ins.args)+1)
		st := &statement{query: "WITH request AS (" + ins.query + ") " + then.query, args: append(ins.args, then.args...)}
		err = db.inTxOne(ctx, st, fn)
	} else {
		err = db.inTx(ctx, fn)
	}
	if err != nil {
		return fmt.Errorf("create completed auth request: %w", mapErr(err))
	}
	return nil
}

// purgeAuthRequests deletes, every authRequestPurgeEvery-th call, up to
// authRequestPurgeBatch requests expired at now.
func (db *DB) purgeAuthRequests(ctx context.Context, now time.Time) {
	if db.authRequestCalls.Add(1)%authRequestPurgeEvery == 0 {
		p := db.d.arg
		_, _ = db.execWrite(ctx, "DELETE FROM auth_requests WHERE expires_at <= "+p(1)+" AND id IN (SELECT id FROM auth_requests WHERE expires_at <= "+
			p(1)+" LIMIT "+strconv.Itoa(authRequestPurgeBatch)+db.d.skipLocked()+")", db.d.time(now))
	}
}

func checkAuthRequest(r store.AuthRequest) error {
	err := checkKeys(r.ID, r.ClientID, r.UserID)
	if err == nil {
		err = checkText(r.BrowserHash, r.RedirectURI, r.ResponseType, r.State, r.CodeChallenge, r.CodeChallengeMethod, r.Nonce,
			r.ResponseMode, r.Prompt, r.LoginHint, r.ACRValues, r.UILocales, r.Claims, r.SessionID, r.Device, encodeList(r.Resources), r.DPoPJKT)
	}
	if err == nil {
		err = checkText(append(slices.Clone(r.Scopes), r.Resources...)...)
	}
	return err
}

func (db *DB) authRequestInsert(r store.AuthRequest) *statement {
	return &statement{
		query: "INSERT INTO auth_requests (" + authRequestColumns + ") VALUES (" + db.d.args(1, authRequestColumnCount) + ")",
		args: []any{r.ID, r.BrowserHash, r.ClientID, r.RedirectURI, r.RedirectURIGiven, r.ResponseType,
			encodeList(r.Scopes), r.State, r.CodeChallenge, r.CodeChallengeMethod, r.Nonce, optional(r.UserID),
			db.d.time(r.AuthTime), db.d.time(r.CreatedAt), db.d.time(r.ExpiresAt), db.d.time(r.ConsumedAt),
			r.ResponseMode, r.Prompt, r.MaxAge, r.LoginHint, r.ACRValues, r.UILocales, r.Claims, r.SessionID, r.Device, encodeList(r.Resources), r.DPoPJKT},
	}
}

// Each node deletes up to 4 expired requests per request it writes.
const (
	authRequestPurgeEvery = 64
	authRequestPurgeBatch = 256
)

// ChallengeInUse reports whether a request unexpired at now, from another
// browser than browserHash, carries the code challenge (one indexed read).
func (db *DB) ChallengeInUse(ctx context.Context, challenge, browserHash string, now time.Time) (bool, error) {
	if challenge == "" {
		return false, nil
	}
	p := db.d.arg
	ok, err := db.exists(ctx, db.read, "SELECT 1 FROM auth_requests WHERE code_challenge = "+p(1)+
		" AND code_challenge <> '' AND expires_at > "+p(2)+" AND browser_hash <> "+p(3)+" LIMIT 1", challenge, db.d.time(now), browserHash)
	if err != nil {
		return false, fmt.Errorf("challenge in use: %w", mapErr(err))
	}
	return ok, nil
}

// GetAuthRequest returns the request, consumed or not; ErrNotFound.
func (db *DB) GetAuthRequest(ctx context.Context, id string) (store.AuthRequest, error) {
	if !validKey(id) {
		return store.AuthRequest{}, fmt.Errorf("get auth request: %w", store.ErrNotFound)
	}
	q := "SELECT " + authRequestColumns + " FROM auth_requests WHERE id = " + db.d.arg(1)
	return one(db.queryRow(ctx, db.read, q, id), scanAuthRequest, "get auth request")
}

// SetAuthRequestUser records who signed in, and the sid of the session
// they signed in with, provided the request is neither consumed nor
// expired at authTime; ErrNotFound, ErrAlreadyUsed, and ErrNotFound too if
// the user does not exist. Signing in again replaces all three.
func (db *DB) SetAuthRequestUser(ctx context.Context, id, userID, sessionID string, authTime time.Time) error {
	if !validKey(id) {
		return fmt.Errorf("set auth request user: %w", store.ErrNotFound)
	}
	if err := checkKeys(userID); err != nil {
		return fmt.Errorf("set auth request user: %w", err)
	}
	if err := checkText(sessionID); err != nil {
		return fmt.Errorf("set auth request user: %w", err)
	}
	p := db.d.arg
	q := "UPDATE auth_requests SET user_id = " + p(2) + ", auth_time = " + p(3) + ", session_id = " + p(4) +
		" WHERE id = " + p(1) + " AND consumed_at IS NULL AND expires_at > " + p(3)
	n, err := db.execWrite(ctx, q, id, optional(userID), db.d.time(authTime), sessionID)
	if err == nil && n == 0 {
		// The request cannot come back once consumed or expired, so the
		// follow-up read needs no transaction.
		err = db.usedOrMissing(ctx, db.read, "auth_requests", id)
	}
	if err != nil {
		return fmt.Errorf("set auth request user: %w", mapErr(err))
	}
	return nil
}

// consumeAuthRequest marks the request consumed at now if it is neither
// consumed nor expired; ErrNotFound, ErrAlreadyUsed. Of concurrent
// transactions exactly one changes the row: SQLite runs them one after
// another; PostgreSQL makes the later ones wait for the row and re-check
// the condition against the committed row.
func (db *DB) consumeAuthRequest(ctx context.Context, tx *sql.Tx, id string, now time.Time) error {
	p := db.d.arg
	n, err := db.execCount(ctx, tx, "UPDATE auth_requests SET consumed_at = "+p(2)+
		" WHERE id = "+p(1)+" AND consumed_at IS NULL AND expires_at > "+p(2), id, db.d.time(now))
	if err != nil {
		return err
	}
	if n == 0 {
		return db.usedOrMissing(ctx, tx, "auth_requests", id)
	}
	return nil
}

// CompleteAuthRequest is the consent decision in one transaction: it marks
// the request consumed (only if neither consumed nor expired at now),
// inserts grant if non-nil (an existing grant of that id is kept and must
// be active, else ErrAlreadyUsed) and inserts code if non-nil. Exactly
// one concurrent caller succeeds; the others get ErrAlreadyUsed and nothing
// is written. ErrNotFound if no such request (or if the grant's user or
// client, or the code's grant, does not exist); ErrConflict if the code's
// hash exists; ErrInvalid. On any error nothing is written.
func (db *DB) CompleteAuthRequest(ctx context.Context, id string, now time.Time, grant *store.Grant, code *store.AuthCode) error {
	if !validKey(id) {
		return fmt.Errorf("complete auth request: %w", store.ErrNotFound)
	}
	if grant != nil {
		if err := checkGrant(*grant); err != nil {
			return fmt.Errorf("complete auth request: %w", err)
		}
	}
	if code != nil {
		if err := checkCode(*code); err != nil {
			return fmt.Errorf("complete auth request: %w", err)
		}
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.consumeAuthRequest(ctx, tx, id, now); err != nil {
			return err
		}
		return db.saveGrantAndCode(ctx, tx, grant, code)
	})
	if err != nil {
		return fmt.Errorf("complete auth request: %w", mapErr(err))
	}
	return nil
}

// saveGrantAndCode saves grant (see saveGrant) and inserts code, each if
// non-nil.
func (db *DB) saveGrantAndCode(ctx context.Context, tx *sql.Tx, grant *store.Grant, code *store.AuthCode) error {
	if grant != nil {
		if err := db.saveGrant(ctx, tx, *grant); err != nil {
			return err
		}
	}
	if code != nil {
		return db.insertCode(ctx, tx, *code)
	}
	return nil
}

// ConsumeAuthRequest marks the request consumed without a grant (the user
// denied); ErrNotFound, ErrAlreadyUsed as CompleteAuthRequest.
func (db *DB) ConsumeAuthRequest(ctx context.Context, id string, now time.Time) error {
	if !validKey(id) {
		return fmt.Errorf("consume auth request: %w", store.ErrNotFound)
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		return db.consumeAuthRequest(ctx, tx, id, now)
	})
	if err != nil {
		return fmt.Errorf("consume auth request: %w", mapErr(err))
	}
	return nil
}
