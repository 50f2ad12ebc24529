package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func testActivity(t *testing.T, open Opener) {
	run(t, "Activity/newest_first_per_user_purged_by_age_and_gone_with_the_user", open, func(t *testing.T, w *world) {
		c, u, _ := w.base()
		other := w.user("other")
		var entries []store.Activity
		for i := range 600 { // more than one INSERT
			entries = append(entries, store.Activity{UserID: u.ID, ClientID: c.ID, Kind: store.ActivityRefreshed,
				Device: "Firefox on Linux", Address: "198.51.100.7", Detail: fmt.Sprint(i), At: at(time.Duration(i) * time.Minute)})
		}
		entries = append(entries,
			store.Activity{UserID: u.ID, Kind: store.ActivitySignedIn, Device: unicode, Address: "2001:db8::/64", At: at(-time.Hour)},
			store.Activity{UserID: other.ID, ClientID: c.ID, Kind: store.ActivityIssued, At: at(24 * time.Hour)},
			store.Activity{UserID: u.ID, Kind: store.ActivityRevoked, Detail: "bad\x00text", At: t0()}, // dropped
		)
		wantErr(t, "AddActivity", w.s.AddActivity(w.ctx, entries), nil)
		got, err := w.s.ListActivity(w.ctx, u.ID, 3)
		wantErr(t, "ListActivity", err, nil)
		same(t, "newest three", got, []store.Activity{entries[599], entries[598], entries[597]})
		all, err := w.s.ListActivity(w.ctx, u.ID, 1000)
		wantErr(t, "ListActivity", err, nil)
		if len(all) != 601 || all[600].Kind != store.ActivitySignedIn || all[600].Device != unicode {
			t.Fatalf("%d entries, the oldest %+v; want 601 ending with the sign-in", len(all), all[len(all)-1])
		}
		// Older than t0+100m: the sign-in and entries 0..99.
		n, err := w.s.PurgeActivity(w.ctx, at(100*time.Minute), 60)
		wantErr(t, "PurgeActivity", err, nil)
		if n != 60 {
			t.Fatalf("purged %d, want the limit 60", n)
		}
		n, err = w.s.PurgeActivity(w.ctx, at(100*time.Minute), 1000)
		wantErr(t, "PurgeActivity", err, nil)
		if n != 41 {
			t.Fatalf("purged %d more, want 41", n)
		}
		all, _ = w.s.ListActivity(w.ctx, u.ID, 1000)
		if len(all) != 500 || !all[499].At.Equal(at(100*time.Minute)) {
			t.Fatalf("%d entries left, oldest at %v", len(all), all[len(all)-1].At)
		}
		wantErr(t, "DeleteUser", w.s.DeleteUser(w.ctx, u.ID), nil)
		if all, _ = w.s.ListActivity(w.ctx, u.ID, 10); len(all) != 0 {
			t.Fatalf("a deleted user's activity remains: %d entries", len(all))
		}
		if theirs, _ := w.s.ListActivity(w.ctx, other.ID, 10); len(theirs) != 1 {
			t.Fatalf("another user's activity: %+v", theirs)
		}
	})

	run(t, "Activity/query_pages_by_user_or_client_newest_first_without_repeats_or_gaps", open, func(t *testing.T, w *world) {
		c, u, _ := w.base()
		c2 := w.client("c2")
		other := w.user("other")
		var entries []store.Activity
		for i := range 7 {
			// Pairs written at the same instant: the id orders them.
			entries = append(entries, store.Activity{UserID: u.ID, ClientID: c.ID, Kind: store.ActivityIssued,
				Detail: fmt.Sprint(i), At: at(time.Duration(i/2) * time.Minute)})
		}
		entries = append(entries,
			store.Activity{UserID: other.ID, ClientID: c.ID, Kind: store.ActivityIssued, Detail: "other", At: at(time.Hour)},
			store.Activity{UserID: u.ID, ClientID: c2.ID, Kind: store.ActivityIssued, Detail: "c2", At: at(2 * time.Hour)})
		wantErr(t, "AddActivity", w.s.AddActivity(w.ctx, entries), nil)
		pages := func(q store.ActivityQuery) []string {
			var seen []string
			for range 20 {
				got, err := w.s.QueryActivity(w.ctx, q)
				wantErr(t, "QueryActivity", err, nil)
				for _, a := range got {
					seen = append(seen, a.Detail)
				}
				if len(got) < q.Limit {
					return seen
				}
				q.After = &got[len(got)-1]
				if q.After.ID == 0 {
					t.Fatal("QueryActivity answered an entry without its id")
				}
			}
			t.Fatal("paging did not end")
			return nil
		}
		same(t, "user's entries, pages of 2", pages(store.ActivityQuery{UserID: u.ID, Limit: 2}), []string{"c2", "6", "5", "4", "3", "2", "1", "0"})
		same(t, "client's entries, pages of 3", pages(store.ActivityQuery{ClientID: c.ID, Limit: 3}), []string{"other", "6", "5", "4", "3", "2", "1", "0"})
		same(t, "user's entries with c2", pages(store.ActivityQuery{UserID: u.ID, ClientID: c2.ID, Limit: 5}), []string{"c2"})
		if got, err := w.s.QueryActivity(w.ctx, store.ActivityQuery{ClientID: "nope", Limit: 5}); err != nil || len(got) != 0 {
			t.Fatalf("an unknown client's entries: %v %v", got, err)
		}
	})
}
