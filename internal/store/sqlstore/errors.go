package sqlstore

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchkey/latchkey/internal/store"
)

// maxKeyBytes bounds every indexed text value (ids, hashes, usernames,
// references). PostgreSQL refuses B-tree entries over about 2.7 KB; SQLite
// has no such limit. Checking here keeps both backends identical.
const maxKeyBytes = 1024

// checkText returns store.ErrInvalid if a value cannot be stored identically
// on both backends: PostgreSQL refuses NUL bytes and invalid UTF-8 in text.
// The value itself is never echoed.
func checkText(values ...string) error {
	for _, s := range values {
		if strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("%w: text contains a NUL byte", store.ErrInvalid)
		}
		if !utf8.ValidString(s) {
			return fmt.Errorf("%w: text is not valid UTF-8", store.ErrInvalid)
		}
	}
	return nil
}

// checkKeys is checkText for indexed values, which are also bounded in length.
func checkKeys(keys ...string) error {
	for _, k := range keys {
		if len(k) > maxKeyBytes {
			return fmt.Errorf("%w: key longer than %d bytes", store.ErrInvalid, maxKeyBytes)
		}
	}
	return checkText(keys...)
}

// validKey reports whether k could be stored as a key. Lookups by a key
// that could never have been stored answer ErrNotFound without a query.
func validKey(k string) bool {
	return checkKeys(k) == nil
}

// mapErr translates a driver error into the store's sentinels, keeping the
// driver error in the chain for logs:
//   - unique or primary-key violation: store.ErrConflict;
//   - foreign-key violation (a reference to a client, user or grant that does
//     not exist): store.ErrNotFound;
//   - NOT NULL or CHECK violation, text PostgreSQL cannot store, an index
//     entry too large: store.ErrInvalid.
//
// Other errors, store sentinels included, are returned unchanged.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var sentinel error
	var se *sqlite.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &se):
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			sentinel = store.ErrConflict
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			sentinel = store.ErrNotFound
		case sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_DATATYPE:
			sentinel = store.ErrInvalid
		}
	case errors.As(err, &pe):
		switch pe.Code {
		case "23505": // unique_violation
			sentinel = store.ErrConflict
		case "23503": // foreign_key_violation
			sentinel = store.ErrNotFound
		case "23502", "23514", // not_null_violation, check_violation
			"22021", // character_not_in_repertoire: NUL byte or invalid UTF-8
			"22P05", // untranslatable_character
			"54000": // program_limit_exceeded: index row too large
			sentinel = store.ErrInvalid
		}
	}
	if sentinel == nil {
		return err
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}

// statementUndone reports whether SQLite undid the failed statement alone
// and kept its transaction: a constraint violation (ON CONFLICT ABORT, the
// default). After other errors (I/O, a full disk, an interrupt) the
// transaction may be gone.
func statementUndone(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

// retryable reports whether a transaction failed only because of a
// concurrent one and may simply run again: PostgreSQL's deadlock_detected
// and serialization_failure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}
