package sqlstore

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// collect scans every row of a query (run as rows, err) with scan, and
// closes the rows.
func collect[T any](rows *sql.Rows, err error, scan func(rowScanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// timeColumn scans a time column of either backend into a time.Time:
// SQLite's INTEGER unix microseconds, PostgreSQL's timestamptz, NULL as the
// zero time. Results are always UTC.
type timeColumn struct{ t *time.Time }

func (c timeColumn) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	case time.Time:
		*c.t = v.UTC().Truncate(time.Microsecond)
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	return nil
}

// tm scans a time column into *t.
func tm(t *time.Time) sql.Scanner { return timeColumn{t} }

// optionalColumn scans a nullable text column, NULL as "".
type optionalColumn struct{ s *string }

func (c optionalColumn) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.s = ""
	case string:
		*c.s = v
	case []byte:
		*c.s = string(v)
	default:
		return fmt.Errorf("scan text: unexpected %T", src)
	}
	return nil
}

// opt scans a nullable text column into *s.
func opt(s *string) sql.Scanner { return optionalColumn{s} }

// optional encodes s as a parameter of a nullable reference column: NULL
// for "" so that foreign keys apply only to references that are present.
func optional(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// listColumn scans a JSON array of strings; an empty array becomes nil.
type listColumn struct{ l *[]string }

func (c listColumn) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		if l, ok := plainList(v); ok {
			*c.l = l
			return nil
		}
		b = []byte(v)
	case []byte:
		b = v
	case nil:
		// Only where a LEFT JOIN found no row: the columns are NOT NULL.
		*c.l = nil
		return nil
	default:
		return fmt.Errorf("scan list: unexpected %T", src)
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("scan list: %w", err)
	}
	if len(l) == 0 {
		l = nil
	}
	*c.l = l
	return nil
}

// plainList decodes, without reflection or copies, the JSON array of
// strings that encodeList writes for strings that need no escape (scopes,
// resource URIs): ["a","b"]. ok is false for anything else, which
// json.Unmarshal then decodes.
func plainList(s string) (l []string, ok bool) {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' || strings.IndexByte(s, '\\') >= 0 {
		return nil, false
	}
	rest := s[1 : len(s)-1]
	if rest == "" {
		return nil, true
	}
	l = make([]string, 0, strings.Count(rest, ",")+1)
	for {
		if len(rest) < 2 || rest[0] != '"' {
			return nil, false
		}
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return nil, false
		}
		l = append(l, rest[1:1+end])
		rest = rest[2+end:]
		if rest == "" {
			return l, true
		}
		if rest[0] != ',' {
			return nil, false
		}
		rest = rest[1:]
	}
}

// list scans a string-list column into *l.
func list(l *[]string) sql.Scanner { return listColumn{l} }

// encodeList encodes a string list as JSON text, which keeps any string
// exactly (newlines, spaces and quotes included); nil and empty become "[]".
// Callers have checked the strings (see checkText), so encoding cannot
// alter them.
func encodeList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, err := json.Marshal(l)
	if err != nil {
		// json.Marshal of a []string cannot fail.
		panic(err)
	}
	return string(b)
}

// blobColumn scans a BLOB (SQLite) or bytea (PostgreSQL) column into a
// copy of its bytes; empty and NULL become nil.
type blobColumn struct{ b *[]byte }

func (c blobColumn) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.b = nil
	case []byte:
		// The driver may reuse v after Scan returns: keep a copy.
		*c.b = bytes.Clone(v)
		if len(v) == 0 {
			*c.b = nil
		}
	default:
		return fmt.Errorf("scan bytes: unexpected %T", src)
	}
	return nil
}

// blob scans a byte column into *b.
func blob(b *[]byte) sql.Scanner { return blobColumn{b} }

// encodeBlob encodes b as a parameter of a NOT NULL byte column: nil as
// empty bytes, never as NULL.
func encodeBlob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// scanRow scans row into dest; no row is store.ErrNotFound.
func scanRow(row *sql.Row, dest ...any) error {
	err := row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// one scans the single row of a query; no row is store.ErrNotFound. Every
// error carries op.
func one[T any](row *sql.Row, scan func(rowScanner) (T, error), op string) (T, error) {
	v, err := scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s: %w", op, err)
	}
	return v, nil
}

// qualified prefixes each of the comma-separated columns with alias and a
// dot, for a SELECT that joins tables with columns of the same name.
func qualified(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}
