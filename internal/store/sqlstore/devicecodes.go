package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const deviceCodeColumns = "hash, user_code_hash, client_id, scopes, resources, device, address, created_at, expires_at, " +
	"poll_interval, last_poll_at, status, user_id, grant_id, session_id, auth_time, used_at"

// deviceCodeColumnCount is the number of deviceCodeColumns.
const deviceCodeColumnCount = 17

// Each node deletes up to 4 long-expired device codes per code it writes;
// a code is kept a day past its expiry, so that a late poll is still told
// expired_token rather than that the code is unknown.
const (
	deviceCodePurgeEvery = 64
	deviceCodePurgeBatch = 256
	deviceCodeKeep       = 24 * time.Hour
)

func scanDeviceCode(s rowScanner) (store.DeviceCode, error) {
	var d store.DeviceCode
	var interval int64
	err := s.Scan(&d.Hash, &d.UserCodeHash, &d.ClientID, list(&d.Scopes), list(&d.Resources), &d.Device, &d.Address,
		tm(&d.CreatedAt), tm(&d.ExpiresAt), &interval, tm(&d.LastPollAt), &d.Status, opt(&d.UserID), opt(&d.GrantID),
		&d.SessionID, tm(&d.AuthTime), tm(&d.UsedAt))
	d.Interval = time.Duration(interval)
	return d, err
}

func checkDeviceCode(d store.DeviceCode) error {
	if err := checkKeys(d.Hash, d.UserCodeHash, d.ClientID, d.UserID, d.GrantID); err != nil {
		return err
	}
	if err := checkText(d.Device, d.Address, d.SessionID); err != nil {
		return err
	}
	if err := checkText(d.Scopes...); err != nil {
		return err
	}
	return checkText(d.Resources...)
}

// CreateDeviceCode inserts d (an empty Status is pending); ErrConflict if
// its hash or user code hash exists, ErrNotFound if its client (or user or
// grant, if set) does not, ErrInvalid (a zero ExpiresAt too). Every
// deviceCodePurgeEvery-th call also deletes up to deviceCodePurgeBatch
// codes expired deviceCodeKeep before d.CreatedAt, best effort, but for
// the redeemed ones whose family still has unexpired tokens.
func (db *DB) CreateDeviceCode(ctx context.Context, d store.DeviceCode) error {
	if d.Status == "" {
		d.Status = store.DeviceCodePending
	}
	if err := checkDeviceCode(d); err != nil {
		return fmt.Errorf("create device code: %w", err)
	}
	p := db.d.arg
	if db.deviceCodeCalls.Add(1)%deviceCodePurgeEvery == 0 {
		// A redeemed code stays while its family lives, as the janitor
		// keeps it (janitor.go): its replay revokes that family.
		_, _ = db.execWrite(ctx, "DELETE FROM device_codes WHERE expires_at <= "+p(1)+" AND hash IN (SELECT hash FROM device_codes WHERE expires_at <= "+
			p(1)+" AND NOT (device_codes.used_at IS NOT NULL AND "+familyLive("device_codes.hash", p(2))+")"+
			" LIMIT "+strconv.Itoa(deviceCodePurgeBatch)+db.d.skipLocked()+")", db.d.time(d.CreatedAt.Add(-deviceCodeKeep)), db.d.time(d.CreatedAt))
	}
	q := "INSERT INTO device_codes (" + deviceCodeColumns + ") VALUES (" + db.d.args(1, deviceCodeColumnCount) + ")"
	_, err := db.execWrite(ctx, q, d.Hash, d.UserCodeHash, d.ClientID, encodeList(d.Scopes), encodeList(d.Resources),
		d.Device, d.Address, db.d.time(d.CreatedAt), db.d.time(d.ExpiresAt), int64(d.Interval), db.d.time(d.LastPollAt),
		d.Status, optional(d.UserID), optional(d.GrantID), d.SessionID, db.d.time(d.AuthTime), db.d.time(d.UsedAt))
	if err != nil {
		return fmt.Errorf("create device code: %w", mapErr(err))
	}
	return nil
}

