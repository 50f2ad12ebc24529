package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// issued returns the tokens a redemption by goroutine i of iteration it
// would issue: an access and a refresh token with hashes of their own.
func issued(g store.Grant, family string, it, i int) []store.Token {
	return []store.Token{
		newToken(fmt.Sprintf("at-%d-%d", it, i), store.KindAccess, family, g),
		newToken(fmt.Sprintf("rt-%d-%d", it, i), store.KindRefresh, family, g),
	}
}

// codeWith returns c changed by mod.
func codeWith(c store.AuthCode, mod func(*store.AuthCode)) store.AuthCode {
	mod(&c)
	return c
}

func testCodes(t *testing.T, open Opener) {
	run(t, "Code/round_trip_keeps_every_field", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		rich := store.AuthCode{
			Hash: "hash-" + unicode, GrantID: g.ID, ClientID: g.ClientID, UserID: g.UserID,
			RedirectURI: "http://127.0.0.1:49152/cb?" + big(), RedirectURIGiven: true,
			Scopes:        []string{"openid", "名前"},
			CodeChallenge: unicode, CodeChallengeMethod: "S256", Nonce: big(),
			AuthTime: at(-time.Hour), CreatedAt: t0(), ExpiresAt: at(5 * time.Minute), UsedAt: at(time.Minute),
			SessionID: "sid-" + unicode, ACR: "urn:mace:incommon:iap:silver " + unicode, Device: "Chrome on Android " + unicode, DPoPJKT: "code-key-" + unicode,
			Resources: []string{"https://photos.example/" + unicode, "urn:notes"},
			Claims:    `{"id_token":{"auth_time":{"essential":true}},"x":"` + unicode + big() + `"}`,
		}
		for _, want := range []store.AuthCode{rich, {Hash: "bare", GrantID: g.ID}} {
			w.code(want)
			got, err := w.s.GetCode(w.ctx, want.Hash)
			wantErr(t, "GetCode", err, nil)
			same(t, "code", got, want)
		}
	})

	run(t, "Code/with_grant_reads_both_as_their_own_lookups_do", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		code := w.code(newCode("code", g))
		wantGrant, err := w.s.GetGrant(w.ctx, g.ID)
		wantErr(t, "GetGrant", err, nil)
		got, gr, err := w.s.GetCodeWithGrant(w.ctx, code.Hash)
		wantErr(t, "GetCodeWithGrant", err, nil)
		same(t, "code", got, code)
		same(t, "its grant", gr, wantGrant)
	})

	run(t, "Code/unknown_is_ErrNotFound", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		w.code(newCode("code", g))
		for _, h := range []string{"CODE", "", "nope", "code\x00", big()} {
			_, err := w.s.GetCode(w.ctx, h)
			wantErr(t, "GetCode", err, store.ErrNotFound)
			_, _, err = w.s.GetCodeWithGrant(w.ctx, h)
			wantErr(t, "GetCodeWithGrant", err, store.ErrNotFound)
			wantErr(t, "RedeemCode", w.s.RedeemCode(w.ctx, h, t0(), issued(g, "f", 0, 0)), store.ErrNotFound)
		}
		w.absentToken("at-0-0")
	})

	run(t, "Code/redeem_marks_it_used_keeps_the_row_and_stores_the_tokens", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		code := w.code(newCode("code", g))
		now := at(time.Minute)
		toks := issued(g, "family", 0, 0)
		toks[0].Scopes = []string{}
		toks[1].AuthTime = time.Time{}
		wantErr(t, "RedeemCode", w.s.RedeemCode(w.ctx, code.Hash, now, toks), nil)
		got, err := w.s.GetCode(w.ctx, code.Hash)
		wantErr(t, "GetCode(redeemed)", err, nil)
		code.UsedAt = now
		same(t, "redeemed code", got, code)
		toks[0].Scopes = nil
		for _, want := range toks {
			same(t, "issued token", w.token(want.Hash), want)
		}
	})

	run(t, "Code/redeem_with_no_tokens_marks_it_used", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		w.code(newCode("code", g))
		wantErr(t, "RedeemCode", w.s.RedeemCode(w.ctx, "code", t0(), nil), nil)
		wantErr(t, "RedeemCode(again)", w.s.RedeemCode(w.ctx, "code", t0(), nil), store.ErrAlreadyUsed)
	})

	run(t, "Code/used_expired_or_revoked_grant_is_ErrAlreadyUsed_and_writes_nothing", open, func(t *testing.T, w *world) {
		_, u, g := w.base()
		expiringGrant := newGrant("expiring", u.ID, w.client("c-expiring").ID)
		expiringGrant.ExpiresAt = at(time.Minute)
		w.grant(expiringGrant)
		revokedGrant := w.grant(newGrant("revoked", u.ID, w.client("c-revoked").ID))
		wantErr(t, "RevokeGrant", w.s.RevokeGrant(w.ctx, revokedGrant.ID, t0()), nil)

		w.code(newCode("used", g))
		wantErr(t, "RedeemCode(first)", w.s.RedeemCode(w.ctx, "used", t0(), issued(g, "f", 0, 0)), nil)

		for i, tc := range []struct {
			name string
			code store.AuthCode
			now  time.Time
		}{
			{"used", store.AuthCode{Hash: "used"}, at(time.Second)},
			{"expired exactly at ExpiresAt", newCode("expired", g), at(5 * time.Minute)},
			{"expired long ago", newCode("old", g), at(24 * time.Hour)},
			{"revoked grant", newCode("of-revoked", revokedGrant), at(time.Second)},
			{"expired grant", newCode("of-expired", expiringGrant), at(time.Minute)},
		} {
			if tc.code.GrantID != "" {
				w.code(tc.code)
			}
			before, _ := w.s.GetCode(w.ctx, tc.code.Hash)
			err := w.s.RedeemCode(w.ctx, tc.code.Hash, tc.now, issued(g, "f", 1, i))
			wantErr(t, "RedeemCode("+tc.name+")", err, store.ErrAlreadyUsed)
			w.absentToken(fmt.Sprintf("at-1-%d", i))
			w.absentToken(fmt.Sprintf("rt-1-%d", i))
			after, _ := w.s.GetCode(w.ctx, tc.code.Hash)
			same(t, tc.name+": code after the refused redemption", after, before)
		}
		// The refused attempts did not touch the winner's tokens.
		w.token("at-0-0")
		w.token("rt-0-0")
	})

	run(t, "Code/redeem_that_fails_writes_nothing_and_leaves_the_code_unused", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		w.code(newCode("code", g))
		w.tokens(newToken("taken", store.KindAccess, "other", g))
		for name, tc := range map[string]struct {
			toks []store.Token
			want error
		}{
			"duplicate token hash": {[]store.Token{newToken("fresh", store.KindRefresh, "f", g), newToken("taken", store.KindAccess, "f", g)}, store.ErrConflict},
			"hash repeated":        {[]store.Token{newToken("fresh", store.KindRefresh, "f", g), newToken("fresh", store.KindAccess, "f", g)}, store.ErrConflict},
			"NUL in token":         {[]store.Token{newToken("fresh", store.KindRefresh, "f\x00", g)}, store.ErrInvalid},
			"unknown kind":         {[]store.Token{newToken("fresh", "id_token", "f", g)}, store.ErrInvalid},
		} {
			wantErr(t, "RedeemCode("+name+")", w.s.RedeemCode(w.ctx, "code", t0(), tc.toks), tc.want)
			w.absentToken("fresh")
			got, _ := w.s.GetCode(w.ctx, "code")
			if !got.UsedAt.IsZero() {
				t.Fatalf("%s: the code was used up by a failed redemption", name)
			}
		}
		wantErr(t, "RedeemCode(valid, after the failures)", w.s.RedeemCode(w.ctx, "code", t0(), issued(g, "f", 0, 0)), nil)
	})

	run(t, "Code/concurrent_redemptions_have_exactly_one_winner", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		const goroutines, iterations = 32, 20
		for it := range iterations {
			code := w.code(newCode(fmt.Sprintf("code-%d", it), g))
			errs := race(goroutines, func(i int) error {
				return w.s.RedeemCode(w.ctx, code.Hash, at(time.Second), issued(g, fmt.Sprintf("f-%d-%d", it, i), it, i))
			})
			winner := oneWinner(t, fmt.Sprintf("iteration %d", it), errs)
			for i := range goroutines {
				for _, tok := range issued(g, "", it, i) {
					_, err := w.s.GetToken(w.ctx, tok.Hash)
					if i == winner {
						wantErr(t, "GetToken(winner's)", err, nil)
					} else {
						wantErr(t, "GetToken(loser's)", err, store.ErrNotFound)
					}
				}
			}
			got, _ := w.s.GetCode(w.ctx, code.Hash)
			if !got.UsedAt.Equal(at(time.Second)) {
				t.Fatalf("iteration %d: UsedAt = %v", it, got.UsedAt)
			}
		}
	})
}
