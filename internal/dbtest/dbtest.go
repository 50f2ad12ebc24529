// Package dbtest gives tests a fresh, migrated database on every backend:
// a SQLite file always, and PostgreSQL when LATCHKEY_TEST_POSTGRES_DSN is
// set or a server answers on the default local address (a new database per
// call, dropped after). Without PostgreSQL the PostgreSQL variant of each
// test is skipped with the reason, or fails in CI (see testenv.Missing).
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testpg"
)

// Backends lists the backends a test runs against, each in a subtest of
// its name: "sqlite" and "postgres". The "postgres" subtest ends at its
// first DSN or Open when this machine has no PostgreSQL: skipped with the
// reason, so `go test -v` shows it, or failed in CI, where no suite may be
// skipped. The argument is unused; it is kept so callers need not change.
func Backends(testing.TB) []string {
	return []string{"sqlite", "postgres"}
}

// DSN returns a fresh database's DSN for backend, removed when t ends. For
// "postgres" without a server it skips t, or fails it in CI.
func DSN(t testing.TB, backend string) string {
	t.Helper()
	switch backend {
	case "sqlite":
		return "sqlite:" + filepath.Join(t.TempDir(), "latchkey.db")
	case "postgres":
		return newPostgres(t)
	}
	t.Fatalf("unknown backend %q", backend)
	return ""
}

// Open returns a fresh migrated store for backend, closed when t ends.
func Open(t testing.TB, backend string) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, DSN(t, backend))
	if err != nil {
		t.Fatalf("open %s: %v", backend, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", backend, err)
	}
	return db
}

func newPostgres(t testing.TB) string {
	t.Helper()
	admin := testpg.AdminDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer conn.Close()
	name := fmt.Sprintf("lk_test_%d_%s", time.Now().Unix(), secret.RandomString(6))
	name = sanitize(name)
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := c.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", testpg.DSNVar, err)
	}
	u.Path = "/" + name
	return u.String()
}

// sanitize keeps a database name to [a-z0-9_].
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		case c >= 'A' && c <= 'Z':
			b[i] = c + 32
		default:
			b[i] = '_'
		}
	}
	return string(b)
}
