package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"runtime"
	"sync"
	"time"
)

// Group commit. Every write transaction of this process (inTx, and the
// single-statement writes of the hot paths through execWrite) is handed to
// one writer goroutine. The writer takes the transactions that are waiting
// when it is free, up to maxBatch, runs them one after another in a single
// database transaction and commits once: one fsync for all of them. Each
// caller is answered after that commit returns, so nothing is acknowledged
// before it is durable (SECURITY.md c.2), and with its own outcome:
//
//   - On SQLite each transaction runs inside its own SAVEPOINT (no round
//     trip: the engine is in this process). One that fails is rolled back to
//     its savepoint and fails alone; the others commit. A transaction of one
//     statement needs none: SQLite undoes a statement that breaks a
//     constraint and keeps the transaction.
//   - On PostgreSQL a failed statement aborts the whole transaction and a
//     savepoint costs two more round trips per caller, paid on every write
//     to guard against a rare failure. The batch therefore runs without
//     them; if any of its transactions fails, the batch is rolled back and
//     each transaction runs again alone, exactly as without group commit,
//     so a conflict still fails only its own request. A batch of
//     single-statement transactions, the hot paths', is one pipelined round
//     trip (pipeline.go).
//
// The queue is the writer itself: callers block on an unbuffered channel
// while a batch commits, and the writer gathers every blocked caller when
// it comes back. A lone transaction therefore waits for nothing, and under
// load a batch holds what arrived during the previous commit. There is one
// writer per process on both backends: SQLite has one write connection
// anyway, and on PostgreSQL one writer keeps this process's transactions in
// one sequence, so they cannot deadlock with each other however their row
// locks interleave (a transaction that waits for a row another node holds
// delays the batch behind it, as it would have delayed its own request).

// maxBatch bounds the transactions of one batch: enough to amortise a commit
// over a full queue of concurrent requests, few enough that one batch's
// statements stay short.
const maxBatch = 64

// batchTimeout bounds a PostgreSQL batch: a server that stops answering
// (a network partition drops no connection) fails its callers instead of
// holding the writer. SQLite needs none: its busy timeout bounds a wait.
const batchTimeout = 30 * time.Second

// errClosed answers writes that arrive after Close.
var errClosed = errors.New("store is closed")

type committer struct {
	jobs     chan *txJob
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{} // closed when the writer has ended
}

// txJob is one caller's transaction.
type txJob struct {
	ctx context.Context
	fn  func(tx *sql.Tx) error
	// one, on PostgreSQL, is the same transaction as a single statement,
	// which the writer may pipeline with its neighbours' (pipeline.go).
	one *statement
	// single: fn runs exactly one statement.
	single bool
	err    chan error // buffered: the writer never waits for the caller
}

func (db *DB) startCommitter() {
	c := &committer{jobs: make(chan *txJob), stop: make(chan struct{}), done: make(chan struct{})}
	db.gc = c
	go db.commitLoop(c)
}

// stopCommitter ends the writer once its current batch is answered; writes
// after that get errClosed.
func (db *DB) stopCommitter() {
	if db.gc == nil {
		return
	}
	db.gc.stopOnce.Do(func() { close(db.gc.stop) })
	<-db.gc.done
}

// grouped runs fn in a write transaction through the writer and returns
// its outcome once that transaction is committed or rolled back.
func (db *DB) grouped(ctx context.Context, fn func(tx *sql.Tx) error, one *statement, single bool) error {
	j := &txJob{ctx: ctx, fn: fn, one: one, single: single, err: make(chan error, 1)}
	obs := db.observed()
	var start time.Time
	if obs != nil {
		start = time.Now()
	}
	select {
	case db.gc.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.gc.stop:
		return errClosed
	}
	err := <-j.err
	if obs != nil {
		obs.WriteCommitted(time.Since(start))
	}
	return err
}

func (db *DB) commitLoop(c *committer) {
	defer close(c.done)
	batch := make([]*txJob, 0, maxBatch)
	for {
		select {
		case j := <-c.jobs:
			batch = append(batch[:0], j)
		case <-c.stop:
			return
		}
		batch = gather(c.jobs, batch)
		db.commitBatch(batch)
		clear(batch)
		if !db.d.rowLocks {
			db.prepareWrites()
		}
	}
}

