package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// sealedFor stands for a successor sealed by the caller: opaque bytes,
// NUL and invalid UTF-8 included, which the store keeps exactly.
func sealedFor(s string) []byte {
	b := []byte{0, 0xff, 0xc0, 0xaf, '\n'}
	return append(b, s...)
}

// graceAccess returns an access token of family f of grant g, issued at
// now to answer a retry (not stored).
func graceAccess(hash string, g store.Grant) store.Token {
	return newToken(hash, store.KindAccess, "f", g)
}

// testRefreshGrace covers what the refresh reuse grace needs of a store:
// a rotation that keeps its successor (sealed) on the old row, and an
// issuance that succeeds only while that successor is still active.
func testRefreshGrace(t *testing.T, open Opener) {
	run(t, "RefreshGrace/rotation_keeps_the_sealed_successor_on_the_old_row", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		old := w.tokens(newToken("rt", store.KindRefresh, "f", g))[0]
		now := at(time.Minute)
		next := issued(g, "f", 0, 0)
		sealed := sealedFor("rt-0-0")
		wantErr(t, "RotateRefreshTokenWithSuccessor", w.s.RotateRefreshTokenWithSuccessor(w.ctx, "rt", now, sealed, next), nil)
		old.RotatedAt, old.Successor = now, sealed
		same(t, "rotated token", w.token("rt"), old)
		tok, _, err := w.s.GetTokenWithGrant(w.ctx, "rt")
		wantErr(t, "GetTokenWithGrant", err, nil)
		same(t, "rotated token with its grant", tok, old)
		tok, _, err = w.s.GetTokenWithUsername(w.ctx, "rt")
		wantErr(t, "GetTokenWithUsername", err, nil)
		same(t, "rotated token with its username", tok, old)
		for _, tok := range next {
			same(t, "issued token (no successor of its own)", w.token(tok.Hash), tok)
		}
		// A plain rotation keeps none, and neither does an empty one.
		w.tokens(newToken("plain", store.KindRefresh, "f", g), newToken("empty", store.KindRefresh, "f", g))
		wantErr(t, "RotateRefreshToken", w.s.RotateRefreshToken(w.ctx, "plain", now, nil), nil)
		wantErr(t, "RotateRefreshTokenWithSuccessor(empty)", w.s.RotateRefreshTokenWithSuccessor(w.ctx, "empty", now, []byte{}, nil), nil)
		for _, h := range []string{"plain", "empty"} {
			if s := w.token(h).Successor; s != nil {
				t.Fatalf("%s: Successor = %q, want nil", h, s)
			}
		}
	})

	run(t, "RefreshGrace/a_second_rotation_changes_no_successor", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		w.tokens(newToken("rt", store.KindRefresh, "f", g))
		wantErr(t, "RotateRefreshTokenWithSuccessor", w.s.RotateRefreshTokenWithSuccessor(w.ctx, "rt", t0(), sealedFor("first"), issued(g, "f", 0, 0)), nil)
		wantErr(t, "RotateRefreshTokenWithSuccessor(again)",
			w.s.RotateRefreshTokenWithSuccessor(w.ctx, "rt", at(time.Second), sealedFor("second"), issued(g, "f", 0, 1)), store.ErrAlreadyUsed)
		if s := w.token("rt").Successor; !bytes.Equal(s, sealedFor("first")) {
			t.Fatalf("Successor = %q, want the first rotation's", s)
		}
		w.absentToken("rt-0-1")
	})

	// rotated sets up rt rotated at t0+1m into rt-0-0 (with at-0-0).
	rotated := func(w *world) store.Grant {
		_, _, g := w.base()
		w.tokens(newToken("rt", store.KindRefresh, "f", g))
		if err := w.s.RotateRefreshTokenWithSuccessor(w.ctx, "rt", at(time.Minute), sealedFor("rt-0-0"), issued(g, "f", 0, 0)); err != nil {
			w.t.Fatalf("RotateRefreshTokenWithSuccessor: %v", err)
		}
		return g
	}

	run(t, "RefreshGrace/purge_clears_successors_rotated_before_its_cutoff_and_keeps_the_rows", open, func(t *testing.T, w *world) {
		g := rotated(w) // rt rotated at t0+1m
		w.tokens(newToken("rt2", store.KindRefresh, "f2", g))
		wantErr(t, "RotateRefreshTokenWithSuccessor(rt2)", w.s.RotateRefreshTokenWithSuccessor(w.ctx, "rt2", at(3*time.Minute), sealedFor("rt2-1-0"), issued(g, "f2", 1, 0)), nil)
		purge := func(successors time.Time) store.Purged {
			t.Helper()
			got, err := w.s.PurgeExpired(w.ctx, store.Purge{Expired: t0(), Successors: successors, Batch: 1})
			wantErr(t, "PurgeExpired", err, nil)
			return got
		}
		if got := purge(at(time.Minute - time.Microsecond)); got.Successors != 0 || w.token("rt").Successor == nil {
			t.Fatalf("a cutoff before the rotation cleared %d successors", got.Successors)
		}
		if got := purge(time.Time{}); got.Successors != 0 || w.token("rt").Successor == nil {
			t.Fatalf("a zero cutoff cleared %d successors", got.Successors)
		}
		if got := purge(at(time.Minute)); got.Successors != 1 {
			t.Fatalf("cleared %d successors, want rt's", got.Successors)
		}
		old := w.token("rt")
		if old.Successor != nil || old.RotatedAt.IsZero() {
			t.Fatalf("rt after the purge: %+v; want it kept, rotated, without its successor", old)
		}
		if w.token("rt2").Successor == nil {
			t.Fatal("the successor of a later rotation was cleared")
		}
		if got := purge(at(time.Hour)); got.Successors != 1 || w.token("rt2").Successor != nil {
			t.Fatalf("second purge cleared %d, want rt2's", got.Successors)
		}
		// Reuse is still detected: the rotated row stays.
		wantErr(t, "RotateRefreshToken(reused)", w.s.RotateRefreshToken(w.ctx, "rt", at(2*time.Hour), nil), store.ErrAlreadyUsed)
	})

	run(t, "RefreshGrace/issue_within_grace_stores_the_tokens_while_the_successor_is_active", open, func(t *testing.T, w *world) {
		g := rotated(w)
		at1 := graceAccess("grace-1", g)
		// rotatedSince equal to the rotation time is within the window.
		wantErr(t, "IssueWithinGrace", w.s.IssueWithinGrace(w.ctx, "rt", "rt-0-0", at(time.Minute), at(time.Minute+time.Second), []store.Token{at1}), nil)
		same(t, "issued within grace", w.token("grace-1"), at1)
		// The successor is untouched: still active, and it rotates.
		if tok := w.token("rt-0-0"); !tok.Active(at(2 * time.Minute)) {
			t.Fatalf("the successor is no longer active: %+v", tok)
		}
		wantErr(t, "RotateRefreshToken(successor)", w.s.RotateRefreshToken(w.ctx, "rt-0-0", at(2*time.Minute), issued(g, "f", 1, 0)), nil)
	})

	run(t, "RefreshGrace/issue_within_grace_is_refused_once_the_successor_or_window_is_gone", open, func(t *testing.T, w *world) {
		g := rotated(w)
		now := at(time.Minute + time.Second)
		since := at(time.Minute - 5*time.Second)
		// Tokens to point at: another family's, a revoked one, an expired one.
		other := newToken("other-family", store.KindRefresh, "f2", g)
		expired := newToken("expired", store.KindRefresh, "f", g)
		expired.ExpiresAt = now
		w.tokens(other, expired, newToken("revoked", store.KindRefresh, "f", g), newToken("unrotated", store.KindRefresh, "f", g))
		wantErr(t, "RevokeToken", w.s.RevokeToken(w.ctx, "revoked", t0()), nil)
		for i, tc := range []struct {
			name           string
			old, successor string
			since          time.Time
			want           error
		}{
			{"rotated before the window", "rt", "rt-0-0", at(time.Minute + time.Millisecond), store.ErrAlreadyUsed},
			{"successor of another family", "rt", "other-family", since, store.ErrAlreadyUsed},
			{"successor revoked", "rt", "revoked", since, store.ErrAlreadyUsed},
			{"successor expired", "rt", "expired", since, store.ErrAlreadyUsed},
			{"old token not rotated", "unrotated", "rt-0-0", since, store.ErrAlreadyUsed},
			{"old token is an access token", "at-0-0", "rt-0-0", since, store.ErrAlreadyUsed},
			{"successor is an access token", "rt", "at-0-0", since, store.ErrAlreadyUsed},
			{"unknown old token", "nope", "rt-0-0", since, store.ErrNotFound},
			{"unknown successor", "rt", "nope", since, store.ErrNotFound},
			{"invalid old token", "rt\x00", "rt-0-0", since, store.ErrNotFound},
		} {
			hash := fmt.Sprintf("refused-%d", i)
			err := w.s.IssueWithinGrace(w.ctx, tc.old, tc.successor, tc.since, now, []store.Token{graceAccess(hash, g)})
			wantErr(t, "IssueWithinGrace("+tc.name+")", err, tc.want)
			w.absentToken(hash)
		}
		// The successor used: the legitimate client moved on.
		wantErr(t, "RotateRefreshToken(successor)", w.s.RotateRefreshToken(w.ctx, "rt-0-0", now, issued(g, "f", 1, 0)), nil)
		wantErr(t, "IssueWithinGrace(successor rotated)",
			w.s.IssueWithinGrace(w.ctx, "rt", "rt-0-0", since, now, []store.Token{graceAccess("after-use", g)}), store.ErrAlreadyUsed)
		w.absentToken("after-use")
		// The old token revoked (its family ends).
		g2 := rotated2(w, g)
		wantErr(t, "RevokeToken(old)", w.s.RevokeToken(w.ctx, "rt2", now), nil)
		wantErr(t, "IssueWithinGrace(old revoked)",
			w.s.IssueWithinGrace(w.ctx, "rt2", "rt2-next", since, now, []store.Token{graceAccess("old-revoked", g2)}), store.ErrAlreadyUsed)
		w.absentToken("old-revoked")
		// The grant revoked.
		w.tokens(newToken("rt3", store.KindRefresh, "f3", g))
		wantErr(t, "RotateRefreshTokenWithSuccessor(rt3)", w.s.RotateRefreshTokenWithSuccessor(w.ctx, "rt3", at(time.Minute), sealedFor("rt3-next"),
			[]store.Token{newToken("rt3-next", store.KindRefresh, "f3", g)}), nil)
		wantErr(t, "RevokeGrant", w.s.RevokeGrant(w.ctx, g.ID, now), nil)
		wantErr(t, "IssueWithinGrace(grant revoked)",
			w.s.IssueWithinGrace(w.ctx, "rt3", "rt3-next", since, now, []store.Token{newToken("grant-revoked", store.KindAccess, "f3", g)}), store.ErrAlreadyUsed)
		w.absentToken("grant-revoked")
	})

	run(t, "RefreshGrace/concurrent_retries_within_grace_all_get_their_tokens", open, func(t *testing.T, w *world) {
		g := rotated(w)
		const n = 16
		errs := race(n, func(i int) error {
			return w.s.IssueWithinGrace(w.ctx, "rt", "rt-0-0", at(time.Minute), at(time.Minute+time.Second),
				[]store.Token{graceAccess(fmt.Sprintf("retry-%d", i), g)})
		})
		for i, err := range errs {
			wantErr(t, fmt.Sprintf("IssueWithinGrace(%d)", i), err, nil)
			w.token(fmt.Sprintf("retry-%d", i))
		}
		if tok := w.token("rt-0-0"); !tok.RotatedAt.IsZero() || !tok.RevokedAt.IsZero() {
			t.Fatalf("the successor changed: %+v", tok)
		}
	})

	run(t, "RefreshGrace/issue_within_grace_racing_a_family_revocation_leaves_nothing_active", open, func(t *testing.T, w *world) {
		_, _, g := w.base()
		const n, iterations = 16, 10
		for it := range iterations {
			fam, old, succ := fmt.Sprintf("f-%d", it), fmt.Sprintf("old-%d", it), fmt.Sprintf("succ-%d", it)
			w.tokens(newToken(old, store.KindRefresh, fam, g))
			if err := w.s.RotateRefreshTokenWithSuccessor(w.ctx, old, t0(), sealedFor(succ), []store.Token{newToken(succ, store.KindRefresh, fam, g)}); err != nil {
				t.Fatalf("rotate: %v", err)
			}
			errs := race(n, func(i int) error {
				if i == n/2 {
					_, err := w.s.RevokeFamily(w.ctx, fam, at(time.Second))
					return err
				}
				err := w.s.IssueWithinGrace(w.ctx, old, succ, t0(), at(time.Second), []store.Token{newToken(fmt.Sprintf("at-%d-%d", it, i), store.KindAccess, fam, g)})
				if errors.Is(err, store.ErrAlreadyUsed) {
					return nil
				}
				return err
			})
			for i, err := range errs {
				wantErr(t, fmt.Sprintf("iteration %d, goroutine %d", it, i), err, nil)
				tok, err := w.s.GetToken(w.ctx, fmt.Sprintf("at-%d-%d", it, i))
				if err == nil && tok.RevokedAt.IsZero() {
					t.Fatalf("iteration %d: an access token issued within grace outlived the revocation of its family", it)
				}
			}
		}
	})
}

// rotated2 sets up rt2 (family f4) rotated at t0+1m into rt2-next.
func rotated2(w *world, g store.Grant) store.Grant {
	w.t.Helper()
	w.tokens(newToken("rt2", store.KindRefresh, "f4", g))
	if err := w.s.RotateRefreshTokenWithSuccessor(w.ctx, "rt2", at(time.Minute), sealedFor("rt2-next"),
		[]store.Token{newToken("rt2-next", store.KindRefresh, "f4", g)}); err != nil {
		w.t.Fatalf("RotateRefreshTokenWithSuccessor: %v", err)
	}
	return g
}
