// Package janitor deletes expired rows in the background while a server
// runs (every minute by default), and on demand (`latchkey janitor`). The
// rules of what goes and what stays are the store's (store.Janitor): rows
// that reuse and replay detection still read are kept.
package janitor

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
)

// Defaults of the configuration's janitor section.
const (
	DefaultInterval = time.Minute
	DefaultBatch    = store.DefaultPurgeBatch
)

// Grace is how long after its expiry a row is deleted. A node whose clock
// lags another's by less than this never looks for a row the other
// already deleted while it still thinks the row unexpired (a revoked JWT's
// jti, say, which must be denied until the token's exp on every node).
const Grace = time.Minute

// Janitor runs purges and keeps count of what they deleted. Its zero value
// with a Store is usable.
type Janitor struct {
	Store store.Janitor
	// Interval between runs of Run; zero means DefaultInterval.
	Interval time.Duration
	// Batch bounds the rows of one DELETE; zero means DefaultBatch.
	Batch int
	// ActivityRetention: activity entries older than this are deleted;
	// zero keeps them.
	ActivityRetention time.Duration
	// Clients, with UnusedClientTTL positive, deletes the self-registered
	// clients unused for that long (RFC 7591 registrations nobody uses);
	// nil keeps them.
	Clients         UnusedClients
	UnusedClientTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger

	mu       sync.Mutex
	counters Counters
}

// UnusedClients deletes self-registered clients left unused
// (store.ClientStore.DeleteUnusedClients).
type UnusedClients interface {
	DeleteUnusedClients(ctx context.Context, t time.Time) ([]string, error)
}

// Counters are cumulative figures of a Janitor's runs, for metrics.
type Counters struct {
	// Deleted rows per table, over every run.
	Deleted map[string]int64
	// Runs that completed, Skipped because another node was purging, and
	// Failed.
	Runs, Skipped, Failed int64
	// SuccessorsCleared counts the sealed successors of rotated refresh
	// tokens cleared once no reuse grace could use them.
	SuccessorsCleared int64
}

// Counters returns a copy of the cumulative counters.
func (j *Janitor) Counters() Counters {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := j.counters
	c.Deleted = maps.Clone(c.Deleted)
	if c.Deleted == nil {
		c.Deleted = map[string]int64{}
	}
	return c
}

func (j *Janitor) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

func (j *Janitor) logger() *slog.Logger {
	if j.Logger != nil {
		return j.Logger
	}
	return slog.Default()
}

// RunOnce runs one purge: rows expired Grace before now, activity older
// than ActivityRetention. It adds what was deleted to the counters, even
// when the run failed part way, and returns it.
func (j *Janitor) RunOnce(ctx context.Context) (store.Purged, error) {
	now := j.now()
	p := store.Purge{Expired: now.Add(-Grace), Successors: now.Add(-config.MaxRefreshReuseGrace), Batch: j.Batch}
	if p.Batch <= 0 {
		p.Batch = DefaultBatch
	}
	if j.ActivityRetention > 0 {
		p.Activity = now.Add(-j.ActivityRetention)
	}
	purged, err := j.Store.PurgeExpired(ctx, p)
	if err == nil && !purged.Skipped && j.Clients != nil && j.UnusedClientTTL > 0 {
		var ids []string
		ids, err = j.Clients.DeleteUnusedClients(ctx, now.Add(-j.UnusedClientTTL))
		if len(ids) > 0 {
			if purged.Rows == nil {
				purged.Rows = map[string]int64{}
			}
			purged.Rows["clients"] += int64(len(ids))
			j.logger().InfoContext(ctx, "deleted unused self-registered clients", "client_ids", ids)
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.counters.Deleted == nil {
		j.counters.Deleted = map[string]int64{}
	}
	for t, n := range purged.Rows {
		j.counters.Deleted[t] += n
	}
	j.counters.SuccessorsCleared += purged.Successors
	switch {
	case err != nil:
		j.counters.Failed++
	case purged.Skipped:
		j.counters.Skipped++
	default:
		j.counters.Runs++
	}
	return purged, err
}

// Run purges every Interval until ctx is done. A failing run is logged
// once (until a run succeeds again) and retried at the next tick; a run's
// counts are logged at debug level, or info when it deleted something.
func (j *Janitor) Run(ctx context.Context) {
	interval := j.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		start := time.Now()
		purged, err := j.RunOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		log := j.logger()
		switch {
		case err != nil:
			if !failing {
				log.ErrorContext(ctx, "janitor run failed; retrying at the next one", "err", err)
			}
			failing = true
			continue
		case failing:
			log.InfoContext(ctx, "janitor runs again")
		}
		failing = false
		level := slog.LevelDebug
		if purged.Total() > 0 {
			level = slog.LevelInfo
		}
		attrs := []any{"skipped", purged.Skipped, "took", time.Since(start).Round(time.Millisecond)}
		for _, t := range slices.Sorted(maps.Keys(purged.Rows)) {
			attrs = append(attrs, t, purged.Rows[t])
		}
		log.Log(ctx, level, "janitor deleted expired rows", attrs...)
	}
}
