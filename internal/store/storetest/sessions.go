package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func testSessions(t *testing.T, open Opener) {
	run(t, "Session/round_trip_keeps_every_field", open, func(t *testing.T, w *world) {
		u := w.user("u")
		want := store.Session{Hash: "s-" + unicode, ID: "sid-" + unicode, UserID: u.ID, AuthTime: at(-time.Minute + time.Microsecond),
			CreatedAt: t0(), ExpiresAt: at(8 * time.Hour), LastSeenAt: at(time.Minute + time.Microsecond)}
		wantErr(t, "CreateSession", w.s.CreateSession(w.ctx, want), nil)
		got, err := w.s.GetSession(w.ctx, want.Hash, t0())
		wantErr(t, "GetSession", err, nil)
		same(t, "session", got, want)

		bare := store.Session{Hash: "bare", ID: "b", UserID: u.ID, ExpiresAt: at(time.Hour)}
		wantErr(t, "CreateSession(bare)", w.s.CreateSession(w.ctx, bare), nil)
		got, err = w.s.GetSession(w.ctx, "bare", t0())
		wantErr(t, "GetSession(bare)", err, nil)
		same(t, "session", got, bare)
	})

	run(t, "Session/duplicate_hash_is_ErrConflict", open, func(t *testing.T, w *world) {
		u := w.user("u")
		u2 := w.user("u2")
		first := store.Session{Hash: "s", ID: "sid", UserID: u.ID, ExpiresAt: at(time.Hour)}
		wantErr(t, "CreateSession", w.s.CreateSession(w.ctx, first), nil)
		wantErr(t, "CreateSession(duplicate)", w.s.CreateSession(w.ctx, store.Session{Hash: "s", ID: "sid-2", UserID: u2.ID, ExpiresAt: at(2 * time.Hour)}), store.ErrConflict)
		got, err := w.s.GetSession(w.ctx, "s", t0())
		wantErr(t, "GetSession", err, nil)
		same(t, "session", got, first)
	})

	run(t, "Session/duplicate_sid_is_ErrConflict", open, func(t *testing.T, w *world) {
		u := w.user("u")
		first := w.session("s", u.ID)
		wantErr(t, "CreateSession(same sid)", w.s.CreateSession(w.ctx, store.Session{Hash: "s2", ID: first.ID, UserID: u.ID, ExpiresAt: at(time.Hour)}), store.ErrConflict)
		_, err := w.s.GetSession(w.ctx, "s2", t0())
		wantErr(t, "GetSession(refused)", err, store.ErrNotFound)
		// The sid is compared byte for byte.
		wantErr(t, "CreateSession(sid in other case)", w.s.CreateSession(w.ctx, store.Session{Hash: "s3", ID: "SID-S", UserID: u.ID, ExpiresAt: at(time.Hour)}), nil)
	})

	run(t, "Session/NUL_byte_is_ErrInvalid_and_nothing_stored", open, func(t *testing.T, w *world) {
		u := w.user("u")
		for name, s := range map[string]store.Session{
			"NUL hash":           {Hash: "s\x00", ID: "sid"},
			"invalid UTF-8 hash": {Hash: "s\xff", ID: "sid"},
			"NUL sid":            {Hash: "s", ID: "sid\x00"},
			"invalid UTF-8 sid":  {Hash: "s", ID: "\xc3"},
			"empty sid":          {Hash: "s"},
			"64 KiB sid":         {Hash: "s", ID: big()},
			"NUL user":           {Hash: "s", ID: "sid", UserID: u.ID + "\x00"},
		} {
			if s.UserID == "" {
				s.UserID = u.ID
			}
			s.ExpiresAt = at(time.Hour)
			wantErr(t, "CreateSession("+name+")", w.s.CreateSession(w.ctx, s), store.ErrInvalid)
		}
		_, err := w.s.GetSession(w.ctx, "s", t0())
		wantErr(t, "GetSession", err, store.ErrNotFound)
	})

	run(t, "Session/get_answers_only_before_expiry", open, func(t *testing.T, w *world) {
		u := w.user("u")
		s := store.Session{Hash: "s", ID: "sid", UserID: u.ID, CreatedAt: t0(), ExpiresAt: at(time.Hour)}
		wantErr(t, "CreateSession", w.s.CreateSession(w.ctx, s), nil)
		for _, tc := range []struct {
			now  time.Time
			want error
		}{
			{at(-time.Hour), nil},
			{at(time.Hour - time.Microsecond), nil},
			{at(time.Hour), store.ErrNotFound},
			{at(48 * time.Hour), store.ErrNotFound},
		} {
			_, err := w.s.GetSession(w.ctx, "s", tc.now)
			wantErr(t, "GetSession at "+tc.now.String(), err, tc.want)
		}
		noExpiry := store.Session{Hash: "no-expiry", ID: "sid-no-expiry", UserID: u.ID}
		wantErr(t, "CreateSession(no expiry)", w.s.CreateSession(w.ctx, noExpiry), nil)
		_, err := w.s.GetSession(w.ctx, "no-expiry", t0())
		wantErr(t, "GetSession(zero ExpiresAt)", err, store.ErrNotFound)
	})

	run(t, "Session/unknown_is_ErrNotFound_and_delete_is_idempotent", open, func(t *testing.T, w *world) {
		u := w.user("u")
		w.session("s", u.ID)
		w.session("s2", u.ID)
		for _, h := range []string{"S", "", "nope", "s\x00", big()} {
			_, err := w.s.GetSession(w.ctx, h, t0())
			wantErr(t, "GetSession", err, store.ErrNotFound)
			wantErr(t, "DeleteSession(absent)", w.s.DeleteSession(w.ctx, h), nil)
		}
		wantErr(t, "DeleteSession", w.s.DeleteSession(w.ctx, "s"), nil)
		_, err := w.s.GetSession(w.ctx, "s", t0())
		wantErr(t, "GetSession(deleted)", err, store.ErrNotFound)
		wantErr(t, "DeleteSession(again)", w.s.DeleteSession(w.ctx, "s"), nil)
		_, err = w.s.GetSession(w.ctx, "s2", t0())
		wantErr(t, "GetSession(other)", err, nil)
	})

	run(t, "Session/delete_user_sessions_counts_and_keeps_other_users'", open, func(t *testing.T, w *world) {
		u := w.user("u")
		other := w.user("other")
		mine := []store.Session{
			{Hash: "u-1", ID: "sid-u-1", UserID: u.ID, CreatedAt: t0(), ExpiresAt: at(time.Hour)},
			{Hash: "u-2", ID: "sid-u-2", UserID: u.ID, CreatedAt: t0(), ExpiresAt: at(8 * time.Hour)},
			{Hash: "u-expired", ID: "sid-u-expired", UserID: u.ID, CreatedAt: at(-2 * time.Hour), ExpiresAt: at(-time.Hour)},
		}
		theirs := []store.Session{
			{Hash: "o-1", ID: "sid-o-1", UserID: other.ID, CreatedAt: t0(), ExpiresAt: at(time.Hour)},
			{Hash: "o-2", ID: "sid-o-2", UserID: other.ID, CreatedAt: t0(), ExpiresAt: at(2 * time.Hour)},
		}
		for _, s := range append(append([]store.Session{}, mine...), theirs...) {
			wantErr(t, "CreateSession("+s.Hash+")", w.s.CreateSession(w.ctx, s), nil)
		}

		n, err := w.s.DeleteUserSessions(w.ctx, u.ID)
		wantErr(t, "DeleteUserSessions", err, nil)
		if n != len(mine) {
			t.Fatalf("DeleteUserSessions = %d, want %d (expired sessions count too)", n, len(mine))
		}
		for _, s := range mine {
			_, err := w.s.GetSession(w.ctx, s.Hash, at(-3*time.Hour))
			wantErr(t, "GetSession("+s.Hash+")", err, store.ErrNotFound)
		}
		for _, s := range theirs {
			got, err := w.s.GetSession(w.ctx, s.Hash, t0())
			wantErr(t, "GetSession("+s.Hash+")", err, nil)
			same(t, "other user's session", got, s)
		}

		n, err = w.s.DeleteUserSessions(w.ctx, u.ID)
		wantErr(t, "DeleteUserSessions(again)", err, nil)
		if n != 0 {
			t.Fatalf("DeleteUserSessions(again) = %d, want 0", n)
		}
		// The user keeps signing in afterwards.
		wantErr(t, "CreateSession(after)", w.s.CreateSession(w.ctx, store.Session{Hash: "u-new", ID: "sid-u-new", UserID: u.ID, ExpiresAt: at(time.Hour)}), nil)
		_, err = w.s.GetUser(w.ctx, u.ID)
		wantErr(t, "GetUser", err, nil)
	})

	run(t, "Session/delete_other_sessions_keeps_this_browser's", open, func(t *testing.T, w *world) {
		u := w.user("u")
		other := w.user("other")
		keep := w.session("keep", u.ID)
		w.session("phone", u.ID)
		w.session("tv", u.ID)
		theirs := w.session("theirs", other.ID)
		n, err := w.s.DeleteOtherSessions(w.ctx, u.ID, keep.Hash)
		wantErr(t, "DeleteOtherSessions", err, nil)
		if n != 2 {
			t.Fatalf("DeleteOtherSessions = %d, want 2", n)
		}
		for hash, want := range map[string]error{"keep": nil, "phone": store.ErrNotFound, "tv": store.ErrNotFound, theirs.Hash: nil} {
			_, err := w.s.GetSession(w.ctx, hash, t0())
			wantErr(t, "GetSession("+hash+")", err, want)
		}
		n, err = w.s.DeleteOtherSessions(w.ctx, "nobody\x00", keep.Hash)
		if err != nil || n != 0 {
			t.Fatalf("DeleteOtherSessions(invalid user) = %d, %v", n, err)
		}
	})

	run(t, "Session/delete_user_sessions_of_unknown_user_is_zero", open, func(t *testing.T, w *world) {
		u := w.user("u")
		w.session("s", u.ID)
		for _, id := range []string{"U", "u ", "", "nope", "u\x00", "\xff", big()} {
			n, err := w.s.DeleteUserSessions(w.ctx, id)
			wantErr(t, "DeleteUserSessions", err, nil)
			if n != 0 {
				t.Fatalf("DeleteUserSessions(%.20q) = %d, want 0", id, n)
			}
		}
		_, err := w.s.GetSession(w.ctx, "s", t0())
		wantErr(t, "GetSession", err, nil)
	})

	run(t, "Session/touch_sets_last_seen_and_nothing_else", open, func(t *testing.T, w *world) {
		u := w.user("u")
		s := w.session("s", u.ID)
		other := w.session("other", u.ID)
		wantErr(t, "AddSessionClient", w.s.AddSessionClient(w.ctx, s.Hash, w.client("c").ID, t0()), nil)
		s.Clients = []string{"c"}
		for _, now := range []time.Time{at(time.Minute + 3*time.Microsecond), at(2 * time.Hour), at(time.Second)} {
			wantErr(t, "TouchSession", w.s.TouchSession(w.ctx, s.Hash, now), nil)
			got, err := w.s.GetSession(w.ctx, s.Hash, t0())
			wantErr(t, "GetSession", err, nil)
			s.LastSeenAt = now
			same(t, "touched session", got, s)
		}
		got, err := w.s.GetSession(w.ctx, other.Hash, t0())
		wantErr(t, "GetSession(other)", err, nil)
		same(t, "other session", got, other)
	})

	run(t, "Session/touch_of_an_unknown_session_is_ErrNotFound", open, func(t *testing.T, w *world) {
		u := w.user("u")
		s := w.session("s", u.ID)
		for _, h := range []string{"S", "", "nope", "s\x00", "\xff", big(), s.ID} {
			wantErr(t, "TouchSession", w.s.TouchSession(w.ctx, h, at(time.Minute)), store.ErrNotFound)
		}
		wantErr(t, "DeleteSession", w.s.DeleteSession(w.ctx, s.Hash), nil)
		wantErr(t, "TouchSession(deleted)", w.s.TouchSession(w.ctx, s.Hash, at(time.Minute)), store.ErrNotFound)
	})

	run(t, "Session/clients_are_listed_in_the_order_first_added", open, func(t *testing.T, w *world) {
		u := w.user("u")
		s := w.session("s", u.ID)
		other := w.session("other", u.ID)
		for _, id := range []string{"a", "b", "c", "d"} {
			w.client(id)
		}
		got, err := w.s.GetSession(w.ctx, s.Hash, t0())
		wantErr(t, "GetSession", err, nil)
		if got.Clients != nil {
			t.Fatalf("a session without clients lists %q, want nil", got.Clients)
		}
		for _, add := range []struct {
			client string
			now    time.Time
		}{
			{"c", at(time.Second)},
			{"d", at(2 * time.Second)},
			{"a", at(2 * time.Second)}, // same time as d: by client id
			{"c", at(3 * time.Second)}, // again: stays first, no error
			{"b", at(4 * time.Second)},
			{"d", at(time.Hour)},
		} {
			wantErr(t, "AddSessionClient("+add.client+")", w.s.AddSessionClient(w.ctx, s.Hash, add.client, add.now), nil)
		}
		wantErr(t, "AddSessionClient(other session)", w.s.AddSessionClient(w.ctx, other.Hash, "b", t0()), nil)

		got, err = w.s.GetSession(w.ctx, s.Hash, t0())
		wantErr(t, "GetSession", err, nil)
		s.Clients = []string{"c", "a", "d", "b"}
		same(t, "session", got, s)
		got, err = w.s.GetSession(w.ctx, other.Hash, t0())
		wantErr(t, "GetSession(other)", err, nil)
		other.Clients = []string{"b"}
		same(t, "other session", got, other)
		// An expired session is not found, clients or not.
		_, err = w.s.GetSession(w.ctx, s.Hash, s.ExpiresAt)
		wantErr(t, "GetSession(expired)", err, store.ErrNotFound)
	})

	run(t, "Session/add_client_of_an_unknown_session_or_client_is_ErrNotFound", open, func(t *testing.T, w *world) {
		u := w.user("u")
		s := w.session("s", u.ID)
		c := w.client("c")
		for _, h := range []string{"S", "", "nope", "s\x00", "\xff", big(), s.ID} {
			wantErr(t, "AddSessionClient(session "+h+")", w.s.AddSessionClient(w.ctx, h, c.ID, t0()), store.ErrNotFound)
		}
		for _, id := range []string{"C", "", "nope", "c\x00", "\xff", big()} {
			wantErr(t, "AddSessionClient(client "+id+")", w.s.AddSessionClient(w.ctx, s.Hash, id, t0()), store.ErrNotFound)
		}
		got, err := w.s.GetSession(w.ctx, s.Hash, t0())
		wantErr(t, "GetSession", err, nil)
		same(t, "session after the refused clients", got, s)
	})

	run(t, "Session/concurrent_adds_of_one_client_all_succeed_and_record_it_once", open, func(t *testing.T, w *world) {
		u := w.user("u")
		s := w.session("s", u.ID)
		const goroutines, iterations = 16, 10
		for it := range iterations {
			c := w.client(fmt.Sprintf("c-%d", it))
			errs := race(goroutines, func(i int) error {
				return w.s.AddSessionClient(w.ctx, s.Hash, c.ID, at(time.Duration(it*goroutines+i)*time.Second))
			})
			for i, err := range errs {
				wantErr(t, fmt.Sprintf("iteration %d: AddSessionClient in goroutine %d", it, i), err, nil)
			}
			got, err := w.s.GetSession(w.ctx, s.Hash, t0())
			wantErr(t, "GetSession", err, nil)
			s.Clients = append(s.Clients, c.ID)
			same(t, fmt.Sprintf("iteration %d: session", it), got, s)
		}
	})

	run(t, "Session/concurrent_adds_of_different_clients_record_them_all", open, func(t *testing.T, w *world) {
		u := w.user("u")
		s := w.session("s", u.ID)
		const goroutines = 16
		for i := range goroutines {
			w.client(fmt.Sprintf("c-%02d", i))
		}
		errs := race(goroutines, func(i int) error {
			return w.s.AddSessionClient(w.ctx, s.Hash, fmt.Sprintf("c-%02d", i), t0())
		})
		for i, err := range errs {
			wantErr(t, fmt.Sprintf("AddSessionClient in goroutine %d", i), err, nil)
		}
		got, err := w.s.GetSession(w.ctx, s.Hash, t0())
		wantErr(t, "GetSession", err, nil)
		for i := range goroutines {
			s.Clients = append(s.Clients, fmt.Sprintf("c-%02d", i)) // one time: by client id
		}
		same(t, "session", got, s)
	})

	run(t, "Session/delete_removes_its_clients", open, func(t *testing.T, w *world) {
		u := w.user("u")
		c := w.client("c")
		s := w.session("s", u.ID)
		w.session("u-2", u.ID)
		for _, h := range []string{"s", "u-2"} {
			wantErr(t, "AddSessionClient", w.s.AddSessionClient(w.ctx, h, c.ID, t0()), nil)
		}
		wantErr(t, "DeleteSession", w.s.DeleteSession(w.ctx, s.Hash), nil)
		n, err := w.s.DeleteUserSessions(w.ctx, u.ID)
		wantErr(t, "DeleteUserSessions", err, nil)
		if n != 1 {
			t.Fatalf("DeleteUserSessions = %d, want 1", n)
		}
		// Sessions made again under the same hashes start without clients.
		for _, h := range []string{"s", "u-2"} {
			again := store.Session{Hash: h, ID: "new-" + h, UserID: u.ID, ExpiresAt: at(time.Hour)}
			wantErr(t, "CreateSession(again)", w.s.CreateSession(w.ctx, again), nil)
			got, err := w.s.GetSession(w.ctx, h, t0())
			wantErr(t, "GetSession(again)", err, nil)
			same(t, "session made again", got, again)
		}
		_, err = w.s.GetClient(w.ctx, c.ID)
		wantErr(t, "GetClient", err, nil)
	})
}
