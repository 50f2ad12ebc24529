// Package testpg finds the PostgreSQL server tests may use: the one named by
// LATCHKEY_TEST_POSTGRES_DSN, or else the local server these machines run,
// if it answers. Without one a PostgreSQL test is skipped with the reason,
// except in CI (a truthy CI, see testenv.InCI), where it fails, so CI never
// skips a PostgreSQL suite.
package testpg

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/latchkey/latchkey/internal/testenv"
)

// DSNVar names the environment variable with an admin PostgreSQL DSN.
const DSNVar = "LATCHKEY_TEST_POSTGRES_DSN"

// DefaultDSN is tried when DSNVar is unset.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var (
	once    sync.Once
	dsn     string
	missing string // why dsn is "", for the skip or failure message
)

// Find returns the admin DSN, or "" when no server is configured or the
// configured one (DSNVar, else DefaultDSN) does not answer. It asks once per
// test binary.
func Find() string {
	once.Do(find)
	return dsn
}

func find() {
	candidate, timeout := os.Getenv(DSNVar), 10*time.Second
	if candidate == "" {
		candidate, timeout = DefaultDSN, 2*time.Second
	}
	err := ping(candidate, timeout)
	switch {
	case err == nil:
		dsn = candidate
	case os.Getenv(DSNVar) == "":
		missing = fmt.Sprintf("no PostgreSQL at %s and %s unset (set it to a postgres:// admin URL to run the PostgreSQL tests)", DefaultDSN, DSNVar)
	default:
		missing = fmt.Sprintf("PostgreSQL at %s=%s does not answer: %v", DSNVar, redacted(candidate), err)
	}
}

func ping(dsn string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

// redacted hides a password in dsn, so a skip message never prints one.
func redacted(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "(a DSN that is not a URL)"
	}
	return u.Redacted()
}

// AdminDSN returns the admin DSN. Without a server that answers it skips
// the test with the reason, or fails it in CI (testenv.Missing).
func AdminDSN(t testing.TB) string {
	t.Helper()
	testenv.SkipIfShort(t, "PostgreSQL")
	if d := Find(); d != "" {
		return d
	}
	testenv.Missing(t, missing)
	return ""
}