// gather adds to batch the callers waiting to be taken, up to maxBatch.
// When none is waiting it yields the processor once, and again as long as
// that brought new ones: with few cores (GOMAXPROCS 1 on a small node) the
// requests that are about to write are runnable goroutines that only get
// to queue if the writer lets them run before it commits.
func gather(jobs chan *txJob, batch []*txJob) []*txJob {
	for yielded := false; len(batch) < maxBatch; {
		select {
		case j := <-jobs:
			batch = append(batch, j)
			yielded = false
		default:
			if yielded {
				return batch
			}
			runtime.Gosched()
			yielded = true
		}
	}
	return batch
}

// commitBatch runs the batch's transactions and answers every caller.
func (db *DB) commitBatch(batch []*txJob) {
	live := batch[:0:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.err <- err
			continue
		}
		live = append(live, j)
	}
	if obs := db.observed(); obs != nil && len(live) > 0 {
		obs.BatchCommitted(len(live))
	}
	switch {
	case len(live) == 0:
	case db.d.rowLocks && pipelinable(live):
		db.commitPipelined(live)
	case len(live) == 1:
		live[0].err <- db.txWithRetries(live[0].ctx, live[0].fn)
	case db.d.rowLocks:
		db.commitOptimistic(live)
	default:
		db.commitSavepoints(live)
	}
}

// commitSavepoints runs each transaction of the batch in its own savepoint
// of one transaction (SQLite).
func (db *DB) commitSavepoints(batch []*txJob) {
	// The transaction outlives any one caller's context; each caller's
	// statements still run under its own.
	ctx := context.Background()
	results := make([]error, len(batch))
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		answerAll(batch, err)
		return
	}
	// broken ends a batch whose transaction can no longer commit: SQLite
	// rolls the whole transaction back on some errors (an interrupted
	// write, a full disk), so every transaction but failed (-1: none) runs
	// again alone.
	broken := func(failed int) {
		_ = tx.Rollback()
		for k := range batch {
			if k != failed {
				results[k] = db.txWithRetries(batch[k].ctx, batch[k].fn)
			}
		}
		answer(batch, results)
	}
	for i, j := range batch {
		if j.single {
			// One statement needs no savepoint: SQLite undoes a statement
			// that breaks a constraint and keeps the transaction. Other
			// errors may end the transaction itself.
			if results[i] = j.fn(tx); results[i] != nil && !statementUndone(results[i]) {
				broken(i)
				return
			}
			continue
		}
		if err := db.control(ctx, tx, "SAVEPOINT job"); err != nil {
			broken(-1)
			return
		}
		if results[i] = j.fn(tx); results[i] != nil {
			if err := db.control(ctx, tx, "ROLLBACK TO job"); err != nil {
				broken(i)
				return
			}
		}
		if err := db.control(ctx, tx, "RELEASE job"); err != nil {
			broken(-1)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		// Not committed: the transactions that had succeeded fail with the
		// commit's error (running them again could repeat a commit that
		// did happen, had the error come after it).
		for i := range results {
			if results[i] == nil {
				results[i] = err
			}
		}
	} else {
		db.commits.Add(1)
	}
	answer(batch, results)
}

// control runs a transaction-control statement (prepared, not counted
// among the queries).
func (db *DB) control(ctx context.Context, tx *sql.Tx, stmt string) error {
	_, err := db.prepared(ctx, tx, stmt).ExecContext(ctx, stmt)
	return err
}

// commitOptimistic runs the batch's transactions one after another in one
// transaction without savepoints (PostgreSQL); if any fails, it rolls the
// batch back and runs each alone.
func (db *DB) commitOptimistic(batch []*txJob) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	results := make([]error, len(batch))
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		db.runAlone(batch, results)
		answer(batch, results)
		return
	}
	for _, j := range batch {
		if err := j.fn(tx); err != nil {
			_ = tx.Rollback()
			db.runAlone(batch, results)
			answer(batch, results)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		if retryable(err) {
			db.runAlone(batch, results)
		} else {
			for i := range results {
				results[i] = err
			}
		}
	} else {
		db.commits.Add(1)
	}
	answer(batch, results)
}

// runAlone runs each transaction of batch in its own transaction, into
// results.
func (db *DB) runAlone(batch []*txJob, results []error) {
	for i, j := range batch {
		results[i] = db.txWithRetries(j.ctx, j.fn)
	}
}

func answer(batch []*txJob, results []error) {
	for i, j := range batch {
		j.err <- results[i]
	}
}

func answerAll(batch []*txJob, err error) {
	for _, j := range batch {
		j.err <- err
	}
}
