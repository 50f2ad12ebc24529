package token

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func jwksHas(k *Keys, kid string) bool {
	return strings.Contains(string(k.JWKS()), `"kid":"`+kid+`"`)
}

func states(t *testing.T, st store.KeyStore, now time.Time) map[string]string {
	t.Helper()
	l, err := List(context.Background(), st, now)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, k := range l {
		m[k.ID] = k.State
	}
	return m
}

// TestOIDC_10_1_1_RotationPublishesBeforeSigning follows a key through
// rotation (SECURITY.md T21, K1; conformance oidcc-server-rotate-keys): the
// new key is in the JWKS at once but signs only after publishDelay; the old
// key's tokens keep verifying and the old key stays published until every
// token it signed has expired, then leaves the JWKS and verifies nothing.
// Each algorithm rotates its own key (the default signer's here).
func TestOIDC_10_1_1_RotationPublishesBeforeSigning(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			const delay, lifetime = 5 * time.Minute, time.Hour
			f := newFixture(t, alg)
			ctx := t.Context()
			oldKid := activeKid(t, f.keys)
			before := mustSign(t, f.keys, testClaims(f.clk.Now()))

			nk, err := Rotate(ctx, f.st, f.sealKey, alg, f.clk.Now(), delay, lifetime)
			if err != nil {
				t.Fatal(err)
			}
			if nk.Algorithm != alg || !nk.CreatedAt.Equal(f.clk.Now()) || !nk.ActiveAt.Equal(f.clk.Now().Add(delay)) {
				t.Errorf("new key = %s created %v active %v; want %s created now, active now+%v", nk.Algorithm, nk.CreatedAt, nk.ActiveAt, alg, delay)
			}
			if err := f.keys.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			t.Run("VerifyNewJwksHasNewSigningKey", func(t *testing.T) {
				if !jwksHas(f.keys, nk.ID) {
					t.Errorf("the new key is not published at once:\n%s", f.keys.JWKS())
				}
			})
			t.Run("VerifyNewJwksStillHasOldSigningKey", func(t *testing.T) {
				if !jwksHas(f.keys, oldKid) {
					t.Errorf("the old key left the JWKS at rotation")
				}
			})
			t.Run("new_key_waits_for_publish_delay", func(t *testing.T) {
				if got := states(t, f.st, f.clk.Now()); got[nk.ID] != StateNext || got[oldKid] != StateActive {
					t.Errorf("states = %v, want new next, old active", got)
				}
				f.clk.Advance(delay - time.Second)
				if kid := kidOf(t, mustSign(t, f.keys, testClaims(f.clk.Now()))); kid != oldKid {
					t.Errorf("1s before ActiveAt the token is signed by %s, want the old key", kid)
				}
				f.clk.Advance(time.Second)
				if kid := kidOf(t, mustSign(t, f.keys, testClaims(f.clk.Now()))); kid != nk.ID {
					t.Errorf("at ActiveAt the token is signed by %s, want the new key", kid)
				}
				if got := states(t, f.st, f.clk.Now()); got[nk.ID] != StateActive || got[oldKid] != StatePublished {
					t.Errorf("states = %v, want new active, old published", got)
				}
			})
			t.Run("old_tokens_verify_until_old_key_retires", func(t *testing.T) {
				row, _ := f.st.get(oldKid)
				if want := nk.ActiveAt.Add(lifetime); !row.RetireAt.Equal(want) {
					t.Fatalf("old key RetireAt = %v, want new ActiveAt + max lifetime = %v", row.RetireAt, want)
				}
				accepts(t, f.keys, before, TypeAccessToken)
				f.clk.Advance(row.RetireAt.Sub(f.clk.Now()) - time.Second)
				accepts(t, f.keys, before, TypeAccessToken)
				if !jwksHas(f.keys, oldKid) {
					t.Error("the old key left the JWKS before RetireAt")
				}
				f.clk.Advance(time.Second)
				// No reload needed: RetireAt is in the loaded set.
				if jwksHas(f.keys, oldKid) {
					t.Error("the old key is still published at RetireAt")
				}
				rejects(t, f.keys, before, TypeAccessToken, "retired kid")
				if !jwksHas(f.keys, nk.ID) {
					t.Error("the new key left the JWKS")
				}
				if got := states(t, f.st, f.clk.Now()); got[oldKid] != StateRetired {
					t.Errorf("old key state = %s, want retired", got[oldKid])
				}
				if err := f.keys.Reload(ctx); err != nil {
					t.Fatal(err)
				}
				if f.keys.set.Load().byID[oldKid] != nil {
					t.Error("the retired key is still loaded after Reload")
				}
			})
		})
	}
}

