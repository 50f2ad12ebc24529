package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func richUser(id, username string) store.User {
	return store.User{
		ID:            id,
		Username:      username,
		PasswordHash:  "$argon2id$v=19$m=65536,t=3,p=4$" + big(),
		Name:          unicode,
		Email:         "名前+tag@例え.jp",
		EmailVerified: true,
		DisabledAt:    at(time.Hour),
		CreatedAt:     t0(),
		UpdatedAt:     at(time.Hour + time.Microsecond),
	}
}

func testUsers(t *testing.T, open Opener) {
	run(t, "User/round_trip_keeps_every_field", open, func(t *testing.T, w *world) {
		want := richUser("user-"+unicode, "Ålice "+unicode)
		wantErr(t, "CreateUser", w.s.CreateUser(w.ctx, want), nil)
		got, err := w.s.GetUser(w.ctx, want.ID)
		wantErr(t, "GetUser", err, nil)
		same(t, "user", got, want)
		got, err = w.s.GetUserByUsername(w.ctx, want.Username)
		wantErr(t, "GetUserByUsername", err, nil)
		same(t, "user by username", got, want)
	})

	run(t, "User/empty_fields_and_zero_times_round_trip", open, func(t *testing.T, w *world) {
		want := store.User{ID: "u"}
		wantErr(t, "CreateUser", w.s.CreateUser(w.ctx, want), nil)
		got, err := w.s.GetUser(w.ctx, "u")
		wantErr(t, "GetUser", err, nil)
		same(t, "user", got, want)
	})

	run(t, "User/duplicate_id_or_username_is_ErrConflict", open, func(t *testing.T, w *world) {
		first := w.user("u")
		wantErr(t, "CreateUser(same id)", w.s.CreateUser(w.ctx, store.User{ID: "u", Username: "other"}), store.ErrConflict)
		wantErr(t, "CreateUser(same username)", w.s.CreateUser(w.ctx, store.User{ID: "u2", Username: first.Username}), store.ErrConflict)
		_, err := w.s.GetUserByUsername(w.ctx, "other")
		wantErr(t, "GetUserByUsername(refused)", err, store.ErrNotFound)
		_, err = w.s.GetUser(w.ctx, "u2")
		wantErr(t, "GetUser(refused)", err, store.ErrNotFound)
		got, err := w.s.GetUser(w.ctx, "u")
		wantErr(t, "GetUser", err, nil)
		same(t, "user", got, first)
	})

	run(t, "User/username_lookup_is_exact", open, func(t *testing.T, w *world) {
		wantErr(t, "CreateUser(alice)", w.s.CreateUser(w.ctx, store.User{ID: "1", Username: "alice"}), nil)
		wantErr(t, "CreateUser(Alice)", w.s.CreateUser(w.ctx, store.User{ID: "2", Username: "Alice"}), nil)
		for username, id := range map[string]string{"alice": "1", "Alice": "2"} {
			got, err := w.s.GetUserByUsername(w.ctx, username)
			wantErr(t, "GetUserByUsername("+username+")", err, nil)
			if got.ID != id {
				t.Fatalf("GetUserByUsername(%q).ID = %q, want %q", username, got.ID, id)
			}
		}
		for _, username := range []string{"ALICE", "alice ", " alice", "alic", "", "alice\x00", "\xff"} {
			_, err := w.s.GetUserByUsername(w.ctx, username)
			wantErr(t, "GetUserByUsername("+username+")", err, store.ErrNotFound)
		}
	})

	run(t, "User/NUL_byte_or_invalid_UTF8_is_ErrInvalid_and_nothing_stored", open, func(t *testing.T, w *world) {
		for name, u := range map[string]store.User{
			"id":            {ID: "u\x00", Username: "a"},
			"username":      {ID: "u", Username: "a\x00"},
			"password hash": {ID: "u", Username: "a", PasswordHash: "\x00"},
			"name":          {ID: "u", Username: "a", Name: "\x00"},
			"email":         {ID: "u", Username: "a", Email: "a@b\x00"},
			"invalid UTF-8": {ID: "u", Username: "a\xc3"},
			"64 KiB name":   {ID: "u", Username: big()},
		} {
			wantErr(t, "CreateUser("+name+")", w.s.CreateUser(w.ctx, u), store.ErrInvalid)
		}
		list, err := w.s.ListUsers(w.ctx)
		wantErr(t, "ListUsers", err, nil)
		if len(list) != 0 {
			t.Fatalf("refused users were stored: %d", len(list))
		}
	})

	run(t, "User/unknown_is_ErrNotFound", open, func(t *testing.T, w *world) {
		w.user("u")
		for _, id := range []string{"U", "", "nope", "u\x00", big()} {
			_, err := w.s.GetUser(w.ctx, id)
			wantErr(t, "GetUser", err, store.ErrNotFound)
			wantErr(t, "DeleteUser", w.s.DeleteUser(w.ctx, id), store.ErrNotFound)
		}
		wantErr(t, "UpdateUser", w.s.UpdateUser(w.ctx, store.User{ID: "nope", Username: "nope"}), store.ErrNotFound)
	})

	run(t, "User/list_is_ordered_by_username_bytewise", open, func(t *testing.T, w *world) {
		list, err := w.s.ListUsers(w.ctx)
		wantErr(t, "ListUsers(empty)", err, nil)
		if len(list) != 0 {
			t.Fatalf("empty store lists %d users", len(list))
		}
		for i, name := range []string{"bob", "émile", "alice2", "Bob", "alice", "_x"} {
			wantErr(t, "CreateUser", w.s.CreateUser(w.ctx, store.User{ID: string(rune('z' - i)), Username: name}), nil)
		}
		list, err = w.s.ListUsers(w.ctx)
		wantErr(t, "ListUsers", err, nil)
		var names []string
		for _, u := range list {
			names = append(names, u.Username)
		}
		if got, want := strings.Join(names, " "), "Bob _x alice alice2 bob émile"; got != want {
			t.Fatalf("ListUsers order = %q, want %q", got, want)
		}
	})

	run(t, "User/update_replaces_every_field", open, func(t *testing.T, w *world) {
		w.user("u")
		want := richUser("u", "renamed")
		wantErr(t, "UpdateUser", w.s.UpdateUser(w.ctx, want), nil)
		got, err := w.s.GetUser(w.ctx, "u")
		wantErr(t, "GetUser", err, nil)
		same(t, "updated user", got, want)
		_, err = w.s.GetUserByUsername(w.ctx, "name-u")
		wantErr(t, "GetUserByUsername(old name)", err, store.ErrNotFound)
		got, err = w.s.GetUserByUsername(w.ctx, "renamed")
		wantErr(t, "GetUserByUsername(new name)", err, nil)
		same(t, "user by new name", got, want)

		want.EmailVerified = false
		wantErr(t, "UpdateUser(email no longer verified)", w.s.UpdateUser(w.ctx, want), nil)
		got, err = w.s.GetUser(w.ctx, "u")
		wantErr(t, "GetUser", err, nil)
		same(t, "user with an unverified email", got, want)
	})

	run(t, "User/update_to_a_taken_username_is_ErrConflict_and_keeps_the_row", open, func(t *testing.T, w *world) {
		a := w.user("a")
		b := w.user("b")
		changed := a
		changed.Username = b.Username
		changed.Name = "changed"
		wantErr(t, "UpdateUser", w.s.UpdateUser(w.ctx, changed), store.ErrConflict)
		got, err := w.s.GetUser(w.ctx, "a")
		wantErr(t, "GetUser", err, nil)
		same(t, "user a", got, a)

		changed = a
		changed.Email = "\x00"
		wantErr(t, "UpdateUser(NUL)", w.s.UpdateUser(w.ctx, changed), store.ErrInvalid)
		got, err = w.s.GetUser(w.ctx, "a")
		wantErr(t, "GetUser", err, nil)
		same(t, "user a", got, a)
	})

	run(t, "User/delete_removes_sessions_requests_grants_codes_and_tokens", open, func(t *testing.T, w *world) {
		c, u, g := w.base()
		other := w.user("other")
		og := w.grant(newGrant("og", other.ID, c.ID))
		ar := w.authRequest(c.ID)
		wantErr(t, "SetAuthRequestUser", w.s.SetAuthRequestUser(w.ctx, ar.ID, u.ID, "sid-s", t0()), nil)
		oar := w.authRequest(c.ID)
		wantErr(t, "SetAuthRequestUser", w.s.SetAuthRequestUser(w.ctx, oar.ID, other.ID, "sid-os", t0()), nil)
		w.code(newCode("code", g))
		w.code(newCode("ocode", og))
		w.tokens(newToken("at", store.KindAccess, "f", g), newToken("rt", store.KindRefresh, "f", g),
			newToken("oat", store.KindAccess, "of", og))
		w.session("s", u.ID)
		w.session("os", other.ID)
		wantErr(t, "AddSessionClient", w.s.AddSessionClient(w.ctx, "s", c.ID, t0()), nil)
		wantErr(t, "AddSessionClient(other)", w.s.AddSessionClient(w.ctx, "os", c.ID, t0()), nil)

		wantErr(t, "DeleteUser", w.s.DeleteUser(w.ctx, u.ID), nil)

		_, err := w.s.GetUser(w.ctx, u.ID)
		wantErr(t, "GetUser(deleted)", err, store.ErrNotFound)
		_, err = w.s.GetUserByUsername(w.ctx, u.Username)
		wantErr(t, "GetUserByUsername(deleted)", err, store.ErrNotFound)
		_, err = w.s.GetSession(w.ctx, "s", t0())
		wantErr(t, "GetSession(of deleted user)", err, store.ErrNotFound)
		_, err = w.s.GetAuthRequest(w.ctx, ar.ID)
		wantErr(t, "GetAuthRequest(of deleted user)", err, store.ErrNotFound)
		_, err = w.s.GetGrant(w.ctx, g.ID)
		wantErr(t, "GetGrant(of deleted user)", err, store.ErrNotFound)
		grants, err := w.s.ListGrantsByUser(w.ctx, u.ID)
		wantErr(t, "ListGrantsByUser(deleted user)", err, nil)
		if len(grants) != 0 {
			t.Fatalf("deleted user still has %d grants", len(grants))
		}
		_, err = w.s.GetCode(w.ctx, "code")
		wantErr(t, "GetCode(of deleted user)", err, store.ErrNotFound)
		w.absentToken("at")
		w.absentToken("rt")

		_, err = w.s.GetClient(w.ctx, c.ID)
		wantErr(t, "GetClient", err, nil)
		os, err := w.s.GetSession(w.ctx, "os", t0())
		wantErr(t, "GetSession(other)", err, nil)
		if len(os.Clients) != 1 || os.Clients[0] != c.ID {
			t.Fatalf("other user's session clients = %q, want [%q]", os.Clients, c.ID)
		}
		_, err = w.s.GetAuthRequest(w.ctx, oar.ID)
		wantErr(t, "GetAuthRequest(other)", err, nil)
		_, err = w.s.GetGrant(w.ctx, og.ID)
		wantErr(t, "GetGrant(other)", err, nil)
		_, err = w.s.GetCode(w.ctx, "ocode")
		wantErr(t, "GetCode(other)", err, nil)
		w.token("oat")
	})
}
