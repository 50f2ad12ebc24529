package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// testRefreshKept covers refreshes that keep their refresh token (no
// rotation, as the FAPI 2.0 profile asks): new access tokens are stored
// only while the refresh token and its grant are active.
func testRefreshKept(t *testing.T, open Opener) {
	run(t, "RefreshKept/issues_while_the_refresh_token_is_active_and_leaves_it_so", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		rt := w.tokens(newToken("rt", store.KindRefresh, "f", g))[0]
		for i := range 3 {
			at := newToken(fmt.Sprintf("kept-%d", i), store.KindAccess, "f", g)
			wantErr(t, "IssueForRefreshToken", w.s.IssueForRefreshToken(w.ctx, "rt", t0().Add(time.Duration(i)*time.Minute), []store.Token{at}), nil)
			same(t, "issued access token", w.token(at.Hash), at)
		}
		same(t, "the refresh token, unchanged", w.token("rt"), rt)
		// It still rotates for a client that rotates.
		wantErr(t, "RotateRefreshToken", w.s.RotateRefreshToken(w.ctx, "rt", at(5*time.Minute), issued(g, "f", 0, 0)), nil)
	})

	run(t, "RefreshKept/refused_once_the_token_or_grant_is_gone", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		now := at(time.Minute)
		expired := newToken("expired", store.KindRefresh, "f", g)
		expired.ExpiresAt = now
		w.tokens(expired, newToken("revoked", store.KindRefresh, "f", g), newToken("rotated", store.KindRefresh, "f", g),
			newToken("access", store.KindAccess, "f", g), newToken("of-revoked-grant", store.KindRefresh, "f2", g))
		wantErr(t, "RevokeToken", w.s.RevokeToken(w.ctx, "revoked", t0()), nil)
		wantErr(t, "RotateRefreshToken", w.s.RotateRefreshToken(w.ctx, "rotated", t0(), nil), nil)
		for i, tc := range []struct {
			name, hash string
			want       error
		}{
			{"expired", "expired", store.ErrAlreadyUsed},
			{"revoked", "revoked", store.ErrAlreadyUsed},
			{"rotated", "rotated", store.ErrAlreadyUsed},
			{"an access token", "access", store.ErrAlreadyUsed},
			{"unknown", "nope", store.ErrNotFound},
			{"invalid", "rt\x00", store.ErrNotFound},
		} {
			hash := fmt.Sprintf("refused-%d", i)
			wantErr(t, "IssueForRefreshToken("+tc.name+")", w.s.IssueForRefreshToken(w.ctx, tc.hash, now, []store.Token{newToken(hash, store.KindAccess, "f", g)}), tc.want)
			w.absentToken(hash)
		}
		wantErr(t, "RevokeGrant", w.s.RevokeGrant(w.ctx, g.ID, now), nil)
		wantErr(t, "IssueForRefreshToken(grant revoked)",
			w.s.IssueForRefreshToken(w.ctx, "of-revoked-grant", now, []store.Token{newToken("after-grant", store.KindAccess, "f2", g)}), store.ErrAlreadyUsed)
		w.absentToken("after-grant")
	})

	run(t, "RefreshKept/a_family_revoked_concurrently_leaves_no_live_access_token", open, func(t *testing.T, w *world) {
		// Refreshes race a revocation of the family: whatever the order,
		// every access token written is revoked with it afterwards.
		_, _, g := w.base()
		w.tokens(newToken("rt", store.KindRefresh, "f", g))
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				_ = w.s.IssueForRefreshToken(w.ctx, "rt", at(time.Second), []store.Token{newToken(fmt.Sprintf("race-%d", i), store.KindAccess, "f", g)})
			})
		}
		var revokeErr error
		wg.Go(func() { _, revokeErr = w.s.RevokeFamily(w.ctx, "f", at(time.Second)) })
		wg.Wait()
		wantErr(t, "RevokeFamily", revokeErr, nil)
		for i := range 8 {
			if tok, err := w.s.GetToken(w.ctx, fmt.Sprintf("race-%d", i)); err == nil && tok.RevokedAt.IsZero() {
				t.Fatalf("race-%d outlived the revocation of its family", i)
			}
		}
	})
}
