package sqlstore

import (
	"strconv"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
)

// dialect holds what truly differs between SQLite and PostgreSQL for the
// statements of this package. Every statement is written once; the dialect
// only supplies its parameter markers, its row-locking clause and the
// encoding of times. Nothing rewrites SQL text.
type dialect struct {
	// name is "sqlite" or "postgres"; it is also the directory of the
	// dialect's migrations under migrations/.
	name  string
	goose goose.Dialect
	// param prefixes numbered parameters: SQLite's "?NNN", PostgreSQL's "$N".
	// Both are numbered, so one argument list serves both and a parameter
	// may appear twice in a statement.
	param string
	// rowLocks is true where writers lock rows (PostgreSQL) rather than
	// the whole database (SQLite, where BEGIN IMMEDIATE takes the write lock
	// at the start of every write transaction and serialises them).
	rowLocks bool
	// microTimes stores times as INTEGER unix microseconds (SQLite) rather
	// than as timestamptz values (PostgreSQL).
	microTimes bool
}

func sqliteDialect() dialect {
	return dialect{name: "sqlite", goose: goose.DialectSQLite3, param: "?", microTimes: true}
}

func postgresDialect() dialect {
	return dialect{name: "postgres", goose: goose.DialectPostgres, param: "$", rowLocks: true}
}

// sqliteParamsPerStatement bounds the parameters of one multi-row INSERT on
// SQLite. The driver looks each parameter's name up in a list as long as
// the statement's, so binding costs the square of their number: a 500-row
// INSERT of 7 columns spent more time binding than writing. Statements of
// at most this many parameters also stay short enough to be prepared once.
// (PostgreSQL takes big statements: each one is a network round trip.)
const sqliteParamsPerStatement = 128

// rowsPerStatement is how many rows of width values one INSERT carries:
// at most max.
func (d dialect) rowsPerStatement(width, max int) int {
	if d.rowLocks {
		return max
	}
	return min(max, 1+(sqliteParamsPerStatement-1)/width)
}

// arg returns the marker of the n-th (1-based) parameter.
func (d dialect) arg(n int) string {
	return d.param + strconv.Itoa(n)
}

// args returns the markers of count parameters starting at first, comma-separated.
func (d dialect) args(first, count int) string {
	var b strings.Builder
	for i := range count {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.param)
		b.WriteString(strconv.Itoa(first + i))
	}
	return b.String()
}

// assignments returns "c2 = P2, c3 = P3, ..." for every column of columns
// (comma-separated, as in the INSERT of the same row) but the first, the
// row's key, which is parameter 1. An UPDATE then takes the INSERT's
// argument list unchanged.
func (d dialect) assignments(columns string) string {
	var b strings.Builder
	for i, col := range strings.Split(columns, ",") {
		if i == 0 {
			continue
		}
		if i > 1 {
			b.WriteString(", ")
		}
		b.WriteString(strings.TrimSpace(col))
		b.WriteString(" = ")
		b.WriteString(d.arg(i + 1))
	}
	return b.String()
}

// forShare is the clause that makes a SELECT lock its rows against
// concurrent updates until commit, re-reading them if a concurrent writer
// committed first. SQLite needs none: its write transactions are serialised.
func (d dialect) forShare() string {
	if d.rowLocks {
		return " FOR SHARE"
	}
	return ""
}

// forUpdate is the clause that makes a SELECT lock its rows for writing
// until commit, so that a read-then-update in one transaction sees no
// concurrent change in between. SQLite needs none (see forShare).
func (d dialect) forUpdate() string {
	if d.rowLocks {
		return " FOR UPDATE"
	}
	return ""
}

// skipLocked is the clause that makes a SELECT lock the rows it returns
// and pass over rows another transaction has locked, instead of waiting
// for them (PostgreSQL's FOR UPDATE SKIP LOCKED). SQLite needs none: its
// write transactions are serialised, so no row is ever locked by another.
func (d dialect) skipLocked() string {
	if d.rowLocks {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// time encodes t as a parameter: NULL for the zero time, otherwise UTC
// truncated to microseconds, the precision both backends keep.
func (d dialect) time(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	if d.microTimes {
		return t.UnixMicro()
	}
	return t.UTC().Truncate(time.Microsecond)
}
