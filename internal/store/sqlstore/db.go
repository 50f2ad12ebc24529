// Package sqlstore implements store.Store over database/sql for SQLite
// (modernc.org/sqlite, pure Go) and PostgreSQL (pgx through its stdlib
// driver). Both share every statement; see dialect for the few differences.
//
// Single-use operations (RedeemCode, RotateRefreshToken,
// CompleteAuthRequest, ConsumeAuthRequest) are decided by the database: a
// conditional UPDATE inside the transaction that also writes what the
// operation issues, so exactly one concurrent caller wins, across processes
// too, and a loser writes nothing. UseOnce is one conditional upsert (see
// replay.go), decided the same way.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/latchkey/latchkey/internal/store"
)

// DB is a Latchkey store in one SQLite file or one PostgreSQL database.
// It is safe for concurrent use, by several goroutines and, on the same
// database, by several processes.
type DB struct {
	d dialect
	// write runs every statement that writes. On SQLite it is one
	// connection whose transactions begin IMMEDIATE; on PostgreSQL it is
	// the only pool, and read is the same pool.
	write *sql.DB
	// read runs reads outside transactions. On SQLite it is a separate
	// pool of query-only connections, which WAL lets read while the writer
	// writes.
	read *sql.DB
	// queries counts the statements sent, for benchmarks.
	queries atomic.Int64
	// commits counts the commits of write transactions; a batch of the
	// group-commit writer is one.
	commits atomic.Int64
	// retries counts transactions run again after PostgreSQL aborted them
	// for a deadlock or a serialization failure; the lock order below
	// should keep it at zero, and the conformance suite checks it does.
	retries atomic.Int64
	// replayCalls counts UseOnce calls, to purge expired records every
	// replayPurgeEvery-th call.
	replayCalls atomic.Int64
	// authRequestCalls counts CreateAuthRequest calls, to purge expired
	// requests every authRequestPurgeEvery-th call.
	authRequestCalls atomic.Int64
	// deviceCodeCalls counts CreateDeviceCode calls, to purge long-expired
	// device codes.
	deviceCodeCalls atomic.Int64
	// counterSyncs counts SyncCounters calls, to purge ended windows.
	counterSyncs atomic.Int64
	// stmts holds the prepared read statements of the SQLite read pool,
	// by query text (see prepared). The set is bounded by the statements
	// written in this package.
	stmts sync.Map // string -> *sql.Stmt
	// wstmts holds the prepared write statements of SQLite's write
	// connection (nwstmts of them), by query text; pending lists the texts
	// to prepare (see prepareWrites).
	wstmts    sync.Map // string -> *sql.Stmt
	nwstmts   int
	pendingMu sync.Mutex
	pending   []string
	// gc is the group-commit writer every write transaction goes through
	// (groupcommit.go).
	gc *committer
	// observer receives the write path's figures (observe.go).
	observer atomic.Pointer[Observer]
}

var _ store.Store = (*DB)(nil)

// sqliteBusyTimeoutMS is how long an SQLite connection waits for a lock held
// by another connection or process before giving up with SQLITE_BUSY.
const sqliteBusyTimeoutMS = "10000"

