package sqlstore

import (
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// additiveSince is the last migration written before the rule below held;
// every later migration must be additive, so that nodes of the previous
// release keep serving on a database the next release has migrated
// (docs/upgrades.md). The old code is not at hand in a test, so this
// static check is the guard.
const additiveSince = 13

// allowDestructive, in a comment right above a statement of an Up section,
// lets that statement through, with the reason after it:
//
//	-- latchkey:destructive-ok the column was never read by any release
const allowDestructive = "latchkey:destructive-ok"

// destructive lists what an older node cannot survive: its tables or
// columns gone or renamed, a type it writes no longer accepted, a row it
// inserts refused for a column it does not know.
var destructive = []struct {
	re   *regexp.Regexp
	what string
}{
	{regexp.MustCompile(`(?i)\bDROP\s+TABLE\b`), "DROP TABLE"},
	{regexp.MustCompile(`(?i)\bDROP\s+COLUMN\b`), "DROP COLUMN"},
	{regexp.MustCompile(`(?i)\bALTER\s+TABLE\b.*\bDROP\s+(?:IF\s+EXISTS\s+)?[a-z_"]+\s*(?:,|$|CASCADE|RESTRICT)`), "ALTER TABLE ... DROP"},
	{regexp.MustCompile(`(?i)\bRENAME\b`), "RENAME"},
	{regexp.MustCompile(`(?i)\bALTER\s+COLUMN\b.*\bTYPE\b`), "ALTER COLUMN ... TYPE"},
	{regexp.MustCompile(`(?i)\bSET\s+NOT\s+NULL\b`), "SET NOT NULL"},
	{regexp.MustCompile(`(?i)\bSET\s+DATA\s+TYPE\b`), "SET DATA TYPE"},
	{regexp.MustCompile(`(?i)\bTRUNCATE\b`), "TRUNCATE"},
}

// notNullWithoutDefault matches ADD COLUMN ... NOT NULL with no DEFAULT:
// an older node's INSERT, which does not name the column, would fail.
var (
	addColumn = regexp.MustCompile(`(?i)\bADD\s+(?:COLUMN\s+)?`)
	notNull   = regexp.MustCompile(`(?i)\bNOT\s+NULL\b`)
	hasDef    = regexp.MustCompile(`(?i)\bDEFAULT\b`)
	comment   = regexp.MustCompile(`--[^\n]*`)
	spaces    = regexp.MustCompile(`\s+`)
)

// destructiveStatements returns what is destructive in the Up section of a
// goose migration, one line per statement not allowed by allowDestructive.
func destructiveStatements(src string) []string {
	up := src
	if i := strings.Index(up, "-- +goose Up"); i >= 0 {
		up = up[i+len("-- +goose Up"):]
	}
	if i := strings.Index(up, "-- +goose Down"); i >= 0 {
		up = up[:i]
	}
	var out []string
	for _, stmt := range strings.Split(up, ";") {
		if m := regexp.MustCompile(`(?i)` + allowDestructive + `[ \t]+\S`).FindString(stmt); m != "" {
			continue
		}
		code := strings.TrimSpace(spaces.ReplaceAllString(comment.ReplaceAllString(stmt, ""), " "))
		if code == "" {
			continue
		}
		for _, d := range destructive {
			if d.re.MatchString(code) {
				out = append(out, d.what+": "+code)
				break
			}
		}
		if addColumn.MatchString(code) && strings.Contains(strings.ToUpper(code), "ALTER TABLE") {
			// Each added column of the statement on its own.
			for _, part := range addColumn.Split(code, -1)[1:] {
				if notNull.MatchString(part) && !hasDef.MatchString(part) {
					out = append(out, "ADD COLUMN ... NOT NULL without DEFAULT: "+code)
					break
				}
			}
		}
	}
	return out
}

// TestMigrationsAreAdditive: no migration after additiveSince drops,
// renames or narrows anything an older node uses, on either dialect,
// unless the statement carries an allowDestructive comment with a reason.
func TestMigrationsAreAdditive(t *testing.T) {
	checked := 0
	err := fs.WalkDir(migrations, "migrations", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".sql" {
			return err
		}
		version, err := strconv.ParseInt(strings.SplitN(path.Base(p), "_", 2)[0], 10, 64)
		if err != nil {
			t.Errorf("%s: no version number: %v", p, err)
			return nil
		}
		if version <= additiveSince {
			return nil
		}
		checked++
		src, err := fs.ReadFile(migrations, p)
		if err != nil {
			return err
		}
		for _, s := range destructiveStatements(string(src)) {
			t.Errorf("%s is not additive: %s\n(an older node serving during a rolling upgrade would break; "+
				"see docs/upgrades.md, or mark the statement with a \"-- %s REASON\" comment)", p, s, allowDestructive)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d migration files after %05d checked", checked, additiveSince)
}

// TestDestructiveStatements checks the checker on the statements it must
// refuse and those it must let through.
func TestDestructiveStatements(t *testing.T) {
	for _, tc := range []struct {
		up   string
		want int
	}{
		{"CREATE TABLE janitor (id TEXT NOT NULL PRIMARY KEY);", 0},
		{"ALTER TABLE tokens ADD COLUMN grace_until INTEGER;", 0},
		{"ALTER TABLE tokens ADD COLUMN grace TEXT NOT NULL DEFAULT '';", 0},
		{"CREATE INDEX tokens_x ON tokens (x);\nDROP INDEX tokens_y;", 0},
		{"-- drop table in a comment only\nCREATE TABLE a (b TEXT);", 0},
		{"DROP TABLE tokens;", 1},
		{"ALTER TABLE clients DROP COLUMN jwks;", 1},
		{"ALTER TABLE clients DROP jwks;", 1},
		{"ALTER TABLE sessions_new RENAME TO sessions;", 1},
		{"ALTER TABLE clients RENAME COLUMN jwks TO keys;", 1},
		{"ALTER TABLE tokens ALTER COLUMN scopes TYPE jsonb USING scopes::jsonb;", 1},
		{"ALTER TABLE tokens ALTER COLUMN device SET NOT NULL;", 1},
		{"ALTER TABLE tokens ADD COLUMN grace INTEGER NOT NULL;", 1},
		{"ALTER TABLE tokens ADD COLUMN a TEXT NOT NULL DEFAULT '', ADD COLUMN b TEXT NOT NULL;", 1},
		{"TRUNCATE counters;", 1},
		{"-- latchkey:destructive-ok no release ever read it\nDROP TABLE replay;", 0},
		{"-- latchkey:destructive-ok\nDROP TABLE replay;", 1}, // a reason is required
		{"-- +goose Up\nCREATE TABLE a (b TEXT);\n-- +goose Down\nDROP TABLE a;", 0},
	} {
		if got := destructiveStatements(tc.up); len(got) != tc.want {
			t.Errorf("%q: %d destructive (%q), want %d", tc.up, len(got), got, tc.want)
		}
	}
	// Every migration up to additiveSince that rebuilt or dropped
	// something is found, so the check is not blind.
	src, err := fs.ReadFile(migrations, "migrations/sqlite/00005_openid.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(destructiveStatements(string(src))) == 0 {
		t.Error("00005 (sqlite) rebuilds the sessions table, yet no destructive statement was found")
	}
}