// TestK2_MultiNodeRotation: node A rotates; node B picks the new key up at
// its next reload, and until then signs with a key A still publishes and
// verifies; after ActiveAt both sign with the new key. Zero failures.
func TestK2_MultiNodeRotation(t *testing.T) {
	f := newFixture(t, ES256)
	a, b := f.keys, f.open(t, ES256)
	ctx := t.Context()
	oldKid := activeKid(t, a)

	nk, err := Rotate(ctx, f.st, f.sealKey, ES256, f.clk.Now(), 30*time.Second, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	crossVerify := func(t *testing.T, wantKid string) {
		t.Helper()
		for _, n := range []struct {
			name     string
			signer   *Keys
			verifier *Keys
		}{{"a_to_b", a, b}, {"b_to_a", b, a}} {
			tok := mustSign(t, n.signer, testClaims(f.clk.Now()))
			if kid := kidOf(t, tok); kid != wantKid {
				t.Errorf("%s: signed by %s, want %s", n.name, kid, wantKid)
			}
			accepts(t, n.verifier, tok, TypeAccessToken)
		}
	}
	t.Run("before_b_reloads", func(t *testing.T) {
		if jwksHas(b, nk.ID) {
			t.Fatal("b knows the key before reloading")
		}
		if !jwksHas(a, nk.ID) {
			t.Error("a does not publish the new key")
		}
		crossVerify(t, oldKid)
	})
	f.clk.Advance(DefaultReloadInterval)
	if err := b.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	t.Run("after_b_reloads", func(t *testing.T) {
		if !reflect.DeepEqual(a.JWKS(), b.JWKS()) {
			t.Errorf("nodes publish different JWKS")
		}
		crossVerify(t, oldKid)
	})
	f.clk.Advance(30 * time.Second)
	t.Run("after_active_at", func(t *testing.T) { crossVerify(t, nk.ID) })
}

// TestRotate_RetirementRules covers the older keys' RetireAt.
func TestRotate_RetirementRules(t *testing.T) {
	ctx := context.Background()
	t.Run("earlier_retirement_kept", func(t *testing.T) {
		f := newFixture(t, ES256)
		kid := activeKid(t, f.keys)
		early := f.clk.Now().Add(10 * time.Minute)
		f.st.RetireSigningKey(ctx, kid, early)
		if _, err := Rotate(ctx, f.st, f.sealKey, ES256, f.clk.Now(), 0, time.Hour); err != nil {
			t.Fatal(err)
		}
		if row, _ := f.st.get(kid); !row.RetireAt.Equal(early) {
			t.Errorf("RetireAt = %v, want the earlier %v kept", row.RetireAt, early)
		}
	})
	t.Run("later_retirement_shortened", func(t *testing.T) {
		f := newFixture(t, ES256)
		kid := activeKid(t, f.keys)
		f.st.RetireSigningKey(ctx, kid, f.clk.Now().Add(100*time.Hour))
		nk, err := Rotate(ctx, f.st, f.sealKey, ES256, f.clk.Now(), time.Minute, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if row, _ := f.st.get(kid); !row.RetireAt.Equal(nk.ActiveAt.Add(time.Hour)) {
			t.Errorf("RetireAt = %v, want %v", row.RetireAt, nk.ActiveAt.Add(time.Hour))
		}
	})
	t.Run("pending_key_outranked_never_signs", func(t *testing.T) {
		f := newFixture(t, ES256)
		f.clk.Advance(time.Second)
		slow, err := Rotate(ctx, f.st, f.sealKey, ES256, f.clk.Now(), time.Hour, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		fast, err := Rotate(ctx, f.st, f.sealKey, ES256, f.clk.Now(), 0, 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if row, _ := f.st.get(slow.ID); !row.RetireAt.Equal(fast.ActiveAt) {
			t.Errorf("outranked pending key RetireAt = %v, want the new key's ActiveAt %v", row.RetireAt, fast.ActiveAt)
		}
		if err := f.keys.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		for _, step := range []time.Duration{0, time.Hour, 3 * time.Hour} {
			f.clk.Advance(step)
			if kid := kidOf(t, mustSign(t, f.keys, testClaims(f.clk.Now()))); kid != fast.ID {
				t.Errorf("after %v the signer is %s, want the latest rotation's key %s", step, kid, fast.ID)
			}
		}
	})
	t.Run("second_rotation_retires_both", func(t *testing.T) {
		f := newFixture(t, ES256)
		first := activeKid(t, f.keys)
		k1, _ := Rotate(ctx, f.st, f.sealKey, ES256, f.clk.Now(), time.Minute, time.Hour)
		f.clk.Advance(2 * time.Minute)
		k2, err := Rotate(ctx, f.st, f.sealKey, ES256, f.clk.Now(), time.Minute, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		want := k2.ActiveAt.Add(time.Hour)
		if r, _ := f.st.get(first); !r.RetireAt.Equal(k1.ActiveAt.Add(time.Hour)) {
			t.Errorf("first key RetireAt = %v, want kept at %v", r.RetireAt, k1.ActiveAt.Add(time.Hour))
		}
		if r, _ := f.st.get(k1.ID); !r.RetireAt.Equal(want) {
			t.Errorf("second key RetireAt = %v, want %v", r.RetireAt, want)
		}
		if r, _ := f.st.get(k2.ID); !r.RetireAt.IsZero() {
			t.Errorf("the new key has RetireAt %v", r.RetireAt)
		}
	})
}

// TestRotate_Refusals: bad arguments and a seal key that does not open the
// stored keys change nothing.
func TestRotate_Refusals(t *testing.T) {
	f := newFixture(t, ES256)
	now := f.clk.Now()
	tests := []struct {
		name     string
		sealKey  []byte
		alg      string
		delay    time.Duration
		lifetime time.Duration
		want     string
	}{
		{"negative_delay", f.sealKey, ES256, -time.Second, time.Hour, "negative"},
		{"zero_lifetime", f.sealKey, ES256, 0, 0, "positive"},
		{"unknown_algorithm", f.sealKey, "HS256", 0, time.Hour, "unknown"},
		{"wrong_seal_key", newSealKey(t), ES256, 0, time.Hour, "system secret"},
		{"short_seal_key", f.sealKey[:16], ES256, 0, time.Hour, "system secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Rotate(t.Context(), f.st, tc.sealKey, tc.alg, now, tc.delay, tc.lifetime)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Rotate = %v, want an error containing %q", err, tc.want)
			}
			if n := f.st.count(); n != 1 {
				t.Errorf("store has %d keys after a refused rotation", n)
			}
		})
	}
	t.Run("default_algorithm", func(t *testing.T) {
		nk, err := Rotate(t.Context(), f.st, f.sealKey, "", now, 0, time.Hour)
		if err != nil || nk.Algorithm != ES256 {
			t.Errorf("Rotate(\"\") = %s, %v; want ES256", nk.Algorithm, err)
		}
	})
}

// TestPurgeRetired: keys past RetireAt are deleted (by Rotate too); others
// are kept; a key purged concurrently is not an error.
func TestPurgeRetired(t *testing.T) {
	f := newFixture(t, ES256)
	ctx := t.Context()
	first := activeKid(t, f.keys)
	if _, err := Rotate(ctx, f.st, f.sealKey, ES256, f.clk.Now(), 0, time.Hour); err != nil {
		t.Fatal(err)
	}
	if n, err := PurgeRetired(ctx, f.st, f.clk.Now()); n != 0 || err != nil {
		t.Errorf("PurgeRetired before RetireAt = %d, %v", n, err)
	}
	f.clk.Advance(time.Hour)
	if n, err := PurgeRetired(ctx, f.st, f.clk.Now()); n != 1 || err != nil {
		t.Errorf("PurgeRetired at RetireAt = %d, %v; want 1", n, err)
	}
	if _, ok := f.st.get(first); ok {
		t.Error("the retired key is still stored")
	}
	if n := f.st.count(); n != 1 {
		t.Errorf("store has %d keys, want 1", n)
	}

	t.Run("rotate_purges", func(t *testing.T) {
		cur := states(t, f.st, f.clk.Now())
		if _, err := Rotate(ctx, f.st, f.sealKey, ES256, f.clk.Now(), 0, time.Minute); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(time.Minute)
		if _, err := Rotate(ctx, f.st, f.sealKey, ES256, f.clk.Now(), 0, time.Minute); err != nil {
			t.Fatal(err)
		}
		for id := range cur {
			if _, ok := f.st.get(id); ok {
				t.Errorf("rotation kept retired key %s", id)
			}
		}
	})
	t.Run("store_errors", func(t *testing.T) {
		bad := newMemKeyStore()
		bad.setListHook(func() (bool, error) { return false, errors.New("down") })
		if _, err := PurgeRetired(ctx, bad, f.clk.Now()); err == nil {
			t.Error("PurgeRetired succeeded with a failing store")
		}
		if _, err := List(ctx, bad, f.clk.Now()); err == nil {
			t.Error("List succeeded with a failing store")
		}
		if _, err := Rotate(ctx, bad, f.sealKey, ES256, f.clk.Now(), 0, time.Hour); err == nil {
			t.Error("Rotate succeeded with a failing store")
		}
	})
}

// TestList_StatesPerAlgorithm: List groups keys by algorithm (RS256,
// ES256, EdDSA), orders each group as Keys does and names the states
// within it: each algorithm has its own active key, the one Keys signs
// that algorithm with, and an algorithm whose keys are all pending has
// none.
func TestList_StatesPerAlgorithm(t *testing.T) {
	f := newFixture(t, ES256)
	ctx := t.Context()
	now := f.clk.Now()
	initial := activeKid(t, f.keys) // ES256, created and active at now
	gen := func(alg string, created, active, retire time.Duration) store.SigningKey {
		k, err := GenerateKey(alg, f.sealKey, now.Add(created), now.Add(active))
		if err != nil {
			t.Fatal(err)
		}
		if retire != 0 {
			k.RetireAt = now.Add(retire)
		}
		if err := f.st.CreateSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	esRetired := gen(ES256, -3*time.Hour, -3*time.Hour, -time.Second)
	esPublished := gen(ES256, -2*time.Hour, -2*time.Hour, time.Hour)
	esNext := gen(ES256, 0, time.Minute, 0)
	rsOld := gen(RS256, -2*time.Hour, -2*time.Hour, time.Hour)
	rsActive := gen(RS256, -time.Hour, -time.Minute, 0)
	edNext := gen(EdDSA, 0, time.Minute, 0)

	l, err := List(ctx, f.st, now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range l {
		got = append(got, k.Algorithm+" "+k.ID+"="+k.State)
	}
	want := []string{
		RS256 + " " + rsActive.ID + "=" + StateActive,
		RS256 + " " + rsOld.ID + "=" + StatePublished,
		ES256 + " " + esNext.ID + "=" + StateNext,
		ES256 + " " + initial + "=" + StateActive,
		ES256 + " " + esPublished.ID + "=" + StatePublished,
		ES256 + " " + esRetired.ID + "=" + StateRetired,
		EdDSA + " " + edNext.ID + "=" + StateNext,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List =\n%v\nwant\n%v", got, want)
	}
	if !l[1].RetireAt.Equal(rsOld.RetireAt) || !l[2].ActiveAt.Equal(esNext.ActiveAt) || !l[0].CreatedAt.Equal(rsActive.CreatedAt) {
		t.Errorf("List lost fields: %+v", l)
	}

	if err := f.keys.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	t.Run("keys_sign_with_the_listed_active_keys", func(t *testing.T) {
		if kid := activeKidOf(t, f.keys, RS256); kid != rsActive.ID {
			t.Errorf("Keys signs RS256 with %s, List says %s is active", kid, rsActive.ID)
		}
		if kid := activeKid(t, f.keys); kid != initial {
			t.Errorf("Keys signs ES256 with %s, List says %s is active", kid, initial)
		}
		if _, err := f.keys.SignWith(EdDSA, TypeIDToken, map[string]string{}); !errors.Is(err, ErrNoSigningKey) {
			t.Errorf("SignWith(EdDSA) with only a next key = %v, want ErrNoSigningKey", err)
		}
		if got := f.keys.SigningAlgorithms(); !reflect.DeepEqual(got, []string{RS256, ES256}) {
			t.Errorf("SigningAlgorithms = %v, want [RS256 ES256]", got)
		}
	})
	t.Run("unknown_algorithm_listed_last", func(t *testing.T) {
		odd := esNext
		odd.ID, odd.Algorithm = NewKeyID(), "PS256"
		if err := f.st.CreateSigningKey(ctx, odd); err != nil {
			t.Fatal(err)
		}
		l, err := List(ctx, f.st, now)
		if err != nil {
			t.Fatal(err)
		}
		if last := l[len(l)-1]; last.ID != odd.ID || last.State != StateNext {
			t.Errorf("last listed = %+v, want the PS256 key, next", last)
		}
	})
}