// GetDeviceCode returns the code by hash, in any state; ErrNotFound.
func (db *DB) GetDeviceCode(ctx context.Context, hash string) (store.DeviceCode, error) {
	if !validKey(hash) {
		return store.DeviceCode{}, fmt.Errorf("get device code: %w", store.ErrNotFound)
	}
	return one(db.queryRow(ctx, db.read, "SELECT "+deviceCodeColumns+" FROM device_codes WHERE hash = "+db.d.arg(1), hash), scanDeviceCode, "get device code")
}

// GetDeviceCodeByUserCode returns the pending code with the user code
// hash, unexpired at now (one indexed read); ErrNotFound for any other.
func (db *DB) GetDeviceCodeByUserCode(ctx context.Context, userCodeHash string, now time.Time) (store.DeviceCode, error) {
	if !validKey(userCodeHash) {
		return store.DeviceCode{}, fmt.Errorf("get device code by user code: %w", store.ErrNotFound)
	}
	p := db.d.arg
	q := "SELECT " + deviceCodeColumns + " FROM device_codes WHERE user_code_hash = " + p(1) +
		" AND status = 'pending' AND expires_at > " + p(2)
	return one(db.queryRow(ctx, db.read, q, userCodeHash, db.d.time(now)), scanDeviceCode, "get device code by user code")
}

// ApproveDeviceCode marks the code approved by a.UserID with a.Scopes and
// saves a.Grant (see saveGrant), in one transaction, provided the code is
// pending and unexpired at now. The conditional UPDATE decides between
// concurrent decisions: exactly one succeeds, the others get
// ErrAlreadyUsed and write nothing. ErrNotFound if no such code (or no
// such user); ErrInvalid, also when the grant is not a.UserID's grant to
// the code's client. On any error nothing is written.
func (db *DB) ApproveDeviceCode(ctx context.Context, hash string, now time.Time, a store.DeviceApproval) error {
	if !validKey(hash) {
		return fmt.Errorf("approve device code: %w", store.ErrNotFound)
	}
	err := checkGrant(a.Grant)
	if err == nil {
		err = checkKeys(a.UserID)
	}
	if err == nil {
		err = checkText(a.SessionID)
	}
	if err == nil {
		err = checkText(a.Scopes...)
	}
	if err == nil && a.Grant.UserID != a.UserID {
		err = fmt.Errorf("%w: the grant is another user's", store.ErrInvalid)
	}
	if err != nil {
		return fmt.Errorf("approve device code: %w", err)
	}
	p := db.d.arg
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		// The decision first, which claims the code; then the grant it
		// refers to (the code's row, then the grant's: see inTx).
		var clientID string
		err := db.queryRow(ctx, tx, "UPDATE device_codes SET status = 'approved', user_id = "+p(3)+
			", session_id = "+p(4)+", auth_time = "+p(5)+", scopes = "+p(6)+
			" WHERE hash = "+p(1)+" AND status = 'pending' AND expires_at > "+p(2)+" RETURNING client_id",
			hash, db.d.time(now), a.UserID, a.SessionID, db.d.time(a.AuthTime), encodeList(a.Scopes)).Scan(&clientID)
		if errors.Is(err, sql.ErrNoRows) {
			return db.usedOrMissing(ctx, tx, "device_codes", hash)
		}
		if err != nil {
			return err
		}
		if clientID != a.Grant.ClientID {
			return fmt.Errorf("%w: the grant is for another client", store.ErrInvalid)
		}
		if err := db.saveGrant(ctx, tx, a.Grant); err != nil {
			return err
		}
		_, err = db.exec(ctx, tx, "UPDATE device_codes SET grant_id = "+p(2)+" WHERE hash = "+p(1), hash, a.Grant.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("approve device code: %w", mapErr(err))
	}
	return nil
}

