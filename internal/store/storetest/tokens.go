package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func testTokens(t *testing.T, open Opener) {
	run(t, "Token/round_trip_keeps_every_field", open, func(t *testing.T, w *world) {
		c, u, g := w.base()
		want := []store.Token{
			{Hash: "at-" + unicode, Kind: store.KindAccess, FamilyID: "fam-" + unicode, GrantID: g.ID, ClientID: c.ID,
				UserID: u.ID, Scopes: []string{"openid", "名前", big()}, AuthTime: at(-time.Hour), CreatedAt: t0(),
				ExpiresAt: at(time.Hour), RotatedAt: at(time.Minute), RevokedAt: at(2 * time.Minute),
				Claims: `{"userinfo":{"email":{"essential":true}},"x":"` + unicode + big() + `"}`,
				Device: "Firefox on Linux " + unicode, Address: "2001:db8::/64",
				Resources: []string{"https://notes.example/" + unicode, "urn:photos"},
				JKT:       "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
			{Hash: "rt", Kind: store.KindRefresh, FamilyID: "fam", GrantID: g.ID, ClientID: c.ID, UserID: u.ID,
				Scopes: []string{"offline_access"}, CreatedAt: t0(), ExpiresAt: at(30 * 24 * time.Hour), Claims: "{}", JKT: "rt-key"},
			// Client credentials: no user, grant or family.
			{Hash: "cc", Kind: store.KindAccess, ClientID: c.ID, ExpiresAt: at(time.Hour)},
			{Hash: "bare", Kind: store.KindRefresh, ClientID: c.ID, Scopes: []string{}},
		}
		wantErr(t, "CreateTokens", w.s.CreateTokens(w.ctx, want), nil)
		want[3].Scopes = nil
		for _, tok := range want {
			same(t, "token", w.token(tok.Hash), tok)
		}
	})

	run(t, "Token/with_grant_reads_both_as_their_own_lookups_do", open, func(t *testing.T, w *world) {
		c, _, g := w.base()
		w.tokens(newToken("rt", store.KindRefresh, "f", g), store.Token{Hash: "cc", Kind: store.KindAccess, ClientID: c.ID, ExpiresAt: at(time.Hour)})
		wantErr(t, "RevokeGrant", w.s.RevokeGrant(w.ctx, g.ID, at(time.Minute)), nil)
		wantGrant, err := w.s.GetGrant(w.ctx, g.ID)
		wantErr(t, "GetGrant", err, nil)
		tok, gr, err := w.s.GetTokenWithGrant(w.ctx, "rt")
		wantErr(t, "GetTokenWithGrant", err, nil)
		same(t, "token", tok, w.token("rt"))
		same(t, "its grant, revoked", gr, wantGrant)
		tok, gr, err = w.s.GetTokenWithGrant(w.ctx, "cc")
		wantErr(t, "GetTokenWithGrant(no grant)", err, nil)
		same(t, "token without a grant", tok, w.token("cc"))
		same(t, "no grant", gr, store.Grant{})
		for _, h := range []string{"RT", "", "nope", "rt\x00", big()} {
			_, _, err := w.s.GetTokenWithGrant(w.ctx, h)
			wantErr(t, "GetTokenWithGrant(unknown)", err, store.ErrNotFound)
		}
	})

	run(t, "Token/with_username_reads_the_token_and_its_users_name", open, func(t *testing.T, w *world) {
		c, u, g := w.base()
		w.tokens(newToken("at", store.KindAccess, "f", g), store.Token{Hash: "cc", Kind: store.KindAccess, ClientID: c.ID, ExpiresAt: at(time.Hour)})
		tok, name, err := w.s.GetTokenWithUsername(w.ctx, "at")
		wantErr(t, "GetTokenWithUsername", err, nil)
		same(t, "token", tok, w.token("at"))
		if name != u.Username || name == "" {
			t.Fatalf("username %q, want %q", name, u.Username)
		}
		tok, name, err = w.s.GetTokenWithUsername(w.ctx, "cc")
		wantErr(t, "GetTokenWithUsername(no user)", err, nil)
		same(t, "token without a user", tok, w.token("cc"))
		if name != "" {
			t.Fatalf("username %q for a token without a user", name)
		}
		for _, h := range []string{"AT", "", "nope", "at\x00", big()} {
			_, _, err := w.s.GetTokenWithUsername(w.ctx, h)
			wantErr(t, "GetTokenWithUsername(unknown)", err, store.ErrNotFound)
		}
	})

	run(t, "Token/create_of_no_tokens_is_a_no_op", open, func(t *testing.T, w *world) {
		wantErr(t, "CreateTokens(nil)", w.s.CreateTokens(w.ctx, nil), nil)
		wantErr(t, "CreateTokens(empty)", w.s.CreateTokens(w.ctx, []store.Token{}), nil)
	})

	run(t, "Token/create_of_many_tokens_stores_them_all", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		var toks []store.Token
		for i := range 700 {
			toks = append(toks, newToken(fmt.Sprintf("t%d", i), store.KindAccess, "f", g))
		}
		wantErr(t, "CreateTokens", w.s.CreateTokens(w.ctx, toks), nil)
		w.token("t0")
		w.token("t699")
		n, err := w.s.RevokeFamily(w.ctx, "f", t0())
		wantErr(t, "RevokeFamily", err, nil)
		if n != len(toks) {
			t.Fatalf("RevokeFamily = %d, want %d", n, len(toks))
		}
	})

	run(t, "Token/create_that_fails_stores_none_of_the_tokens", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		w.tokens(newToken("taken", store.KindAccess, "f", g))
		var many []store.Token
		for i := range 600 {
			many = append(many, newToken(fmt.Sprintf("fresh-%d", i), store.KindAccess, "f", g))
		}
		many = append(many, newToken("taken", store.KindAccess, "f", g))
		for name, tc := range map[string]struct {
			toks []store.Token
			want error
		}{
			"duplicate hash":         {[]store.Token{newToken("fresh-0", store.KindAccess, "f", g), newToken("taken", store.KindRefresh, "f", g)}, store.ErrConflict},
			"hash repeated in batch": {[]store.Token{newToken("fresh-0", store.KindAccess, "f", g), newToken("fresh-0", store.KindRefresh, "f", g)}, store.ErrConflict},
			"duplicate in big batch": {many, store.ErrConflict},
			"NUL in hash":            {[]store.Token{newToken("fresh-0", store.KindAccess, "f", g), newToken("x\x00", store.KindAccess, "f", g)}, store.ErrInvalid},
			"NUL in scope":           {[]store.Token{newToken("fresh-0", store.KindAccess, "f", g), {Hash: "fresh-1", Kind: store.KindAccess, ClientID: g.ClientID, Scopes: []string{"a\x00"}}}, store.ErrInvalid},
			"invalid UTF-8 family":   {[]store.Token{newToken("fresh-0", store.KindAccess, "\xc0\xaf", g)}, store.ErrInvalid},
			"unknown kind":           {[]store.Token{newToken("fresh-0", store.KindAccess, "f", g), newToken("fresh-1", "bearer", "f", g)}, store.ErrInvalid},
			"NUL in claims":          {[]store.Token{newToken("fresh-0", store.KindAccess, "f", g), {Hash: "fresh-1", Kind: store.KindAccess, ClientID: g.ClientID, Claims: "{\x00}"}}, store.ErrInvalid},
			"invalid UTF-8 claims":   {[]store.Token{{Hash: "fresh-0", Kind: store.KindAccess, ClientID: g.ClientID, Claims: "\xff"}}, store.ErrInvalid},
		} {
			wantErr(t, "CreateTokens("+name+")", w.s.CreateTokens(w.ctx, tc.toks), tc.want)
			w.absentToken("fresh-0")
			w.absentToken("fresh-1")
			w.absentToken("fresh-599")
		}
	})

	run(t, "Token/unknown_is_ErrNotFound", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		w.tokens(newToken("rt", store.KindRefresh, "f", g))
		for _, h := range []string{"RT", "", "nope", "rt\x00", big()} {
			_, err := w.s.GetToken(w.ctx, h)
			wantErr(t, "GetToken", err, store.ErrNotFound)
			wantErr(t, "RevokeToken", w.s.RevokeToken(w.ctx, h, t0()), store.ErrNotFound)
			wantErr(t, "RotateRefreshToken", w.s.RotateRefreshToken(w.ctx, h, t0(), issued(g, "f", 0, 0)), store.ErrNotFound)
		}
		w.absentToken("rt-0-0")
	})

	run(t, "Token/rotate_marks_the_old_token_rotated_and_stores_the_new_ones", open, func(t *testing.T, w *world) {
		c, _, g := w.base()
		old := w.tokens(newToken("rt", store.KindRefresh, "f", g))[0]
		now := at(time.Minute)
		next := issued(g, "f", 0, 0)
		// The rotation stores what the caller issues, claims included.
		next[0].Claims, next[1].Claims = `{"userinfo":{"name":null}}`, `{"id_token":{"acr":null}}`
		wantErr(t, "RotateRefreshToken", w.s.RotateRefreshToken(w.ctx, "rt", now, next), nil)
		old.RotatedAt = now
		same(t, "rotated token", w.token("rt"), old)
		for _, tok := range next {
			same(t, "issued token", w.token(tok.Hash), tok)
		}
		// A refresh token without a grant rotates too.
		w.tokens(store.Token{Hash: "lone", Kind: store.KindRefresh, ClientID: c.ID, ExpiresAt: at(time.Hour)})
		wantErr(t, "RotateRefreshToken(no grant)", w.s.RotateRefreshToken(w.ctx, "lone", now, nil), nil)
		if tok := w.token("lone"); !tok.RotatedAt.Equal(now) {
			t.Fatalf("RotatedAt = %v, want %v", tok.RotatedAt, now)
		}
	})

	run(t, "Token/rotate_of_an_inactive_token_or_grant_is_ErrAlreadyUsed_and_writes_nothing", open, func(t *testing.T, w *world) {
		_, u, g := w.base()
		revokedGrant := w.grant(newGrant("revoked-grant", u.ID, w.client("c-revoked").ID))
		expiringGrant := newGrant("expiring-grant", u.ID, w.client("c-expiring").ID)
		expiringGrant.ExpiresAt = at(time.Minute)
		w.grant(expiringGrant)

		rotated := newToken("rotated", store.KindRefresh, "f", g)
		rotated.RotatedAt = at(-time.Second)
		revoked := newToken("revoked", store.KindRefresh, "f", g)
		revoked.RevokedAt = at(-time.Second)
		w.tokens(rotated, revoked,
			newToken("expired", store.KindRefresh, "f", g),
			newToken("access", store.KindAccess, "f", g),
			newToken("of-revoked-grant", store.KindRefresh, "f", revokedGrant),
			newToken("of-expired-grant", store.KindRefresh, "f", expiringGrant))
		wantErr(t, "RevokeGrant", w.s.RevokeGrant(w.ctx, revokedGrant.ID, at(-time.Second)), nil)

		for i, tc := range []struct {
			hash string
			now  time.Time
		}{
			{"rotated", t0()},
			{"revoked", t0()},
			{"expired", at(time.Hour)}, // exactly at ExpiresAt
			{"access", t0()},
			{"of-revoked-grant", t0()},
			{"of-expired-grant", at(time.Minute)},
		} {
			before := w.token(tc.hash)
			err := w.s.RotateRefreshToken(w.ctx, tc.hash, tc.now, issued(g, "f", 1, i))
			wantErr(t, "RotateRefreshToken("+tc.hash+")", err, store.ErrAlreadyUsed)
			same(t, tc.hash+" after the refused rotation", w.token(tc.hash), before)
			w.absentToken(fmt.Sprintf("at-1-%d", i))
			w.absentToken(fmt.Sprintf("rt-1-%d", i))
		}
	})

	run(t, "Token/rotate_twice_is_ErrAlreadyUsed_and_the_loser_writes_nothing", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		w.tokens(newToken("rt", store.KindRefresh, "f", g))
		wantErr(t, "RotateRefreshToken", w.s.RotateRefreshToken(w.ctx, "rt", t0(), issued(g, "f", 0, 0)), nil)
		wantErr(t, "RotateRefreshToken(again)", w.s.RotateRefreshToken(w.ctx, "rt", t0(), issued(g, "f", 0, 1)), store.ErrAlreadyUsed)
		w.absentToken("at-0-1")
		w.absentToken("rt-0-1")
		w.token("rt-0-0")
	})

	run(t, "Token/rotate_that_fails_writes_nothing_and_leaves_the_token_active", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		w.tokens(newToken("rt", store.KindRefresh, "f", g), newToken("taken", store.KindAccess, "f", g))
		for name, tc := range map[string]struct {
			toks []store.Token
			want error
		}{
			"duplicate hash": {[]store.Token{newToken("fresh", store.KindRefresh, "f", g), newToken("taken", store.KindAccess, "f", g)}, store.ErrConflict},
			"NUL":            {[]store.Token{newToken("fresh", store.KindRefresh, "f", g), newToken("\x00", store.KindAccess, "f", g)}, store.ErrInvalid},
		} {
			wantErr(t, "RotateRefreshToken("+name+")", w.s.RotateRefreshToken(w.ctx, "rt", t0(), tc.toks), tc.want)
			w.absentToken("fresh")
			if tok := w.token("rt"); !tok.Active(t0()) {
				t.Fatalf("%s: the old token is no longer active: %+v", name, tok)
			}
		}
		wantErr(t, "RotateRefreshToken(valid, after the failures)", w.s.RotateRefreshToken(w.ctx, "rt", t0(), nil), nil)
	})

	run(t, "Token/concurrent_rotations_have_exactly_one_winner", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		const goroutines, iterations = 16, 20
		for it := range iterations {
			old := fmt.Sprintf("old-%d", it)
			w.tokens(newToken(old, store.KindRefresh, "f", g))
			errs := race(goroutines, func(i int) error {
				return w.s.RotateRefreshToken(w.ctx, old, at(time.Second), issued(g, "f", it, i))
			})
			winner := oneWinner(t, fmt.Sprintf("iteration %d", it), errs)
			for i := range goroutines {
				for _, tok := range issued(g, "f", it, i) {
					_, err := w.s.GetToken(w.ctx, tok.Hash)
					if i == winner {
						wantErr(t, "GetToken(winner's)", err, nil)
					} else {
						wantErr(t, "GetToken(loser's)", err, store.ErrNotFound)
					}
				}
			}
			if tok := w.token(old); !tok.RotatedAt.Equal(at(time.Second)) {
				t.Fatalf("iteration %d: RotatedAt = %v", it, tok.RotatedAt)
			}
		}
	})

	run(t, "Token/revoke_marks_one_token_revoked_and_is_idempotent", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		w.tokens(newToken("at", store.KindAccess, "f", g), newToken("rt", store.KindRefresh, "f", g))
		now := at(time.Minute)
		wantErr(t, "RevokeToken", w.s.RevokeToken(w.ctx, "at", now), nil)
		if tok := w.token("at"); !tok.RevokedAt.Equal(now) || tok.Active(now) {
			t.Fatalf("revoked token: RevokedAt = %v", tok.RevokedAt)
		}
		if tok := w.token("rt"); !tok.Active(now) {
			t.Fatalf("another token of the family was revoked")
		}
		wantErr(t, "RevokeToken(again)", w.s.RevokeToken(w.ctx, "at", at(time.Hour)), nil)
		if tok := w.token("at"); tok.Active(at(time.Hour)) {
			t.Fatalf("token active after a second revocation")
		}
		wantErr(t, "RotateRefreshToken(revoked)", w.s.RotateRefreshToken(w.ctx, "at", now, nil), store.ErrAlreadyUsed)
	})

	run(t, "Token/revoke_family_revokes_every_token_of_it_and_counts_them", open, func(t *testing.T, w *world) {
		c, _, g := w.base()
		rotated := newToken("rt1", store.KindRefresh, "fam", g)
		rotated.RotatedAt = at(-time.Minute)
		already := newToken("at0", store.KindAccess, "fam", g)
		already.RevokedAt = at(-time.Hour)
		w.tokens(rotated, already, newToken("at1", store.KindAccess, "fam", g), newToken("rt2", store.KindRefresh, "fam", g),
			newToken("other", store.KindRefresh, "other-fam", g),
			store.Token{Hash: "cc", Kind: store.KindAccess, ClientID: c.ID, ExpiresAt: at(time.Hour)})

		now := at(time.Minute)
		n, err := w.s.RevokeFamily(w.ctx, "fam", now)
		wantErr(t, "RevokeFamily", err, nil)
		if n != 3 {
			t.Fatalf("RevokeFamily = %d, want 3 (rt1, at1, rt2; at0 was already revoked)", n)
		}
		for _, h := range []string{"rt1", "at1", "rt2"} {
			if tok := w.token(h); !tok.RevokedAt.Equal(now) || tok.Active(now) {
				t.Fatalf("token %q: RevokedAt = %v", h, tok.RevokedAt)
			}
		}
		if tok := w.token("at0"); !tok.RevokedAt.Equal(at(-time.Hour)) {
			t.Fatalf("an earlier revocation changed: %v", tok.RevokedAt)
		}
		for _, h := range []string{"other", "cc"} {
			if tok := w.token(h); !tok.Active(now) {
				t.Fatalf("token %q outside the family was revoked", h)
			}
		}
		wantErr(t, "RotateRefreshToken(revoked family)", w.s.RotateRefreshToken(w.ctx, "rt2", now, nil), store.ErrAlreadyUsed)

		for _, fam := range []string{"fam", "nope", "", "\x00", big()} {
			n, err = w.s.RevokeFamily(w.ctx, fam, now)
			wantErr(t, "RevokeFamily("+fam+")", err, nil)
			if n != 0 {
				t.Fatalf("RevokeFamily(%q) = %d, want 0", fam, n)
			}
		}
		if tok := w.token("cc"); !tok.Active(now) {
			t.Fatalf("RevokeFamily of the empty family revoked a token without a family")
		}
	})

	run(t, "Token/revoke_refresh_tokens_revokes_the_user's_active_refresh_tokens_of_those_clients_with_their_families", open, func(t *testing.T, w *world) {
		c, u, g := w.base()
		c2 := w.client("c2")
		c3 := w.client("c3")
		other := w.user("other")
		g2 := w.grant(newGrant("g2", u.ID, c2.ID))
		g3 := w.grant(newGrant("g3", u.ID, c3.ID))
		og := w.grant(newGrant("og", other.ID, c.ID))

		rotated := newToken("rt0", store.KindRefresh, "f1", g)
		rotated.RotatedAt = at(-time.Minute)
		already := newToken("at0", store.KindAccess, "f1", g)
		already.RevokedAt = at(-time.Hour)
		w.tokens(rotated, already, newToken("rt1", store.KindRefresh, "f1", g), newToken("at1", store.KindAccess, "f1", g),
			newToken("rt2", store.KindRefresh, "f2", g2), newToken("at2", store.KindAccess, "f2", g2),
			// A refresh token without a family is revoked alone.
			store.Token{Hash: "lone", Kind: store.KindRefresh, GrantID: g.ID, ClientID: c.ID, UserID: u.ID, ExpiresAt: at(time.Hour)},
			// Another client of the same user, another user of the same
			// client, and a token without a user: all left alone.
			newToken("rt3", store.KindRefresh, "f3", g3), newToken("at3", store.KindAccess, "f3", g3),
			newToken("ort", store.KindRefresh, "of", og), newToken("oat", store.KindAccess, "of", og),
			store.Token{Hash: "cc", Kind: store.KindAccess, ClientID: c.ID, ExpiresAt: at(time.Hour)})

		now := at(time.Minute)
		n, err := w.s.RevokeRefreshTokens(w.ctx, u.ID, []string{c.ID, c2.ID, "nope", "c\x00", big()}, now)
		wantErr(t, "RevokeRefreshTokens", err, nil)
		if n != 6 {
			t.Fatalf("RevokeRefreshTokens = %d, want 6 (rt1, at1, rt0, rt2, at2, lone; at0 was already revoked)", n)
		}
		for _, h := range []string{"rt1", "at1", "rt0", "rt2", "at2", "lone"} {
			if tok := w.token(h); !tok.RevokedAt.Equal(now) || tok.Active(now) {
				t.Fatalf("token %q: RevokedAt = %v, want %v", h, tok.RevokedAt, now)
			}
		}
		if tok := w.token("at0"); !tok.RevokedAt.Equal(at(-time.Hour)) {
			t.Fatalf("an earlier revocation changed: %v", tok.RevokedAt)
		}
		for _, h := range []string{"rt3", "at3", "ort", "oat", "cc"} {
			if tok := w.token(h); !tok.Active(now) {
				t.Fatalf("token %q was revoked: %+v", h, tok)
			}
		}
		for _, g := range []store.Grant{g, g2} {
			if got, err := w.s.GetGrant(w.ctx, g.ID); err != nil || !got.Active(now) {
				t.Fatalf("grant %q is no longer active (%v): revoking tokens must leave the grant", g.ID, err)
			}
		}
		wantErr(t, "RotateRefreshToken(revoked)", w.s.RotateRefreshToken(w.ctx, "rt1", now, nil), store.ErrAlreadyUsed)

		n, err = w.s.RevokeRefreshTokens(w.ctx, u.ID, []string{c.ID, c2.ID}, at(time.Hour))
		wantErr(t, "RevokeRefreshTokens(again)", err, nil)
		if n != 0 {
			t.Fatalf("RevokeRefreshTokens(again) = %d, want 0", n)
		}
		for _, tc := range []struct {
			user    string
			clients []string
		}{
			{u.ID, nil},
			{u.ID, []string{}},
			{u.ID, []string{"nope", ""}},
			{"nobody", []string{c3.ID}},
			{"", []string{c3.ID}},
			{"u\x00", []string{c3.ID}},
			{big(), []string{c3.ID}},
		} {
			n, err := w.s.RevokeRefreshTokens(w.ctx, tc.user, tc.clients, now)
			wantErr(t, "RevokeRefreshTokens", err, nil)
			if n != 0 {
				t.Fatalf("RevokeRefreshTokens(%.20q, %q) = %d, want 0", tc.user, tc.clients, n)
			}
		}
		if tok := w.token("rt3"); !tok.Active(now) {
			t.Fatalf("rt3 was revoked")
		}
	})

	run(t, "Token/revoke_refresh_tokens_skips_rotated_and_expired_refresh_tokens_and_their_families", open, func(t *testing.T, w *world) {
		_, u, g := w.base()
		// Family f: its only refresh token was rotated and its successor
		// is in family f too; family x: its refresh token has expired.
		rotated := newToken("rt-old", store.KindRefresh, "f", g)
		rotated.RotatedAt = at(-time.Minute)
		expired := newToken("rt-expired", store.KindRefresh, "x", g)
		expired.ExpiresAt = at(time.Minute)
		w.tokens(rotated, newToken("rt-new", store.KindRefresh, "f", g), expired, newToken("at-x", store.KindAccess, "x", g))
		n, err := w.s.RevokeRefreshTokens(w.ctx, u.ID, []string{g.ClientID}, at(time.Minute))
		wantErr(t, "RevokeRefreshTokens", err, nil)
		if n != 2 {
			t.Fatalf("RevokeRefreshTokens = %d, want 2 (rt-new and rt-old of the active family f)", n)
		}
		if tok := w.token("rt-expired"); !tok.RevokedAt.IsZero() {
			t.Fatalf("an expired refresh token was revoked")
		}
	})
}