// Open connects to the database named by dsn, "sqlite:PATH" or
// "postgres://..." ("postgresql://..." too), and checks that it answers. It
// does not migrate: call Migrate.
//
// SQLite is opened in WAL mode with synchronous=FULL (a commit that
// returned survives power loss, not only a process crash), foreign keys on
// and a 10 s busy timeout. Writes go through a single connection whose
// transactions start with BEGIN IMMEDIATE: the single connection serialises
// this process's writers in Go (they queue for the connection instead of
// racing for SQLite's lock, so no write surfaces SQLITE_BUSY and no
// deferred transaction fails to upgrade its lock), and BEGIN IMMEDIATE plus
// the busy timeout serialise against other processes on the same file (the
// CLI while a server runs). Reads use a separate pool of query-only
// connections, which WAL lets run alongside the writer.
//
// PostgreSQL is opened with synchronous_commit=on and a pool of
// 4×GOMAXPROCS connections (at least 8): enough to keep a 2-core node busy
// while a few transactions wait on row locks, small enough that several
// nodes fit in the server's default 100 connections.
func Open(ctx context.Context, dsn string) (*DB, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn)
	default:
		// The DSN is not echoed: it may carry a password.
		return nil, errors.New("open store: unsupported database (want sqlite:PATH or postgres://...)")
	}
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open store: empty sqlite path")
	}
	// The path goes into an SQLite URI, where %, ? and # are special.
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	common := []string{
		"busy_timeout(" + sqliteBusyTimeoutMS + ")",
		"foreign_keys(1)",
		"synchronous(FULL)",
	}
	wq := url.Values{"_pragma": append([]string{"journal_mode(WAL)"}, common...), "_txlock": {"immediate"}}
	rq := url.Values{"_pragma": append([]string{"query_only(1)"}, common...)}

	write, err := sql.Open("sqlite", uri+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	// The writer connects first: it creates the file and switches it to
	// WAL, which is persistent, before any reader opens it.
	var mode string
	if err := write.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		write.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		write.Close()
		return nil, fmt.Errorf("open store: sqlite journal mode is %q, want wal", mode)
	}

	read, err := sql.Open("sqlite", uri+"?"+rq.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxLifetime(0)
	read.SetConnMaxIdleTime(0)
	if err := read.PingContext(ctx); err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	db := &DB{d: sqliteDialect(), write: write, read: read}
	db.startCommitter()
	return db, nil
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, errors.New("open store: invalid postgres dsn")
	}
	// A commit that returned is on disk (SECURITY.md c.2).
	cfg.RuntimeParams["synchronous_commit"] = "on"
	db := stdlib.OpenDB(*cfg)
	n := max(8, 4*runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(30 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	pg := &DB{d: postgresDialect(), write: db, read: db}
	pg.startCommitter()
	return pg, nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Close closes every connection. On SQLite, closing the last connection
// checkpoints the WAL into the database file.
func (db *DB) Close() error {
	db.stopCommitter()
	for _, m := range []*sync.Map{&db.stmts, &db.wstmts} {
		m.Range(func(_, v any) bool {
			v.(*sql.Stmt).Close()
			return true
		})
	}
	if db.read == db.write {
		return db.write.Close()
	}
	return errors.Join(db.read.Close(), db.write.Close())
}

// Queries returns how many SQL statements this DB has sent (transaction
// control, BEGIN and COMMIT, not counted).
func (db *DB) Queries() int64 {
	return db.queries.Load()
}

// insertRows inserts rows into table with one INSERT per perStatement rows,
// each row the width values of columns that values returns, in order;
// callers run it in a transaction when that is more than one statement.
func insertRows[T any](ctx context.Context, db *DB, q querier, table, columns string, width, perStatement int, rows []T, values func(T) []any) error {
	perStatement = db.d.rowsPerStatement(width, perStatement)
	for len(rows) > 0 {
		batch := rows[:min(len(rows), perStatement)]
		rows = rows[len(batch):]
		st := insertStatement(db, table, columns, width, batch, values)
		if _, err := db.exec(ctx, q, st.query, st.args...); err != nil {
			return err
		}
	}
	return nil
}

// insertStatement is the INSERT of rows into table (see insertRows).
func insertStatement[T any](db *DB, table, columns string, width int, rows []T, values func(T) []any) *statement {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + columns + ") VALUES ")
	args := make([]any, 0, len(rows)*width)
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + db.d.args(len(args)+1, width) + ")")
		args = append(args, values(r)...)
	}
	return &statement{query: b.String(), args: args}
}

// querier is what runs statements: *sql.DB or *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (db *DB) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	db.queries.Add(1)
	ctx = db.statementCtx(ctx)
	return db.prepared(ctx, q, query).ExecContext(ctx, query, args...)
}

