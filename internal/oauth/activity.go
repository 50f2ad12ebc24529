package oauth

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/store"
)

// ActivityLog records what happens on users' accounts (sign-ins, consents,
// tokens issued, refreshes, revocations) for the account page, and writes
// each entry, with or without a user, as an audit event. Entries are
// kept in memory and written in one batch a second (Run), so recording
// never adds a database write to the request that caused it; a crash loses
// at most the last second of entries, never a token or a grant. The buffer
// is bounded: when the database is down and it fills, new entries are
// dropped and counted.
type ActivityLog struct {
	Store  store.ActivityStore
	Now    func() time.Time
	Logger *slog.Logger
	// Audit receives every recorded entry as an event (nil: none).
	Audit *audit.Log

	mu      sync.Mutex
	pending []store.Activity
	dropped int64
}

// activityBuffer bounds the entries waiting to be written.
const activityBuffer = 10_000

// Record writes the entry as an audit event and queues it for the account
// page (At set to now if zero); entries without a user are audited only.
func (l *ActivityLog) Record(ctx context.Context, a store.Activity) {
	l.RecordWith(ctx, a, audit.Event{})
}

// activityEvents names the audit event of each activity kind.
var activityEvents = map[string]string{
	store.ActivitySignedIn:  audit.EventSignedIn,
	store.ActivityConsented: audit.EventConsented,
	store.ActivityIssued:    audit.EventTokenIssued,
	store.ActivityRefreshed: audit.EventTokenRefreshed,
	store.ActivityRevoked:   audit.EventTokenRevoked,
	store.ActivityPassword:  audit.EventPasswordChanged,
}

// RecordWith is Record with the audit event's further fields (grant type,
// format, reason) in ev; its other fields are taken from a.
func (l *ActivityLog) RecordWith(ctx context.Context, a store.Activity, ev audit.Event) {
	if l == nil {
		return
	}
	ev.Name = cmp.Or(ev.Name, activityEvents[a.Kind], a.Kind)
	ev.ClientID, ev.UserID = cmp.Or(ev.ClientID, a.ClientID), cmp.Or(ev.UserID, a.UserID)
	ev.Address, ev.Device, ev.Detail = cmp.Or(ev.Address, a.Address, clientip.FromContext(ctx)), cmp.Or(ev.Device, a.Device), cmp.Or(ev.Detail, a.Detail)
	l.Audit.Emit(ctx, ev)
	if a.UserID == "" {
		return
	}
	if a.At.IsZero() {
		a.At = l.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) >= activityBuffer {
		l.dropped++
		return
	}
	l.pending = append(l.pending, a)
}

// Flush writes the queued entries; on an error they stay queued.
func (l *ActivityLog) Flush(ctx context.Context) error {
	l.mu.Lock()
	batch := l.pending
	l.pending = nil
	dropped := l.dropped
	l.dropped = 0
	l.mu.Unlock()
	if dropped > 0 {
		l.Logger.WarnContext(ctx, "activity entries dropped: the buffer was full", "dropped", dropped)
	}
	if len(batch) == 0 {
		return nil
	}
	if err := l.Store.AddActivity(ctx, batch); err != nil {
		l.mu.Lock()
		room := max(activityBuffer-len(l.pending), 0)
		l.pending = append(batch[:min(len(batch), room)], l.pending...)
		l.mu.Unlock()
		return err
	}
	return nil
}

// Recent returns the user's newest entries, written or still queued here.
func (l *ActivityLog) Recent(ctx context.Context, userID string, limit int) ([]store.Activity, error) {
	stored, err := l.Store.ListActivity(ctx, userID, limit)
	if err != nil {
		return nil, err
	}
	// Queued entries, newest first, before the stored ones (older at equal
	// times); the stable sort keeps that order among equal times.
	var out []store.Activity
	l.mu.Lock()
	for i := len(l.pending) - 1; i >= 0; i-- {
		if l.pending[i].UserID == userID {
			out = append(out, l.pending[i])
		}
	}
	l.mu.Unlock()
	out = append(out, stored...)
	slices.SortStableFunc(out, func(a, b store.Activity) int { return b.At.Compare(a.At) })
	return out[:min(len(out), limit)], nil
}

// Run flushes every interval until ctx is done, then once more. Entries
// older than the configured retention are deleted by the janitor
// (internal/janitor), with the other expired rows.
func (l *ActivityLog) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := l.Flush(final); err != nil {
				l.Logger.Warn("activity entries not written at shutdown", "err", err)
			}
			return
		case <-tick.C:
		}
		err := l.Flush(ctx)
		if err != nil && !failing {
			l.Logger.WarnContext(ctx, "activity entries not written; retrying", "err", err)
		}
		failing = err != nil
	}
}
