package oauth

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/store"
)

func newActivityLog(t *testing.T) (*ActivityLog, store.Store) {
	st := dbtest.Open(t, "sqlite")
	now := time.Now().UTC().Truncate(time.Second)
	if err := st.CreateUser(t.Context(), store.User{ID: "u", Username: "u", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return &ActivityLog{Store: st, Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)}, st
}

// TestActivityFlushKeepsEntriesItCouldNotWrite: a failed batch stays
// queued (shown on the page meanwhile) and is written by the next flush.
func TestActivityFlushKeepsEntriesItCouldNotWrite(t *testing.T) {
	l, st := newActivityLog(t)
	l.Record(t.Context(), store.Activity{UserID: "u", Kind: store.ActivitySignedIn})
	l.Record(t.Context(), store.Activity{UserID: "", Kind: store.ActivitySignedIn}) // no user: ignored
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if err := l.Flush(canceled); err == nil {
		t.Fatal("a flush on a canceled context succeeded")
	}
	if got, _ := l.Recent(t.Context(), "u", 10); len(got) != 1 {
		t.Fatalf("%d entries shown while unwritten, want 1", len(got))
	}
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	stored, err := st.ListActivity(t.Context(), "u", 10)
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored %d entries, %v; want 1", len(stored), err)
	}
	if got, _ := l.Recent(t.Context(), "u", 10); len(got) != 1 {
		t.Fatalf("%d entries shown after the write, want 1 (not queued twice)", len(got))
	}
}

// TestActivityBufferIsBounded: past activityBuffer queued entries, new
// ones are dropped, so a database outage cannot exhaust memory.
func TestActivityBufferIsBounded(t *testing.T) {
	l, _ := newActivityLog(t)
	for range activityBuffer + 5 {
		l.Record(t.Context(), store.Activity{UserID: "u", Kind: store.ActivityRefreshed})
	}
	l.mu.Lock()
	queued, dropped := len(l.pending), l.dropped
	l.mu.Unlock()
	if queued != activityBuffer || dropped != 5 {
		t.Fatalf("%d queued, %d dropped; want %d and 5", queued, dropped, activityBuffer)
	}
}