// execCount runs a statement and returns how many rows it changed.
func (db *DB) execCount(ctx context.Context, q querier, query string, args ...any) (int64, error) {
	res, err := db.exec(ctx, q, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (db *DB) query(ctx context.Context, q querier, query string, args ...any) (*sql.Rows, error) {
	db.queries.Add(1)
	ctx = db.statementCtx(ctx)
	return db.prepared(ctx, q, query).QueryContext(ctx, query, args...)
}

func (db *DB) queryRow(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	db.queries.Add(1)
	ctx = db.statementCtx(ctx)
	return db.prepared(ctx, q, query).QueryRowContext(ctx, query, args...)
}

// statementCtx is the context a statement runs under. On SQLite it is
// never cancelled: a cancellable one costs two goroutines per statement
// (the driver's, to interrupt SQLite, and database/sql's, to close the
// rows), a tenth of a short lookup's CPU, while every statement here is an
// indexed lookup or write of a few rows in this process that ends in
// microseconds anyway (the busy timeout bounds a wait for another
// process's lock). PostgreSQL statements keep the caller's context: a
// network or server outage must not hold a request beyond its deadline.
func (db *DB) statementCtx(ctx context.Context) context.Context {
	if db.d.rowLocks {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// prepared returns what runs query on q: on SQLite, a statement prepared
// once (parsing and planning cost a fifth of an introspection's CPU and a
// sixth of a token insert's); else q itself. (pgx already caches prepared
// statements on PostgreSQL.)
func (db *DB) prepared(ctx context.Context, q querier, query string) querier {
	if db.d.rowLocks {
		return q
	}
	switch q := q.(type) {
	case *sql.DB:
		if q == db.read {
			return db.readStmt(ctx, query)
		}
	case *sql.Tx:
		// A write statement is prepared on the write connection between two
		// transactions (prepareWrites), never inside one: the connection is
		// the transaction's until it ends. Until then it runs unprepared.
		if st, ok := db.wstmts.Load(query); ok {
			return stmtQuerier{q.StmtContext(ctx, st.(*sql.Stmt))}
		}
		db.wantPrepared(query)
	}
	return q
}

func (db *DB) readStmt(ctx context.Context, query string) querier {
	if st, ok := db.stmts.Load(query); ok {
		return stmtQuerier{st.(*sql.Stmt)}
	}
	st, err := db.read.PrepareContext(ctx, query)
	if err != nil {
		return db.read // the plain call reports the error
	}
	if prev, loaded := db.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		st = prev.(*sql.Stmt)
	}
	return stmtQuerier{st}
}

// Bounds of the prepared write statements: most are short and fixed; the
// multi-row INSERTs and IN lists of bulk writes, whose text varies with
// their size, are prepared only while short.
const (
	maxPreparedText  = 2048
	maxPreparedWrite = 256
)

// wantPrepared notes a write statement to prepare after the transaction
// that runs it.
func (db *DB) wantPrepared(query string) {
	if len(query) > maxPreparedText {
		return
	}
	db.pendingMu.Lock()
	if len(db.pending) < maxPreparedWrite {
		db.pending = append(db.pending, query)
	}
	db.pendingMu.Unlock()
}

// prepareWrites prepares the write statements noted since the last call, on
// the write connection, which no transaction holds when the group-commit
// writer calls it between batches. A statement that fails to prepare is
// left to run unprepared.
func (db *DB) prepareWrites() {
	db.pendingMu.Lock()
	pending := db.pending
	db.pending = nil
	db.pendingMu.Unlock()
	for _, query := range pending {
		if db.nwstmts >= maxPreparedWrite {
			return
		}
		if _, ok := db.wstmts.Load(query); ok {
			continue
		}
		st, err := db.write.PrepareContext(context.Background(), query)
		if err != nil {
			continue
		}
		db.wstmts.Store(query, st)
		db.nwstmts++
	}
}

// stmtQuerier runs a prepared statement through the querier interface; the
// query text passed to it is the statement's own.
type stmtQuerier struct{ st *sql.Stmt }

func (s stmtQuerier) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return s.st.ExecContext(ctx, args...)
}

func (s stmtQuerier) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return s.st.QueryContext(ctx, args...)
}

func (s stmtQuerier) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return s.st.QueryRowContext(ctx, args...)
}

