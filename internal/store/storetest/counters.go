package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func testCounters(t *testing.T, open Opener) {
	const window = time.Minute
	byKey := func(cs []store.Counter) map[string]store.Counter {
		m := make(map[string]store.Counter, len(cs))
		for _, c := range cs {
			m[c.Key] = c
		}
		return m
	}

	run(t, "Counters/nodes_add_up_and_learn_each_others_counts", open, func(t *testing.T, w *world) {
		// Node A counts 3 for a key, node B 2 for it and 1 for another.
		a, err := w.s.SyncCounters(w.ctx, "login", window, map[string]int{"k1": 3}, at(0), at(time.Second), 100)
		wantErr(t, "SyncCounters", err, nil)
		if got := byKey(a)["k1"]; got.Count != 3 || !got.Start.Equal(at(time.Second)) {
			t.Fatalf("after A: %+v", a)
		}
		b, err := w.s.SyncCounters(w.ctx, "login", window, map[string]int{"k1": 2, "k2 \"quoted\" 名前": 1}, at(0), at(2*time.Second), 100)
		wantErr(t, "SyncCounters", err, nil)
		got := byKey(b)
		if got["k1"].Count != 5 || !got["k1"].Start.Equal(at(time.Second)) || got["k2 \"quoted\" 名前"].Count != 1 {
			t.Fatalf("after B: %+v", b)
		}
		// A syncing nothing learns B's counts, only those updated since.
		a, err = w.s.SyncCounters(w.ctx, "login", window, nil, at(2*time.Second), at(3*time.Second), 100)
		wantErr(t, "SyncCounters", err, nil)
		if len(a) != 2 {
			t.Fatalf("A learned %+v, want both counters", a)
		}
		a, err = w.s.SyncCounters(w.ctx, "login", window, nil, at(3*time.Second), at(3*time.Second), 100)
		wantErr(t, "SyncCounters", err, nil)
		if len(a) != 0 {
			t.Fatalf("nothing changed since, got %+v", a)
		}
		// Scopes are apart.
		other, err := w.s.SyncCounters(w.ctx, "client", window, nil, at(0), at(3*time.Second), 100)
		wantErr(t, "SyncCounters", err, nil)
		if len(other) != 0 {
			t.Fatalf("another scope saw %+v", other)
		}
	})

	run(t, "Counters/an_ended_window_starts_again", open, func(t *testing.T, w *world) {
		_, err := w.s.SyncCounters(w.ctx, "login", window, map[string]int{"k": 7}, at(0), at(0), 100)
		wantErr(t, "SyncCounters", err, nil)
		got, err := w.s.SyncCounters(w.ctx, "login", window, nil, at(0), at(window), 100)
		wantErr(t, "SyncCounters", err, nil)
		if len(got) != 0 {
			t.Fatalf("an ended window was returned: %+v", got)
		}
		got, err = w.s.SyncCounters(w.ctx, "login", window, map[string]int{"k": 1, "gone": -1}, at(0), at(window+time.Second), 100)
		wantErr(t, "SyncCounters", err, nil)
		m := byKey(got)
		if m["k"].Count != 1 || !m["k"].Start.Equal(at(window+time.Second)) {
			t.Fatalf("after the window: %+v", got)
		}
		if c, ok := m["gone"]; ok && c.Count != 0 {
			t.Fatalf("a release without a reservation counts %d, want 0", c.Count)
		}
	})

	run(t, "Counters/at_most_limit_are_returned", open, func(t *testing.T, w *world) {
		deltas := make(map[string]int)
		for i := range 250 {
			deltas[fmt.Sprintf("key-%03d", i)] = 1
		}
		got, err := w.s.SyncCounters(w.ctx, "login", window, deltas, at(0), at(0), 50)
		wantErr(t, "SyncCounters", err, nil)
		if len(got) != 50 {
			t.Fatalf("%d counters returned, want the limit 50", len(got))
		}
	})

	run(t, "Counters/concurrent_syncs_of_the_same_keys_all_count", open, func(t *testing.T, w *world) {
		errs := race(8, func(i int) error {
			_, err := w.s.SyncCounters(w.ctx, "login", window, map[string]int{"a": 1, "b": 2, "c": 3}, at(0), at(time.Second), 100)
			return err
		})
		for _, err := range errs {
			wantErr(t, "SyncCounters", err, nil)
		}
		got, err := w.s.SyncCounters(w.ctx, "login", window, nil, at(0), at(2*time.Second), 100)
		wantErr(t, "SyncCounters", err, nil)
		m := byKey(got)
		if m["a"].Count != 8 || m["b"].Count != 16 || m["c"].Count != 24 {
			t.Fatalf("counts %+v, want 8, 16, 24", got)
		}
	})
}