// DenyDeviceCode marks the code denied, provided it is pending and
// unexpired at now; ErrNotFound, ErrAlreadyUsed as ApproveDeviceCode.
func (db *DB) DenyDeviceCode(ctx context.Context, hash string, now time.Time) error {
	if !validKey(hash) {
		return fmt.Errorf("deny device code: %w", store.ErrNotFound)
	}
	p := db.d.arg
	n, err := db.execWrite(ctx, "UPDATE device_codes SET status = 'denied' WHERE hash = "+p(1)+
		" AND status = 'pending' AND expires_at > "+p(2), hash, db.d.time(now))
	if err == nil && n == 0 {
		// A decided or expired code never becomes pending again, so the
		// follow-up read needs no transaction.
		err = db.usedOrMissing(ctx, db.read, "device_codes", hash)
	}
	if err != nil {
		return fmt.Errorf("deny device code: %w", mapErr(err))
	}
	return nil
}

// PollDeviceCode records a poll of the code by clientID at now and returns
// the code as it then is, with whether the poll came too soon (see
// store.DeviceCodeStore). The code's row is read and locked, then updated,
// in one transaction: concurrent polls are judged one after another, each
// against the one before. ErrNotFound if no such code of clientID.
func (db *DB) PollDeviceCode(ctx context.Context, hash, clientID string, now time.Time, slack, slowDown time.Duration) (store.DeviceCode, bool, error) {
	if !validKey(hash) || !validKey(clientID) {
		return store.DeviceCode{}, false, fmt.Errorf("poll device code: %w", store.ErrNotFound)
	}
	p := db.d.arg
	var d store.DeviceCode
	var tooSoon bool
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		d, err = scanDeviceCode(db.queryRow(ctx, tx, "SELECT "+deviceCodeColumns+" FROM device_codes WHERE hash = "+p(1)+
			" AND client_id = "+p(2)+db.d.forUpdate(), hash, clientID))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		tooSoon = d.Status == store.DeviceCodePending && !d.LastPollAt.IsZero() && now.Before(d.LastPollAt.Add(d.Interval-slack))
		if tooSoon {
			d.Interval += slowDown
		}
		d.LastPollAt = now
		_, err = db.exec(ctx, tx, "UPDATE device_codes SET last_poll_at = "+p(2)+", poll_interval = "+p(3)+" WHERE hash = "+p(1),
			hash, db.d.time(now), int64(d.Interval))
		return err
	})
	if err != nil {
		return store.DeviceCode{}, false, fmt.Errorf("poll device code: %w", mapErr(err))
	}
	// As stored: times in UTC to the microsecond.
	d.LastPollAt = now.UTC().Truncate(time.Microsecond)
	return d, tooSoon, nil
}

// RedeemDeviceCode marks the code used at now and inserts issued, in one
// transaction, provided the code is approved, unused, unexpired at now and
// its grant active at now. As RedeemCode, the conditional UPDATE decides:
// exactly one concurrent caller succeeds; the others get ErrAlreadyUsed
// and nothing is written. ErrNotFound if no such code; ErrConflict if an
// issued hash exists; ErrInvalid. On any error nothing is written.
func (db *DB) RedeemDeviceCode(ctx context.Context, hash string, now time.Time, issued []store.Token) error {
	if !validKey(hash) {
		return fmt.Errorf("redeem device code: %w", store.ErrNotFound)
	}
	if err := checkTokens(issued); err != nil {
		return fmt.Errorf("redeem device code: %w", err)
	}
	p := db.d.arg
	redeem := "UPDATE device_codes SET used_at = " + p(2) + " WHERE hash = " + p(1) +
		" AND status = 'approved' AND used_at IS NULL AND expires_at > " + p(2) +
		" AND " + db.activeGrant("device_codes.grant_id", p(2))
	err := db.decideAndInsert(ctx, redeem, []any{hash, db.d.time(now)}, issued)
	if errors.Is(err, errUnchanged) {
		err = db.usedOrMissing(ctx, db.read, "device_codes", hash)
	}
	if err != nil {
		return fmt.Errorf("redeem device code: %w", mapErr(err))
	}
	return nil
}
