package sqlstore

import (
	"database/sql"
	"time"
)

// Observer receives the write path's figures, for metrics. Its methods are
// called on the request's goroutine and on the writer's: they must be
// cheap and safe for concurrent use.
type Observer interface {
	// WriteCommitted: a write transaction was answered d after it was
	// submitted (queueing for the writer included).
	WriteCommitted(d time.Duration)
	// BatchCommitted: the writer committed n transactions together.
	BatchCommitted(n int)
}

// Observe sends the write path's figures to o from now on.
func (db *DB) Observe(o Observer) { db.observer.Store(&o) }

func (db *DB) observed() Observer {
	if o := db.observer.Load(); o != nil {
		return *o
	}
	return nil
}

// Pools returns the database's connection pools by role: "read" and
// "write" on SQLite, one "primary" on PostgreSQL (reads and writes share
// it).
func (db *DB) Pools() map[string]*sql.DB {
	if db.read == db.write {
		return map[string]*sql.DB{"primary": db.write}
	}
	return map[string]*sql.DB{"read": db.read, "write": db.write}
}
