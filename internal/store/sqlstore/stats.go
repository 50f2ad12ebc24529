package sqlstore

import (
	"context"
	"fmt"
	"path"
	"time"

	"github.com/pressly/goose/v3"
)

// TableStats describes one table for operators (`latchkey db stats`).
type TableStats struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
	// Expired counts the rows whose lifetime ended at or before the time
	// asked about, and OldestExpiry is the earliest such end (zero when
	// none): how long the oldest row has been waiting to be deleted. Both
	// are zero for tables whose rows do not expire.
	Expired      int64     `json:"expired"`
	OldestExpiry time.Time `json:"oldest_expiry,omitzero"`
	// Expires reports whether the table's rows expire (expires_at).
	Expires bool `json:"expires"`
}

// statsTables lists every table of the schema, and whether its rows carry
// an expires_at.
var statsTables = []struct {
	name    string
	expires bool
}{
	{"activity", false}, {"auth_requests", true}, {"clients", false}, {"codes", true}, {"counters", false},
	{"device_codes", true}, {"grants", true}, {"pushed_requests", true}, {"registration_tokens", true}, {"replay", true}, {"resources", false}, {"session_clients", false},
	{"sessions", true}, {"signing_keys", false}, {"tokens", true}, {"users", false},
}

// Stats returns the rows of every table and, for tables whose rows expire,
// how many had expired at now and the oldest expiry among them. It counts
// every row: on a large PostgreSQL table that is a scan, for an operator's
// command, not for a request path.
func (db *DB) Stats(ctx context.Context, now time.Time) ([]TableStats, error) {
	out := make([]TableStats, 0, len(statsTables))
	for _, t := range statsTables {
		s := TableStats{Table: t.name, Expires: t.expires}
		if err := db.queryRow(ctx, db.read, "SELECT COUNT(*) FROM "+t.name).Scan(&s.Rows); err != nil {
			return nil, fmt.Errorf("stats %s: %w", t.name, err)
		}
		if t.expires {
			q := "SELECT COUNT(*), MIN(expires_at) FROM " + t.name + " WHERE expires_at <= " + db.d.arg(1)
			if err := db.queryRow(ctx, db.read, q, db.d.time(now)).Scan(&s.Expired, tm(&s.OldestExpiry)); err != nil {
				return nil, fmt.Errorf("stats %s: %w", t.name, err)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// MigrationStatus is where a database's schema stands.
type MigrationStatus struct {
	// Current is the version of the last migration applied (0: none), and
	// Latest the version of the last one this binary knows.
	Current int64 `json:"current"`
	Latest  int64 `json:"latest"`
	// Pending names the migrations not yet applied, in order.
	Pending []string `json:"pending"`
}

// MigrationStatus reports where the schema stands, without changing it.
func (db *DB) MigrationStatus(ctx context.Context) (MigrationStatus, error) {
	p, err := db.migrator()
	if err != nil {
		return MigrationStatus{}, fmt.Errorf("migration status: %w", err)
	}
	results, err := p.Status(ctx)
	if err != nil {
		return MigrationStatus{}, fmt.Errorf("migration status: %w", err)
	}
	st := MigrationStatus{Pending: []string{}}
	for _, r := range results {
		v := r.Source.Version
		st.Latest = max(st.Latest, v)
		if r.State == goose.StateApplied {
			st.Current = max(st.Current, v)
		} else {
			st.Pending = append(st.Pending, path.Base(r.Source.Path))
		}
	}
	return st, nil
}