// exists reports whether query returns a row.
func (db *DB) exists(ctx context.Context, q querier, query string, args ...any) (bool, error) {
	var one int
	err := db.queryRow(ctx, q, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// Commits returns how many write transactions this DB has committed; a
// batch of transactions committed together by the group-commit writer
// counts once.
func (db *DB) Commits() int64 {
	return db.commits.Load()
}

// usedOrMissing tells why a single-use row of table (keyed by hash, or by
// id for auth_requests) was not changed: ErrAlreadyUsed if it exists (used,
// revoked, expired, or its grant no longer active), ErrNotFound if not.
func (db *DB) usedOrMissing(ctx context.Context, q querier, table, key string) error {
	column := "hash"
	if table == "auth_requests" {
		column = "id"
	}
	ok, err := db.exists(ctx, q, "SELECT 1 FROM "+table+" WHERE "+column+" = "+db.d.arg(1), key)
	switch {
	case err != nil:
		return err
	case ok:
		return store.ErrAlreadyUsed
	default:
		return store.ErrNotFound
	}
}

// maxTxAttempts bounds how often a transaction runs when PostgreSQL aborts
// it for a deadlock or a serialization failure.
const maxTxAttempts = 4

// Retries returns how many transactions ran again after PostgreSQL aborted
// them for a deadlock or a serialization failure.
func (db *DB) Retries() int64 {
	return db.retries.Load()
}

// inTx runs fn in one write transaction and commits if fn returns nil;
// otherwise it rolls back, so nothing fn wrote remains. The transaction goes
// through the group-commit writer (groupcommit.go): it may share its commit
// with other callers' transactions, never its outcome. fn must run every
// statement on tx, and may run more than once.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if db.gc == nil {
		return db.txWithRetries(ctx, fn)
	}
	return db.grouped(ctx, fn, nil, false)
}

// statement is a write transaction of one statement.
type statement struct {
	query string
	args  []any
	rows  int64 // how many rows it changed, once it ran
}

// run runs st on tx.
func (db *DB) run(ctx context.Context, tx *sql.Tx, st *statement) error {
	var err error
	st.rows, err = db.execCount(ctx, tx, st.query, st.args...)
	return err
}

// inTxOne is inTx for a transaction that is the single statement st on
// PostgreSQL, which the writer may then send in one round trip with its
// neighbours' (pipeline.go). On SQLite, where a statement costs no round
// trip, the transaction is sqliteFn, or st if sqliteFn is nil.
func (db *DB) inTxOne(ctx context.Context, st *statement, sqliteFn func(tx *sql.Tx) error) error {
	fn := func(tx *sql.Tx) error { return db.run(ctx, tx, st) }
	var one *statement
	switch {
	case db.d.rowLocks:
		one = st
	case sqliteFn != nil:
		fn = sqliteFn
	}
	if db.gc == nil {
		return db.txWithRetries(ctx, fn)
	}
	return db.grouped(ctx, fn, one, one != nil || sqliteFn == nil)
}

// execWrite runs one write statement as a transaction of its own, sharing
// a commit with its neighbours, and returns how many rows it changed.
func (db *DB) execWrite(ctx context.Context, query string, args ...any) (int64, error) {
	st := &statement{query: query, args: args}
	err := db.inTxOne(ctx, st, nil)
	return st.rows, err
}

// txWithRetries runs fn in a transaction of its own. A transaction that
// PostgreSQL aborted only because of a concurrent one runs again after a
// jittered backoff, so that the transactions that collided do not collide
// again in step.
//
// Lock order: a transaction that writes a grant's tokens locks the grant's
// row first (activeGrant, lockFamily, RevokeGrant's UPDATE), and rows
// of one table are locked in key order; two transactions thus never wait
// for each other in a cycle.
func (db *DB) txWithRetries(ctx context.Context, fn func(tx *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := db.tryTx(ctx, fn)
		if err == nil || !retryable(err) || attempt == maxTxAttempts || ctx.Err() != nil {
			return err
		}
		db.retries.Add(1)
		// Up to 5, 10, 20 ms, chosen uniformly.
		backoff := time.Duration(rand.Int64N(int64(5*time.Millisecond) << (attempt - 1)))
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return err
		}
	}
}

func (db *DB) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	db.commits.Add(1)
	return nil
}
