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

// testRevokersRace races the revocations with one another: a reused refresh
// token (RevokeFamily) while the user signs the app out (RevokeRefreshTokens)
// and revokes its grant (RevokeGrant). They lock overlapping rows, so each
// must take them in the one order (the grant first) or PostgreSQL aborts
// one for a deadlock; every call must succeed and leave nothing active.
func testRevokersRace(t *testing.T, open Opener) {
	now := at(time.Second)
	run(t, "Revocation/family_user_and_grant_revoked_at_once_all_succeed", open, func(t *testing.T, w *world) {
		c, u := w.client("c"), w.user("u")
		for it := range 30 {
			g := w.grant(newGrant(fmt.Sprintf("g-%d", it), u.ID, c.ID))
			family := fmt.Sprintf("f-%d", it)
			var toks []store.Token
			for gen := range 6 {
				rt := newToken(fmt.Sprintf("rt-%d-%d", it, gen), store.KindRefresh, family, g)
				if gen < 5 {
					rt.RotatedAt = at(time.Duration(gen) * time.Millisecond)
				}
				toks = append(toks, w.tokens(rt, newToken(fmt.Sprintf("at-%d-%d", it, gen), store.KindAccess, family, g))...)
			}
			errs := race(4, func(i int) error {
				switch i % 3 {
				case 0:
					_, err := w.s.RevokeFamily(w.ctx, family, now)
					return err
				case 1:
					_, err := w.s.RevokeRefreshTokens(w.ctx, u.ID, []string{c.ID}, now)
					return err
				default:
					return w.s.RevokeGrant(w.ctx, g.ID, now)
				}
			})
			for i, err := range errs {
				if err != nil {
					t.Fatalf("iteration %d, revoker %d: %v", it, i, err)
				}
			}
			for _, want := range toks {
				tok, err := w.s.GetToken(w.ctx, want.Hash)
				wantErr(t, "GetToken", err, nil)
				if tok.Active(now) {
					t.Fatalf("iteration %d: token %q is still active", it, tok.Hash)
				}
			}
		}
	})
}

// testConcurrentReuse replays one refresh token from many callers at once,
// as a thief and the client racing, or a retrying client, do (RFC 9700
// §4.14.2): each tries the rotation and, refused, revokes the family, the
// path of the token endpoint. Exactly one rotation wins, every other caller
// gets ErrAlreadyUsed and revokes without error (SECURITY.md C2; issue:
// losers revoking in no fixed order deadlocked on PostgreSQL), and no token
// of the family is left active.
func testConcurrentReuse(t *testing.T, open Opener) {
	now := at(time.Second)
	for _, n := range []int{16, 64} {
		run(t, fmt.Sprintf("Revocation/%d_concurrent_reuses_of_one_refresh_token_revoke_the_family", n), open, func(t *testing.T, w *world) {
			_, _, g := w.base()
			const family = "f"
			// Earlier generations make the family many rows, locked by
			// every revoker.
			var all []store.Token
			for gen := range 8 {
				rt := newToken(fmt.Sprintf("rt-gen-%d", gen), store.KindRefresh, family, g)
				if gen < 7 {
					rt.RotatedAt = at(time.Duration(gen) * time.Millisecond)
				}
				all = append(all, w.tokens(rt, newToken(fmt.Sprintf("at-gen-%d", gen), store.KindAccess, family, g))...)
			}
			current := all[len(all)-2].Hash
			var issuedAll []store.Token
			perCaller := make([][]store.Token, n)
			for i := range n {
				perCaller[i] = issued(g, family, 1000, i)
				issuedAll = append(issuedAll, perCaller[i]...)
			}
			rotated := make([]bool, n)
			errs := race(n, func(i int) error {
				err := w.s.RotateRefreshToken(w.ctx, current, now, perCaller[i])
				if err == nil {
					rotated[i] = true
					return nil
				}
				if !errors.Is(err, store.ErrAlreadyUsed) {
					return fmt.Errorf("RotateRefreshToken: %w", err)
				}
				if _, err := w.s.RevokeFamily(w.ctx, family, now); err != nil {
					return fmt.Errorf("RevokeFamily: %w", err)
				}
				return nil
			})
			winners := 0
			for i, err := range errs {
				if err != nil {
					t.Fatalf("caller %d: %v", i, err)
				}
				if rotated[i] {
					winners++
				}
			}
			if winners != 1 {
				t.Fatalf("%d rotations succeeded, want exactly 1", winners)
			}
			for _, want := range append(all, issuedAll...) {
				tok, err := w.s.GetToken(w.ctx, want.Hash)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				wantErr(t, "GetToken", err, nil)
				if tok.Active(now) {
					t.Fatalf("token %q of the reused family is still active", tok.Hash)
				}
			}
		})
	}
}
