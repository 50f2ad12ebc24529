package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Table is one table's figures, as `latchkey db stats` prints them.
type Table struct {
	Name    string
	Rows    int64
	Expired int64
	// OldestExpiry is the earliest expiry among the expired rows (zero:
	// none, or the table's rows do not expire).
	OldestExpiry time.Time
	Expires      bool
}

// TablesEvery is how often the table figures are counted again: counting
// is a scan of every table, too much for each scrape.
const TablesEvery = time.Minute

// WatchTables publishes rows per table, expired rows and the age of the
// oldest expired row, from count (the store's Stats). The figures are
// counted at most every TablesEvery, when scraped, in the background: a
// scrape shows the last count and waits only for the first.
func (m *Metrics) WatchTables(count func(ctx context.Context, now time.Time) ([]Table, error), now func() time.Time) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&tables{
		count: count, now: now,
		rows: prometheus.NewDesc(namespace+"_table_rows", "Rows per table (counted at most once a minute).", []string{"table"}, nil),
		expired: prometheus.NewDesc(namespace+"_table_expired_rows",
			"Rows whose lifetime has ended and that wait for the janitor, per table.", []string{"table"}, nil),
		oldest: prometheus.NewDesc(namespace+"_table_oldest_expired_seconds",
			"How long ago the oldest expired row of a table expired (0: none).", []string{"table"}, nil),
	})
}

type tables struct {
	count func(ctx context.Context, now time.Time) ([]Table, error)
	now   func() time.Time

	rows, expired, oldest *prometheus.Desc

	mu       sync.Mutex
	last     []Table
	at       time.Time
	counting bool
}

func (t *tables) Describe(ch chan<- *prometheus.Desc) { ch <- t.rows; ch <- t.expired; ch <- t.oldest }

func (t *tables) Collect(ch chan<- prometheus.Metric) {
	now := t.now()
	t.mu.Lock()
	first := t.at.IsZero() && !t.counting
	stale := !t.counting && now.Sub(t.at) >= TablesEvery
	if stale {
		t.counting = true
	}
	t.mu.Unlock()
	switch {
	case first: // the first scrape waits, so that it shows the tables
		t.recount(now)
	case stale:
		go t.recount(now)
	}
	t.mu.Lock()
	last := t.last
	t.mu.Unlock()
	for _, tb := range last {
		ch <- prometheus.MustNewConstMetric(t.rows, prometheus.GaugeValue, float64(tb.Rows), tb.Name)
		if !tb.Expires {
			continue
		}
		ch <- prometheus.MustNewConstMetric(t.expired, prometheus.GaugeValue, float64(tb.Expired), tb.Name)
		age := 0.0
		if !tb.OldestExpiry.IsZero() {
			age = now.Sub(tb.OldestExpiry).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(t.oldest, prometheus.GaugeValue, age, tb.Name)
	}
}

func (t *tables) recount(now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := t.count(ctx, now)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counting = false
	t.at = now // a failed count is retried a minute later, not at every scrape
	if err == nil {
		t.last = got
	}
}
