// Package testpg finds the PostgreSQL server tests may use: the one named by
// LATCHKEY_TEST_POSTGRES_DSN, or else the local server these machines run,
// if it answers. With CI=true a missing server fails the test, so CI never
// skips a PostgreSQL suite.
package testpg

import (
	"context"
	"database/sql"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// DSNVar names the environment variable with an admin PostgreSQL DSN.
const DSNVar = "LATCHKEY_TEST_POSTGRES_DSN"

// DefaultDSN is tried when DSNVar is unset.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var (
	once sync.Once
	dsn  string
)

// Find returns the admin DSN, or "" when no server is configured or answers.
func Find() string {
	once.Do(func() {
		if dsn = os.Getenv(DSNVar); dsn != "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", DefaultDSN)
		if err != nil {
			return
		}
		defer db.Close()
		if db.PingContext(ctx) == nil {
			dsn = DefaultDSN
		}
	})
	return dsn
}

// AdminDSN returns the admin DSN, skipping the test with a notice when there
// is no server, or failing it under CI=true.
func AdminDSN(t testing.TB) string {
	t.Helper()
	if d := Find(); d != "" {
		return d
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no PostgreSQL (set %s): CI must run the PostgreSQL suites", DSNVar)
	}
	t.Skipf("NOTICE: no PostgreSQL at %s and %s unset: PostgreSQL tests skipped", DefaultDSN, DSNVar)
	return ""
}
