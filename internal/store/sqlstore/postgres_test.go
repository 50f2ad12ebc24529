package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/storetest"
	"github.com/latchkey/latchkey/internal/testpg"
)

// postgresAdmin connects to the server testpg finds, closed when t ends.
// Without one the test is skipped, except in CI (CI=true), where PostgreSQL
// must never be skipped.
func postgresAdmin(t *testing.T) (*sql.DB, *url.URL) {
	t.Helper()
	dsn := testpg.AdminDSN(t)
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", testpg.DSNVar)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("connect as admin: %v", err)
	}
	admin.SetMaxOpenConns(4)
	t.Cleanup(func() { admin.Close() })
	if err := admin.PingContext(t.Context()); err != nil {
		t.Fatalf("connect as admin: %v", err)
	}
	return admin, u
}

// createPostgresDatabase creates a database with a random name, dropped
// (connections and all) when t ends, and returns its DSN.
func createPostgresDatabase(t *testing.T, admin *sql.DB, server *url.URL) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	name := "lk_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		// t.Context() is already canceled when cleanups run.
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u := *server
	u.Path = "/" + name
	return u.String()
}

// openPostgresTest opens a store on dsn, closed when t ends (before the
// database is dropped, since cleanups run last-in first-out).
func openPostgresTest(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	admin, server := postgresAdmin(t)
	pool := &postgresPool{top: t, admin: admin, server: server}
	storetest.Run(t, pool.open)
}

// postgresPool hands each subtest of one top-level test an empty, migrated
// database of its own: one a finished subtest gave back, emptied, or else
// a new one. Parallel subtests thus share a few databases rather than
// creating one each (CREATE DATABASE takes up to a second on a busy
// machine); all are dropped when the top-level test ends.
type postgresPool struct {
	top    *testing.T
	admin  *sql.DB
	server *url.URL
	mu     sync.Mutex
	free   []*DB
}

func (p *postgresPool) open(t *testing.T) store.Store {
	t.Helper()
	p.mu.Lock()
	var db *DB
	if n := len(p.free); n > 0 {
		db, p.free = p.free[n-1], p.free[:n-1]
	}
	p.mu.Unlock()
	if db == nil {
		// Created for the top-level test, which outlives its subtests.
		db = openPostgresTest(p.top, createPostgresDatabase(p.top, p.admin, p.server))
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	} else {
		for _, table := range []string{"tokens", "codes", "sessions", "auth_requests", "grants", "users", "clients", "signing_keys", "replay", "counters", "activity", "registration_tokens"} {
			if _, err := db.write.ExecContext(t.Context(), "DELETE FROM "+table); err != nil {
				t.Fatalf("empty %s: %v", table, err)
			}
		}
	}
	// No conformance test may make PostgreSQL abort a transaction for a
	// deadlock (or a serialization failure): every transaction takes its
	// locks in one order (see inTx).
	retries := db.Retries()
	t.Cleanup(func() {
		if n := db.Retries() - retries; n > 0 {
			t.Errorf("PostgreSQL aborted %d transactions for a deadlock or serialization failure", n)
		}
		p.mu.Lock()
		p.free = append(p.free, db)
		p.mu.Unlock()
	})
	return db
}

func TestPostgresMigrate(t *testing.T) {
	t.Parallel()
	admin, server := postgresAdmin(t)

	t.Run("twice_is_a_no_op", func(t *testing.T) {
		t.Parallel()
		db := openPostgresTest(t, createPostgresDatabase(t, admin, server))
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		if err := db.CreateClient(t.Context(), store.Client{ID: "c"}); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if _, err := db.GetClient(t.Context(), "c"); err != nil {
			t.Fatalf("GetClient after second Migrate: %v", err)
		}
	})

	t.Run("concurrent_calls_from_two_processes_both_succeed", func(t *testing.T) {
		t.Parallel()
		dsn := createPostgresDatabase(t, admin, server)
		nodes := []*DB{openPostgresTest(t, dsn), openPostgresTest(t, dsn)}
		errs := make([]error, len(nodes))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, db := range nodes {
			wg.Go(func() {
				<-start
				errs[i] = db.Migrate(t.Context())
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Migrate on node %d: %v", i, err)
			}
		}
		if err := nodes[0].CreateClient(t.Context(), store.Client{ID: "c"}); err != nil {
			t.Fatal(err)
		}
		if _, err := nodes[1].GetClient(t.Context(), "c"); err != nil {
			t.Fatalf("GetClient on the other node: %v", err)
		}
	})
}

// TestPostgresRefusesWhatItCannotStore checks that the driver-level errors
// behind checkText map to ErrInvalid, should a value reach PostgreSQL.
func TestPostgresRefusesWhatItCannotStore(t *testing.T) {
	t.Parallel()
	admin, server := postgresAdmin(t)
	db := openPostgresTest(t, createPostgresDatabase(t, admin, server))
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{"NUL": "a\x00b", "invalid UTF-8": "a\xffb"} {
		_, err := db.write.ExecContext(t.Context(), "INSERT INTO users (id, username, password_hash, name, email) VALUES ($1, $1, '', '', '')", value)
		if err == nil {
			t.Fatalf("%s: PostgreSQL stored it", name)
		}
		if mapped := mapErr(err); !errors.Is(mapped, store.ErrInvalid) {
			t.Errorf("%s: mapErr(%v) = %v, want ErrInvalid", name, err, mapped)
		}
	}
}
