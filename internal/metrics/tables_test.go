package metrics

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestTables_CountedAtMostOnceAMinute: table figures are counted at the
// first scrape, shown from memory until TablesEvery has passed, then
// counted again in the background; the new count shows at a later scrape.
func TestTables_CountedAtMostOnceAMinute(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var counts atomic.Int64
	counted := make(chan struct{}, 10)
	m := New(Options{})
	m.WatchTables(func(ctx context.Context, at time.Time) ([]Table, error) {
		n := counts.Add(1)
		defer func() { counted <- struct{}{} }()
		return []Table{
			{Name: "tokens", Rows: 10 * n, Expired: n, OldestExpiry: at.Add(-time.Hour), Expires: true},
			{Name: "users", Rows: 1},
		}, nil
	}, clock)
	rows := func() float64 {
		t.Helper()
		fams, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() != "latchkey_table_rows" {
				continue
			}
			for _, s := range f.GetMetric() {
				if s.GetLabel()[0].GetValue() == "tokens" {
					return s.GetGauge().GetValue()
				}
			}
		}
		t.Fatal("no latchkey_table_rows{table=tokens}")
		return 0
	}
	if got := rows(); got != 10 {
		t.Fatalf("first scrape: %v rows, want 10 (counted now)", got)
	}
	<-counted
	mu.Lock()
	now = now.Add(TablesEvery - time.Second)
	mu.Unlock()
	if got := rows(); got != 10 || counts.Load() != 1 {
		t.Fatalf("within a minute: %v rows after %d counts, want 10 after 1", got, counts.Load())
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	rows() // starts the count in the background
	<-counted
	if got := rows(); got != 20 || counts.Load() != 2 {
		t.Fatalf("after a minute: %v rows after %d counts, want 20 after 2", got, counts.Load())
	}
	if n := testutil.CollectAndCount(m.Registry(), "latchkey_table_expired_rows"); n != 1 {
		t.Fatalf("%d expired-row series, want 1 (users do not expire)", n)
	}
}
