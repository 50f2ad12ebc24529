package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// testRevocationRaces races revocations against the operations that issue
// tokens (SECURITY.md C6): whichever commits first, no token of a revoked
// grant or family may be left active.
func testRevocationRaces(t *testing.T, open Opener) {
	const iterations = 30
	now := at(time.Second)

	// noneActive fails the test if any of the tokens exists and is active.
	noneActive := func(t *testing.T, w *world, what string, toks []store.Token) {
		t.Helper()
		for _, want := range toks {
			tok, err := w.s.GetToken(w.ctx, want.Hash)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			wantErr(t, "GetToken", err, nil)
			if tok.Active(now) {
				t.Fatalf("%s: token %q is still active", what, tok.Hash)
			}
		}
	}
	// issuedOrRefused fails the test unless err is nil or ErrAlreadyUsed.
	issuedOrRefused := func(t *testing.T, what string, err error) {
		t.Helper()
		if err != nil && !errors.Is(err, store.ErrAlreadyUsed) {
			t.Fatalf("%s: %v, want nil or ErrAlreadyUsed", what, err)
		}
	}

	run(t, "Revocation/grant_revoked_while_its_code_is_redeemed_leaves_no_active_token", open, func(t *testing.T, w *world) {
		c := w.client("c")
		u := w.user("u")
		for it := range iterations {
			g := w.grant(newGrant(fmt.Sprintf("g-%d", it), u.ID, c.ID))
			code := w.code(newCode(fmt.Sprintf("code-%d", it), g))
			toks := issued(g, fmt.Sprintf("f-%d", it), it, 0)
			errs := race(2, func(i int) error {
				if i == 0 {
					return w.s.RedeemCode(w.ctx, code.Hash, now, toks)
				}
				return w.s.RevokeGrant(w.ctx, g.ID, now)
			})
			issuedOrRefused(t, "RedeemCode", errs[0])
			wantErr(t, "RevokeGrant", errs[1], nil)
			noneActive(t, w, fmt.Sprintf("iteration %d", it), toks)
		}
	})

	run(t, "Revocation/grant_revoked_while_its_refresh_token_rotates_leaves_no_active_token", open, func(t *testing.T, w *world) {
		c := w.client("c")
		u := w.user("u")
		for it := range iterations {
			g := w.grant(newGrant(fmt.Sprintf("g-%d", it), u.ID, c.ID))
			family := fmt.Sprintf("f-%d", it)
			old := w.tokens(newToken(fmt.Sprintf("old-%d", it), store.KindRefresh, family, g))
			toks := issued(g, family, it, 0)
			errs := race(2, func(i int) error {
				if i == 0 {
					return w.s.RotateRefreshToken(w.ctx, old[0].Hash, now, toks)
				}
				return w.s.RevokeGrant(w.ctx, g.ID, now)
			})
			issuedOrRefused(t, "RotateRefreshToken", errs[0])
			wantErr(t, "RevokeGrant", errs[1], nil)
			noneActive(t, w, fmt.Sprintf("iteration %d", it), append(toks, old...))
		}
	})

	run(t, "Revocation/family_revoked_while_one_of_it_rotates_leaves_no_active_token", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		for it := range iterations {
			family := fmt.Sprintf("f-%d", it)
			old := w.tokens(newToken(fmt.Sprintf("old-%d", it), store.KindRefresh, family, g),
				newToken(fmt.Sprintf("old-at-%d", it), store.KindAccess, family, g))
			toks := issued(g, family, it, 0)
			errs := race(2, func(i int) error {
				if i == 0 {
					return w.s.RotateRefreshToken(w.ctx, old[0].Hash, now, toks)
				}
				_, err := w.s.RevokeFamily(w.ctx, family, now)
				return err
			})
			issuedOrRefused(t, "RotateRefreshToken", errs[0])
			wantErr(t, "RevokeFamily", errs[1], nil)
			noneActive(t, w, fmt.Sprintf("iteration %d", it), append(toks, old...))
		}
	})

	run(t, "Revocation/refresh_tokens_revoked_while_one_of_them_rotates_leaves_no_active_token", open, func(t *testing.T, w *world) {
		c, u, g := w.base()
		for it := range iterations {
			family := fmt.Sprintf("f-%d", it)
			old := w.tokens(newToken(fmt.Sprintf("old-%d", it), store.KindRefresh, family, g),
				newToken(fmt.Sprintf("old-at-%d", it), store.KindAccess, family, g))
			toks := issued(g, family, it, 0)
			errs := race(2, func(i int) error {
				if i == 0 {
					return w.s.RotateRefreshToken(w.ctx, old[0].Hash, now, toks)
				}
				_, err := w.s.RevokeRefreshTokens(w.ctx, u.ID, []string{c.ID}, now)
				return err
			})
			issuedOrRefused(t, "RotateRefreshToken", errs[0])
			wantErr(t, "RevokeRefreshTokens", errs[1], nil)
			noneActive(t, w, fmt.Sprintf("iteration %d", it), append(toks, old...))
		}
	})
}
