package janitor_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/janitor"
	"github.com/latchkey/latchkey/internal/store"
)

// fakeStore answers PurgeExpired with the next of its answers and records
// what it was asked.
type fakeStore struct {
	mu      sync.Mutex
	asked   []store.Purge
	answers []func() (store.Purged, error)
}

func (f *fakeStore) PurgeExpired(_ context.Context, p store.Purge) (store.Purged, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, p)
	if len(f.answers) == 0 {
		return store.Purged{Rows: map[string]int64{"tokens": 0}}, nil
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return a()
}

// TestRunOnce_PurgesAMinuteAfterExpiryAndCountsPerTable: rows go Grace
// after their expiry, activity after its retention; the counters add up
// every run's deletions per table, and count skipped and failed runs.
func TestRunOnce_PurgesAMinuteAfterExpiryAndCountsPerTable(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := &fakeStore{answers: []func() (store.Purged, error){
		func() (store.Purged, error) {
			return store.Purged{Rows: map[string]int64{"tokens": 3, "codes": 1}, Successors: 4}, nil
		},
		func() (store.Purged, error) {
			return store.Purged{Rows: map[string]int64{"tokens": 2}}, errors.New("down")
		},
		func() (store.Purged, error) { return store.Purged{Rows: map[string]int64{}, Skipped: true}, nil },
	}}
	j := &janitor.Janitor{Store: f, ActivityRetention: time.Hour, Now: func() time.Time { return now }}
	for range 3 {
		j.RunOnce(t.Context())
	}
	// Sealed refresh successors are cleared once past the longest reuse
	// grace allowed.
	want := store.Purge{Expired: now.Add(-janitor.Grace), Activity: now.Add(-time.Hour),
		Successors: now.Add(-config.MaxRefreshReuseGrace), Batch: janitor.DefaultBatch}
	if f.asked[0] != want {
		t.Fatalf("asked %+v, want %+v", f.asked[0], want)
	}
	c := j.Counters()
	if c.Deleted["tokens"] != 5 || c.Deleted["codes"] != 1 || c.SuccessorsCleared != 4 || c.Runs != 1 || c.Failed != 1 || c.Skipped != 1 {
		t.Fatalf("counters = %+v", c)
	}
	c.Deleted["tokens"] = 100
	if j.Counters().Deleted["tokens"] != 5 {
		t.Fatal("Counters returned the janitor's own map")
	}
}

// TestRun_LogsAFailureOnceAndKeepsRunning: a failing run is logged once,
// not at every tick, and the janitor keeps running until ctx ends.
func TestRun_LogsAFailureOnceAndKeepsRunning(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	fail := func() (store.Purged, error) { return store.Purged{}, errors.New("database down") }
	ok := func() (store.Purged, error) { return store.Purged{Rows: map[string]int64{"tokens": 4}}, nil }
	f := &fakeStore{answers: []func() (store.Purged, error){fail, fail, fail, ok}}
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	j := &janitor.Janitor{Store: f, Interval: time.Millisecond, Logger: logger}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { j.Run(ctx); close(done) }()
	for deadline := time.Now().Add(5 * time.Second); j.Counters().Runs < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the janitor did not run again after failing")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	out := logs.String()
	if n := strings.Count(out, "janitor run failed"); n != 1 {
		t.Fatalf("the failure was logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "level=INFO msg=\"janitor deleted expired rows\"") || !strings.Contains(out, "tokens=4") {
		t.Fatalf("a run that deleted rows is not logged at info with its counts:\n%s", out)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
