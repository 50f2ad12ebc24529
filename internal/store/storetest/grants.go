package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func testGrants(t *testing.T, open Opener) {
	run(t, "Grant/round_trip_keeps_every_field", open, func(t *testing.T, w *world) {
		c := w.client("c")
		c2 := w.client("c2")
		u := w.user("u")
		for _, want := range []store.Grant{
			{ID: "g1-" + unicode, UserID: u.ID, ClientID: c.ID, Scopes: []string{"openid", "名前", big()},
				CreatedAt: t0(), ExpiresAt: at(24 * time.Hour), RevokedAt: at(time.Hour)},
			{ID: "g2", UserID: u.ID, ClientID: c.ID},
			{ID: "g3", UserID: u.ID, ClientID: c2.ID, Scopes: []string{}},
		} {
			w.grant(want)
			got, err := w.s.GetGrant(w.ctx, want.ID)
			wantErr(t, "GetGrant", err, nil)
			if len(want.Scopes) == 0 {
				want.Scopes = nil
			}
			same(t, "grant", got, want)
		}
	})

	run(t, "Grant/list_by_client_holds_only_its_grants_newest_first", open, func(t *testing.T, w *world) {
		c, c2 := w.client("c"), w.client("c2")
		u, u2 := w.user("u"), w.user("u2")
		old := newGrant("g-old", u.ID, c.ID)
		old.RevokedAt = at(time.Minute)
		w.grant(old)
		fresh := newGrant("g-new", u2.ID, c.ID)
		fresh.CreatedAt = at(time.Hour)
		w.grant(fresh)
		w.grant(newGrant("g-other", u.ID, c2.ID))
		list, err := w.s.ListGrantsByClient(w.ctx, c.ID)
		wantErr(t, "ListGrantsByClient", err, nil)
		var ids []string
		for _, g := range list {
			ids = append(ids, g.ID)
		}
		if strings.Join(ids, ",") != "g-new,g-old" {
			t.Fatalf("grants of c: %v, want g-new,g-old (newest first, the revoked one included)", ids)
		}
		if list, err := w.s.ListGrantsByClient(w.ctx, "nope"); err != nil || len(list) != 0 {
			t.Fatalf("grants of an unknown client: %v %v", list, err)
		}
	})

	run(t, "Grant/create_keeps_every_field", open, func(t *testing.T, w *world) {
		c := w.client("c")
		u := w.user("u")
		for _, want := range []store.Grant{
			{ID: "g1-" + unicode, UserID: u.ID, ClientID: c.ID, Scopes: []string{"openid", "名前", big()},
				CreatedAt: t0(), ExpiresAt: at(24 * time.Hour), RevokedAt: at(time.Hour)},
			{ID: "g2", UserID: u.ID, ClientID: c.ID},
		} {
			wantErr(t, "CreateGrant", w.s.CreateGrant(w.ctx, want), nil)
			got, err := w.s.GetGrant(w.ctx, want.ID)
			wantErr(t, "GetGrant", err, nil)
			same(t, "grant", got, want)
		}
	})

	run(t, "Grant/create_refuses_a_duplicate_id_missing_references_and_bad_text", open, func(t *testing.T, w *world) {
		c := w.client("c")
		u := w.user("u")
		first := newGrant("g", u.ID, c.ID)
		wantErr(t, "CreateGrant", w.s.CreateGrant(w.ctx, first), nil)
		revived := first
		revived.RevokedAt = at(time.Hour)
		revived.Scopes = []string{"admin"}
		wantErr(t, "CreateGrant(duplicate)", w.s.CreateGrant(w.ctx, revived), store.ErrConflict)
		wantErr(t, "CreateGrant(unknown user)", w.s.CreateGrant(w.ctx, newGrant("x", "nope", c.ID)), store.ErrNotFound)
		wantErr(t, "CreateGrant(unknown client)", w.s.CreateGrant(w.ctx, newGrant("x", u.ID, "nope")), store.ErrNotFound)
		bad := newGrant("x", u.ID, c.ID)
		bad.Scopes = []string{"openid\x00"}
		wantErr(t, "CreateGrant(NUL scope)", w.s.CreateGrant(w.ctx, bad), store.ErrInvalid)
		wantErr(t, "CreateGrant(64 KiB id)", w.s.CreateGrant(w.ctx, newGrant(big(), u.ID, c.ID)), store.ErrInvalid)
		_, err := w.s.GetGrant(w.ctx, "x")
		wantErr(t, "GetGrant(refused)", err, store.ErrNotFound)
		got, err := w.s.GetGrant(w.ctx, "g")
		wantErr(t, "GetGrant", err, nil)
		same(t, "grant after the refused duplicate", got, first)
	})

	run(t, "Grant/unknown_is_ErrNotFound", open, func(t *testing.T, w *world) {
		w.base()
		for _, id := range []string{"G", "", "nope", "g\x00", big()} {
			_, err := w.s.GetGrant(w.ctx, id)
			wantErr(t, "GetGrant", err, store.ErrNotFound)
			wantErr(t, "RevokeGrant", w.s.RevokeGrant(w.ctx, id, t0()), store.ErrNotFound)
		}
	})

	run(t, "Grant/list_by_user_is_newest_first_and_only_that_user's", open, func(t *testing.T, w *world) {
		c := w.client("c")
		c2 := w.client("c2")
		u := w.user("u")
		other := w.user("other")
		list, err := w.s.ListGrantsByUser(w.ctx, u.ID)
		wantErr(t, "ListGrantsByUser(none)", err, nil)
		if len(list) != 0 {
			t.Fatalf("user without grants lists %d", len(list))
		}
		c3 := w.client("c3")
		c4 := w.client("c4")
		mk := func(id, user, client string, created time.Time) {
			g := newGrant(id, user, client)
			g.CreatedAt = created
			w.grant(g)
		}
		mk("old", u.ID, c.ID, at(time.Minute))
		mk("new", u.ID, c2.ID, at(3*time.Minute))
		mk("mid-a", u.ID, c3.ID, at(2*time.Minute))
		mk("mid-b", u.ID, c4.ID, at(2*time.Minute))
		mk("theirs", other.ID, c.ID, at(time.Hour))
		revoked := newGrant("revoked", u.ID, c.ID)
		revoked.CreatedAt = at(90 * time.Second)
		revoked.RevokedAt = at(100 * time.Second)
		w.grant(revoked)

		list, err = w.s.ListGrantsByUser(w.ctx, u.ID)
		wantErr(t, "ListGrantsByUser", err, nil)
		var ids []string
		for _, g := range list {
			ids = append(ids, g.ID)
		}
		if got, want := strings.Join(ids, " "), "new mid-b mid-a revoked old"; got != want {
			t.Fatalf("ListGrantsByUser = %q, want %q", got, want)
		}
	})

	run(t, "Grant/one_unrevoked_grant_per_user_and_client", open, func(t *testing.T, w *world) {
		c := w.client("c")
		c2 := w.client("c2")
		u := w.user("u")
		_, err := w.s.FindGrant(w.ctx, u.ID, c.ID)
		wantErr(t, "FindGrant(none)", err, store.ErrNotFound)

		revoked := newGrant("revoked", u.ID, c.ID)
		revoked.RevokedAt = t0()
		w.grant(revoked)
		expired := newGrant("expired", u.ID, c.ID)
		expired.ExpiresAt = at(-time.Minute)
		w.grant(expired)
		w.grant(newGrant("other-client", u.ID, c2.ID))
		g, err := w.s.FindGrant(w.ctx, u.ID, c.ID)
		wantErr(t, "FindGrant", err, nil)
		if g.ID != "expired" {
			t.Fatalf("FindGrant = %q, want the unrevoked (if expired) grant", g.ID)
		}
		// A second unrevoked grant of the same user and client is refused.
		wantErr(t, "CreateGrant(second)", w.s.CreateGrant(w.ctx, newGrant("second", u.ID, c.ID)), store.ErrConflict)
		wantErr(t, "SaveGrant(second)", w.s.SaveGrant(w.ctx, newGrant("second", u.ID, c.ID)), store.ErrConflict)
		// Saving the grant extends it: its scopes and expiry are replaced.
		ext := expired
		ext.Scopes = []string{"openid", "profile", "photos.read"}
		ext.ExpiresAt = at(time.Hour)
		wantErr(t, "SaveGrant(extend)", w.s.SaveGrant(w.ctx, ext), nil)
		got, err := w.s.GetGrant(w.ctx, "expired")
		wantErr(t, "GetGrant", err, nil)
		same(t, "extended grant", got, ext)
		forever := ext
		forever.ExpiresAt = time.Time{}
		wantErr(t, "SaveGrant(forever)", w.s.SaveGrant(w.ctx, forever), nil)
		if got, _ := w.s.GetGrant(w.ctx, "expired"); !got.ExpiresAt.IsZero() {
			t.Fatalf("a grant saved without expiry keeps %v", got.ExpiresAt)
		}
		// A revoked grant is never revived, and frees the place of its app.
		wantErr(t, "RevokeGrant", w.s.RevokeGrant(w.ctx, "expired", t0()), nil)
		wantErr(t, "SaveGrant(revoked)", w.s.SaveGrant(w.ctx, ext), store.ErrAlreadyUsed)
		wantErr(t, "SaveGrant(new)", w.s.SaveGrant(w.ctx, newGrant("second", u.ID, c.ID)), nil)
		_, err = w.s.FindGrant(w.ctx, "nobody", c.ID)
		wantErr(t, "FindGrant(unknown user)", err, store.ErrNotFound)
		wantErr(t, "SaveGrant(unknown user)", w.s.SaveGrant(w.ctx, newGrant("x", "nobody", c.ID)), store.ErrNotFound)
	})

	run(t, "Grant/concurrent_first_consents_make_one_grant", open, func(t *testing.T, w *world) {
		c := w.client("c")
		u := w.user("u")
		errs := race(8, func(i int) error { return w.s.SaveGrant(w.ctx, newGrant(fmt.Sprintf("g%d", i), u.ID, c.ID)) })
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else if !errors.Is(err, store.ErrConflict) {
				t.Fatalf("SaveGrant: %v, want nil or ErrConflict", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d of 8 concurrent first grants saved, want 1", won)
		}
	})

	run(t, "Grant/revoke_marks_the_grant_and_all_its_tokens_revoked", open, func(t *testing.T, w *world) {
		_, u, g := w.base()
		og := w.grant(newGrant("og", u.ID, w.client("c2").ID))
		w.tokens(newToken("at", store.KindAccess, "f", g), newToken("rt", store.KindRefresh, "f", g),
			newToken("rt2", store.KindRefresh, "f2", g), newToken("oat", store.KindAccess, "of", og))
		wantErr(t, "RevokeToken", w.s.RevokeToken(w.ctx, "rt2", at(-time.Minute)), nil)

		now := at(time.Minute)
		wantErr(t, "RevokeGrant", w.s.RevokeGrant(w.ctx, g.ID, now), nil)
		got, err := w.s.GetGrant(w.ctx, g.ID)
		wantErr(t, "GetGrant", err, nil)
		if !got.RevokedAt.Equal(now) || got.Active(now) {
			t.Fatalf("revoked grant: RevokedAt = %v, Active = %v", got.RevokedAt, got.Active(now))
		}
		for _, h := range []string{"at", "rt"} {
			if tok := w.token(h); !tok.RevokedAt.Equal(now) || tok.Active(now) {
				t.Fatalf("token %q of the revoked grant: RevokedAt = %v", h, tok.RevokedAt)
			}
		}
		if tok := w.token("rt2"); !tok.RevokedAt.Equal(at(-time.Minute)) {
			t.Fatalf("an earlier revocation changed: RevokedAt = %v", tok.RevokedAt)
		}
		if tok := w.token("oat"); !tok.RevokedAt.IsZero() {
			t.Fatalf("a token of another grant was revoked")
		}
		if og, _ := w.s.GetGrant(w.ctx, "og"); !og.RevokedAt.IsZero() {
			t.Fatalf("another grant was revoked")
		}

		wantErr(t, "RevokeGrant(again)", w.s.RevokeGrant(w.ctx, g.ID, at(time.Hour)), nil)
		got, err = w.s.GetGrant(w.ctx, g.ID)
		wantErr(t, "GetGrant", err, nil)
		if got.Active(at(time.Hour)) {
			t.Fatalf("grant active after a second revocation")
		}
	})
}
