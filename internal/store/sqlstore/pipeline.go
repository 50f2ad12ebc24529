package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// On PostgreSQL every statement is a network round trip, and a batch run
// statement by statement through database/sql (BEGIN, each statement,
// COMMIT) spends the writer's time waiting for them. The hot write
// transactions are therefore each one statement (a data-modifying CTE where
// a transaction decides and then inserts: RotateRefreshToken, RedeemCode),
// and a batch made only of such transactions is sent as one pipeline
// through pgx: BEGIN, the statements, COMMIT, then a single Sync, answered
// in one round trip. A statement whose condition fails changes no row,
// which is no error: its caller reads why afterwards. A statement that
// fails aborts the transaction; the batch is then rolled back and each
// transaction runs again alone, as in commitOptimistic.

// pipelinable reports whether every transaction of the batch is a single
// statement.
func pipelinable(batch []*txJob) bool {
	for _, j := range batch {
		if j.one == nil {
			return false
		}
	}
	return true
}

// errNotCommitted wraps an error after which the batch's transaction is
// known not to have committed, so its transactions may run again.
type errNotCommitted struct{ err error }

func (e errNotCommitted) Error() string { return e.err.Error() }
func (e errNotCommitted) Unwrap() error { return e.err }

// commitPipelined sends the batch as one pipelined transaction and answers
// its callers.
func (db *DB) commitPipelined(batch []*txJob) {
	results := make([]error, len(batch))
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	err := db.pipeline(ctx, batch)
	var nc errNotCommitted
	switch {
	case err == nil:
		db.commits.Add(1)
	case errors.As(err, &nc):
		db.runAlone(batch, results)
	default:
		// The COMMIT was sent and its answer lost: whether it committed is
		// unknown, so nothing runs again (as for one transaction whose
		// COMMIT fails).
		for i := range results {
			results[i] = err
		}
	}
	answer(batch, results)
}

// pipeline runs BEGIN, the batch's statements and COMMIT in one round trip on
// a connection of the write pool, setting each statement's rows.
func (db *DB) pipeline(ctx context.Context, batch []*txJob) error {
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return errNotCommitted{err}
	}
	defer conn.Close()
	var outcome error
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			outcome = errNotCommitted{fmt.Errorf("pipeline: driver connection is %T", dc)}
			return nil
		}
		c := sc.Conn()
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		for _, j := range batch {
			b.Queue(j.one.query, j.one.args...)
		}
		b.Queue("COMMIT")
		db.queries.Add(int64(len(batch)))
		br := c.SendBatch(ctx, b)
		failed := func(err error) error {
			br.Close()
			outcome = errNotCommitted{err}
			// The server skipped everything after the failed statement,
			// COMMIT included: the transaction is still open, aborted.
			if _, rerr := c.Exec(ctx, "ROLLBACK"); rerr != nil {
				return driver.ErrBadConn // database/sql discards the connection
			}
			return nil
		}
		if _, err := br.Exec(); err != nil {
			return failed(err)
		}
		for _, j := range batch {
			tag, err := br.Exec()
			if err != nil {
				return failed(err)
			}
			j.one.rows = tag.RowsAffected()
		}
		if _, err := br.Exec(); err != nil {
			br.Close()
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				outcome = errNotCommitted{err} // refused by the server: not committed
			} else {
				outcome = err
			}
			return driver.ErrBadConn
		}
		if err := br.Close(); err != nil {
			outcome = err
			return driver.ErrBadConn
		}
		return nil
	})
	if outcome != nil {
		return outcome
	}
	if err != nil {
		return errNotCommitted{err}
	}
	return nil
}
