package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func testSessions(t *testing.T, open Opener) {
	run(t, "Session/round_trip_keeps_every_field", open, func(t *testing.T, w *world) {
		u := w.user("u")
		want := store.Session{Hash: "s-" + unicode, UserID: u.ID, AuthTime: at(-time.Minute + time.Microsecond),
			CreatedAt: t0(), ExpiresAt: at(8 * time.Hour)}
		wantErr(t, "CreateSession", w.s.CreateSession(w.ctx, want), nil)
		got, err := w.s.GetSession(w.ctx, want.Hash, t0())
		wantErr(t, "GetSession", err, nil)
		same(t, "session", got, want)

		bare := store.Session{Hash: "bare", UserID: u.ID, ExpiresAt: at(time.Hour)}
		wantErr(t, "CreateSession(bare)", w.s.CreateSession(w.ctx, bare), nil)
		got, err = w.s.GetSession(w.ctx, "bare", t0())
		wantErr(t, "GetSession(bare)", err, nil)
		same(t, "session", got, bare)
	})

	run(t, "Session/duplicate_hash_is_ErrConflict", open, func(t *testing.T, w *world) {
		u := w.user("u")
		u2 := w.user("u2")
		first := store.Session{Hash: "s", UserID: u.ID, ExpiresAt: at(time.Hour)}
		wantErr(t, "CreateSession", w.s.CreateSession(w.ctx, first), nil)
		wantErr(t, "CreateSession(duplicate)", w.s.CreateSession(w.ctx, store.Session{Hash: "s", UserID: u2.ID, ExpiresAt: at(2 * time.Hour)}), store.ErrConflict)
		got, err := w.s.GetSession(w.ctx, "s", t0())
		wantErr(t, "GetSession", err, nil)
		same(t, "session", got, first)
	})

	run(t, "Session/NUL_byte_is_ErrInvalid_and_nothing_stored", open, func(t *testing.T, w *world) {
		u := w.user("u")
		wantErr(t, "CreateSession(NUL hash)", w.s.CreateSession(w.ctx, store.Session{Hash: "s\x00", UserID: u.ID, ExpiresAt: at(time.Hour)}), store.ErrInvalid)
		wantErr(t, "CreateSession(invalid UTF-8)", w.s.CreateSession(w.ctx, store.Session{Hash: "s\xff", UserID: u.ID, ExpiresAt: at(time.Hour)}), store.ErrInvalid)
		_, err := w.s.GetSession(w.ctx, "s", t0())
		wantErr(t, "GetSession", err, store.ErrNotFound)
	})

	run(t, "Session/get_answers_only_before_expiry", open, func(t *testing.T, w *world) {
		u := w.user("u")
		s := store.Session{Hash: "s", UserID: u.ID, CreatedAt: t0(), ExpiresAt: at(time.Hour)}
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
		noExpiry := store.Session{Hash: "no-expiry", UserID: u.ID}
		wantErr(t, "CreateSession(no expiry)", w.s.CreateSession(w.ctx, noExpiry), nil)
		_, err := w.s.GetSession(w.ctx, "no-expiry", t0())
		wantErr(t, "GetSession(zero ExpiresAt)", err, store.ErrNotFound)
	})

	run(t, "Session/unknown_is_ErrNotFound_and_delete_is_idempotent", open, func(t *testing.T, w *world) {
		u := w.user("u")
		wantErr(t, "CreateSession", w.s.CreateSession(w.ctx, store.Session{Hash: "s", UserID: u.ID, ExpiresAt: at(time.Hour)}), nil)
		wantErr(t, "CreateSession", w.s.CreateSession(w.ctx, store.Session{Hash: "s2", UserID: u.ID, ExpiresAt: at(time.Hour)}), nil)
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
			{Hash: "u-1", UserID: u.ID, CreatedAt: t0(), ExpiresAt: at(time.Hour)},
			{Hash: "u-2", UserID: u.ID, CreatedAt: t0(), ExpiresAt: at(8 * time.Hour)},
			{Hash: "u-expired", UserID: u.ID, CreatedAt: at(-2 * time.Hour), ExpiresAt: at(-time.Hour)},
		}
		theirs := []store.Session{
			{Hash: "o-1", UserID: other.ID, CreatedAt: t0(), ExpiresAt: at(time.Hour)},
			{Hash: "o-2", UserID: other.ID, CreatedAt: t0(), ExpiresAt: at(2 * time.Hour)},
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
		wantErr(t, "CreateSession(after)", w.s.CreateSession(w.ctx, store.Session{Hash: "u-new", UserID: u.ID, ExpiresAt: at(time.Hour)}), nil)
		_, err = w.s.GetUser(w.ctx, u.ID)
		wantErr(t, "GetUser", err, nil)
	})

	run(t, "Session/delete_user_sessions_of_unknown_user_is_zero", open, func(t *testing.T, w *world) {
		u := w.user("u")
		wantErr(t, "CreateSession", w.s.CreateSession(w.ctx, store.Session{Hash: "s", UserID: u.ID, ExpiresAt: at(time.Hour)}), nil)
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
}
