package storetest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Calls of UseOnce to one (scope, id) use non-decreasing times: a backend
// may purge, at any call, records expired at that call's now.

// incompressible returns n bytes of ASCII without repetitions that a
// compressor could shorten, so that an index must hold all n bytes.
func incompressible(seed uint64, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	r := rand.New(rand.NewPCG(seed, 0x6c61746368))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func testReplay(t *testing.T, open Opener) {
	run(t, "Replay/second_use_before_expiry_is_ErrAlreadyUsed", open, func(t *testing.T, w *world) {
		wantErr(t, "UseOnce", w.s.UseOnce(w.ctx, "client_assertion:c", "jti-1", at(5*time.Minute), t0()), nil)
		for _, now := range []time.Time{t0(), at(time.Minute), at(5*time.Minute - time.Microsecond)} {
			err := w.s.UseOnce(w.ctx, "client_assertion:c", "jti-1", at(10*time.Minute), now)
			wantErr(t, "UseOnce(again at "+now.String()+")", err, store.ErrAlreadyUsed)
		}
		// A refused use does not extend the record: it still ends at 5 min.
		wantErr(t, "UseOnce(at expiry)", w.s.UseOnce(w.ctx, "client_assertion:c", "jti-1", at(6*time.Minute), at(5*time.Minute)), nil)
	})

	run(t, "Replay/reuse_after_expiry_succeeds_and_records_anew", open, func(t *testing.T, w *world) {
		const scope, id = "dpop", "proof-" + unicode
		wantErr(t, "UseOnce", w.s.UseOnce(w.ctx, scope, id, at(time.Minute), t0()), nil)
		// Expired at exactly expiresAt.
		wantErr(t, "UseOnce(at expiry)", w.s.UseOnce(w.ctx, scope, id, at(3*time.Minute), at(time.Minute)), nil)
		wantErr(t, "UseOnce(before the new expiry)", w.s.UseOnce(w.ctx, scope, id, at(time.Hour), at(3*time.Minute-time.Microsecond)), store.ErrAlreadyUsed)
		wantErr(t, "UseOnce(long after)", w.s.UseOnce(w.ctx, scope, id, at(49*time.Hour), at(48*time.Hour)), nil)
		wantErr(t, "UseOnce(again)", w.s.UseOnce(w.ctx, scope, id, at(50*time.Hour), at(48*time.Hour)), store.ErrAlreadyUsed)
	})

	run(t, "Replay/scopes_and_ids_are_independent_and_exact", open, func(t *testing.T, w *world) {
		used := [][2]string{{"a", "x"}, {"ab", "c"}, {"", "x"}, {"a", ""}}
		for _, k := range used {
			wantErr(t, fmt.Sprintf("UseOnce(%q, %q)", k[0], k[1]), w.s.UseOnce(w.ctx, k[0], k[1], at(time.Hour), t0()), nil)
		}
		for _, k := range [][2]string{{"b", "x"}, {"a", "y"}, {"A", "x"}, {"a", "X"}, {"a", "x "}, {"a ", "x"},
			{"a", "bc"}, {"abc", ""}, {"", "ax"}, {"", ""}, {"é", "x"}} {
			wantErr(t, fmt.Sprintf("UseOnce(%q, %q)", k[0], k[1]), w.s.UseOnce(w.ctx, k[0], k[1], at(time.Hour), t0()), nil)
		}
		for _, k := range used {
			wantErr(t, fmt.Sprintf("UseOnce(%q, %q) again", k[0], k[1]), w.s.UseOnce(w.ctx, k[0], k[1], at(time.Hour), t0()), store.ErrAlreadyUsed)
		}
	})

	run(t, "Replay/long_scope_and_id_are_kept_whole", open, func(t *testing.T, w *world) {
		// About 1000 bytes each, so the pair is about 2000 bytes in the index.
		scope, id := "s:"+incompressible(1, 1000), incompressible(2, 1000)+"é"
		wantErr(t, "UseOnce", w.s.UseOnce(w.ctx, scope, id, at(time.Hour), t0()), nil)
		wantErr(t, "UseOnce(again)", w.s.UseOnce(w.ctx, scope, id, at(time.Hour), t0()), store.ErrAlreadyUsed)
		// A different last byte is a different identifier.
		wantErr(t, "UseOnce(other id)", w.s.UseOnce(w.ctx, scope, id[:len(id)-2]+"e", at(time.Hour), t0()), nil)
	})

	run(t, "Replay/values_it_cannot_store_are_ErrInvalid_and_nothing_recorded", open, func(t *testing.T, w *world) {
		for name, k := range map[string][2]string{
			"NUL scope":           {"s\x00", "x"},
			"NUL id":              {"s", "x\x00"},
			"invalid UTF-8 scope": {"\xff", "x"},
			"invalid UTF-8 id":    {"s", "x\xfe"},
			"64 KiB scope":        {big(), "x"},
			"64 KiB id":           {"s", big()},
		} {
			wantErr(t, "UseOnce("+name+")", w.s.UseOnce(w.ctx, k[0], k[1], at(time.Hour), t0()), store.ErrInvalid)
		}
		// A record without an expiry could never be purged.
		wantErr(t, "UseOnce(zero expiresAt)", w.s.UseOnce(w.ctx, "s", "zero", time.Time{}, t0()), store.ErrInvalid)
		wantErr(t, "UseOnce(zero now)", w.s.UseOnce(w.ctx, "s", "zero", at(time.Hour), time.Time{}), store.ErrInvalid)
		wantErr(t, "UseOnce(after the refused ones)", w.s.UseOnce(w.ctx, "s", "zero", at(time.Hour), t0()), nil)
		wantErr(t, "UseOnce(valid)", w.s.UseOnce(w.ctx, "s", "x", at(time.Hour), t0()), nil)
	})

	const racers, iterations = 32, 10

	run(t, "Replay/exactly_one_of_32_concurrent_uses_succeeds", open, func(t *testing.T, w *world) {
		for it := range iterations {
			id := fmt.Sprintf("jti-%d", it)
			now := at(time.Duration(it) * time.Second)
			errs := race(racers, func(int) error {
				return w.s.UseOnce(w.ctx, "client_assertion:c", id, now.Add(time.Minute), now)
			})
			oneWinner(t, fmt.Sprintf("iteration %d", it), errs)
			wantErr(t, "UseOnce(after the race)", w.s.UseOnce(w.ctx, "client_assertion:c", id, now.Add(time.Hour), now), store.ErrAlreadyUsed)
		}
	})

	run(t, "Replay/exactly_one_of_32_concurrent_reuses_of_an_expired_record_succeeds", open, func(t *testing.T, w *world) {
		const scope, id = "dpop", "reused"
		for it := range iterations {
			// Each iteration starts after the previous record expired.
			now := at(time.Duration(it) * time.Hour)
			if it == 0 {
				wantErr(t, "UseOnce(first)", w.s.UseOnce(w.ctx, scope, id, now.Add(-time.Minute), now.Add(-time.Hour)), nil)
			}
			errs := race(racers, func(i int) error {
				// Racers ask for different expiries; the winner's is kept.
				return w.s.UseOnce(w.ctx, scope, id, now.Add(time.Minute+time.Duration(i)*time.Second), now)
			})
			winner := oneWinner(t, fmt.Sprintf("iteration %d", it), errs)
			until := now.Add(time.Minute + time.Duration(winner)*time.Second)
			wantErr(t, "UseOnce(before the winner's expiry)", w.s.UseOnce(w.ctx, scope, id, now.Add(time.Hour), until.Add(-time.Microsecond)), store.ErrAlreadyUsed)
		}
	})

	run(t, "Replay/concurrent_uses_of_different_ids_all_succeed", open, func(t *testing.T, w *world) {
		errs := race(racers, func(i int) error {
			scope := "s" + strings.Repeat("!", i%2)
			return w.s.UseOnce(w.ctx, scope, fmt.Sprintf("id-%d", i), at(time.Minute), t0())
		})
		for i, err := range errs {
			wantErr(t, fmt.Sprintf("UseOnce(id-%d)", i), err, nil)
		}
	})
}
