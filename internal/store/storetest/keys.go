package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// allBytes is every byte value, twice, in both directions: binary that is
// neither UTF-8 nor free of NULs, which a text column would refuse or alter.
func allBytes() []byte {
	b := make([]byte, 0, 4*256)
	for range 2 {
		for i := range 256 {
			b = append(b, byte(i))
		}
		for i := range 256 {
			b = append(b, byte(255-i))
		}
	}
	return b
}

// signingKey returns a key with every field set (not stored).
func signingKey(id string, activeAt time.Time) store.SigningKey {
	return store.SigningKey{
		ID:        id,
		Algorithm: "ES256",
		Sealed:    append([]byte("sealed:"+id+":"), allBytes()...),
		PublicJWK: []byte(`{"kty":"EC","crv":"P-256","kid":"` + id + `","x":"…","y":"` + unicode + `"}`),
		CreatedAt: activeAt.Add(-time.Hour),
		ActiveAt:  activeAt,
	}
}

// listKeys returns every key, failing the test on an error.
func (w *world) listKeys() []store.SigningKey {
	w.t.Helper()
	keys, err := w.s.ListSigningKeys(w.ctx)
	wantErr(w.t, "ListSigningKeys", err, nil)
	return keys
}

// keyIDs returns the ids of keys, space-separated.
func keyIDs(keys []store.SigningKey) string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return strings.Join(ids, " ")
}

func testKeys(t *testing.T, open Opener) {
	run(t, "Key/round_trip_keeps_every_field_and_every_byte", open, func(t *testing.T, w *world) {
		if keys := w.listKeys(); len(keys) != 0 {
			t.Fatalf("empty store lists %d keys", len(keys))
		}
		want := store.SigningKey{
			ID:        "kid-" + unicode,
			Algorithm: "EdDSA",
			Sealed:    append(allBytes(), []byte(big())...),
			PublicJWK: []byte(`{"kty":"OKP","crv":"Ed25519","x":"` + unicode + `"}` + "\x00\xff"),
			CreatedAt: at(-time.Hour + time.Microsecond),
			ActiveAt:  t0(),
			RetireAt:  at(30 * 24 * time.Hour),
		}
		wantErr(t, "CreateSigningKey", w.s.CreateSigningKey(w.ctx, want), nil)
		keys := w.listKeys()
		if len(keys) != 1 {
			t.Fatalf("ListSigningKeys returned %d keys, want 1", len(keys))
		}
		same(t, "key", keys[0], want)
	})

	run(t, "Key/empty_bytes_and_zero_times_round_trip_as_nil_and_zero", open, func(t *testing.T, w *world) {
		for _, k := range []store.SigningKey{
			{ID: "nil", Algorithm: "RS256"},
			{ID: "empty", Algorithm: "RS256", Sealed: []byte{}, PublicJWK: []byte{}},
		} {
			wantErr(t, "CreateSigningKey("+k.ID+")", w.s.CreateSigningKey(w.ctx, k), nil)
		}
		keys := w.listKeys()
		if got := keyIDs(keys); got != "empty nil" {
			t.Fatalf("ListSigningKeys = %q, want %q", got, "empty nil")
		}
		for _, k := range keys {
			same(t, "key "+k.ID, k, store.SigningKey{ID: k.ID, Algorithm: "RS256"})
			if k.Sealed != nil || k.PublicJWK != nil {
				t.Fatalf("key %q: empty bytes must come back nil, got %#v %#v", k.ID, k.Sealed, k.PublicJWK)
			}
		}
	})

	run(t, "Key/returned_bytes_are_the_caller's_own", open, func(t *testing.T, w *world) {
		want := signingKey("k", t0())
		wantErr(t, "CreateSigningKey", w.s.CreateSigningKey(w.ctx, want), nil)
		first := w.listKeys()
		first[0].Sealed[0] ^= 0xff
		first[0].PublicJWK[0] ^= 0xff
		same(t, "key listed again", w.listKeys()[0], want)
	})

	run(t, "Key/duplicate_id_is_ErrConflict", open, func(t *testing.T, w *world) {
		first := signingKey("k", t0())
		wantErr(t, "CreateSigningKey", w.s.CreateSigningKey(w.ctx, first), nil)
		second := signingKey("k", at(time.Hour))
		second.Algorithm = "RS256"
		wantErr(t, "CreateSigningKey(duplicate)", w.s.CreateSigningKey(w.ctx, second), store.ErrConflict)
		keys := w.listKeys()
		if len(keys) != 1 {
			t.Fatalf("ListSigningKeys returned %d keys, want 1", len(keys))
		}
		same(t, "key after the refused duplicate", keys[0], first)
	})

	run(t, "Key/NUL_byte_invalid_UTF8_or_64KiB_id_is_ErrInvalid_and_nothing_stored", open, func(t *testing.T, w *world) {
		for name, k := range map[string]store.SigningKey{
			"NUL id":               {ID: "k\x00", Algorithm: "ES256"},
			"invalid UTF-8 id":     {ID: "k\xff", Algorithm: "ES256"},
			"64 KiB id":            {ID: big(), Algorithm: "ES256"},
			"NUL algorithm":        {ID: "k", Algorithm: "ES256\x00"},
			"invalid UTF-8 algor.": {ID: "k", Algorithm: "\xfe"},
		} {
			wantErr(t, "CreateSigningKey("+name+")", w.s.CreateSigningKey(w.ctx, k), store.ErrInvalid)
		}
		if keys := w.listKeys(); len(keys) != 0 {
			t.Fatalf("refused keys were stored: %q", keyIDs(keys))
		}
	})

	run(t, "Key/list_is_newest_ActiveAt_first_then_by_id", open, func(t *testing.T, w *world) {
		for _, k := range []store.SigningKey{
			signingKey("old", t0()),
			signingKey("newest", at(48*time.Hour)),
			signingKey("mid-b", at(time.Hour)),
			signingKey("mid-a", at(time.Hour)),
			signingKey("mid-B", at(time.Hour)),
			signingKey("mid-é", at(time.Hour)),
			signingKey("just-after-mid", at(time.Hour+time.Microsecond)),
			{ID: "never-active", Algorithm: "ES256"},
			signingKey("before-epoch", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)),
		} {
			if k.ID == "newest" {
				// Retirement does not change the order.
				k.RetireAt = at(72 * time.Hour)
			}
			wantErr(t, "CreateSigningKey("+k.ID+")", w.s.CreateSigningKey(w.ctx, k), nil)
		}
		want := "newest just-after-mid mid-B mid-a mid-b mid-é old before-epoch never-active"
		if got := keyIDs(w.listKeys()); got != want {
			t.Fatalf("ListSigningKeys = %q, want %q", got, want)
		}
	})

	run(t, "Key/retire_sets_RetireAt_of_that_key_only", open, func(t *testing.T, w *world) {
		k := signingKey("k", t0())
		other := signingKey("other", at(-time.Hour))
		wantErr(t, "CreateSigningKey", w.s.CreateSigningKey(w.ctx, k), nil)
		wantErr(t, "CreateSigningKey(other)", w.s.CreateSigningKey(w.ctx, other), nil)
		for _, retireAt := range []time.Time{at(24 * time.Hour), at(2*time.Hour + time.Microsecond), at(-time.Minute)} {
			wantErr(t, "RetireSigningKey", w.s.RetireSigningKey(w.ctx, "k", retireAt), nil)
			k.RetireAt = retireAt
			same(t, "keys", w.listKeys(), []store.SigningKey{k, other})
		}
	})

	run(t, "Key/retire_or_delete_of_an_unknown_key_is_ErrNotFound", open, func(t *testing.T, w *world) {
		k := signingKey("k", t0())
		wantErr(t, "CreateSigningKey", w.s.CreateSigningKey(w.ctx, k), nil)
		for _, id := range []string{"K", "k ", "", "nope", "k\x00", "\xff", big()} {
			wantErr(t, "RetireSigningKey", w.s.RetireSigningKey(w.ctx, id, at(time.Hour)), store.ErrNotFound)
			wantErr(t, "DeleteSigningKey", w.s.DeleteSigningKey(w.ctx, id), store.ErrNotFound)
			wantErr(t, "ResealSigningKey", w.s.ResealSigningKey(w.ctx, id, []byte("x")), store.ErrNotFound)
		}
		same(t, "keys", w.listKeys(), []store.SigningKey{k})
	})

	run(t, "Key/reseal_replaces_the_sealed_half_of_that_key_only", open, func(t *testing.T, w *world) {
		k := signingKey("k", t0())
		other := signingKey("other", at(-time.Hour))
		wantErr(t, "CreateSigningKey", w.s.CreateSigningKey(w.ctx, k), nil)
		wantErr(t, "CreateSigningKey(other)", w.s.CreateSigningKey(w.ctx, other), nil)
		k.Sealed = []byte("sealed again\x00\xff under another secret")
		wantErr(t, "ResealSigningKey", w.s.ResealSigningKey(w.ctx, "k", k.Sealed), nil)
		same(t, "keys", w.listKeys(), []store.SigningKey{k, other})
	})

	run(t, "Key/delete_removes_that_key_only_and_twice_is_ErrNotFound", open, func(t *testing.T, w *world) {
		keep := signingKey("keep", t0())
		gone := signingKey("gone", at(time.Hour))
		wantErr(t, "CreateSigningKey", w.s.CreateSigningKey(w.ctx, keep), nil)
		wantErr(t, "CreateSigningKey", w.s.CreateSigningKey(w.ctx, gone), nil)
		wantErr(t, "DeleteSigningKey", w.s.DeleteSigningKey(w.ctx, "gone"), nil)
		same(t, "keys", w.listKeys(), []store.SigningKey{keep})
		wantErr(t, "DeleteSigningKey(again)", w.s.DeleteSigningKey(w.ctx, "gone"), store.ErrNotFound)
		wantErr(t, "RetireSigningKey(deleted)", w.s.RetireSigningKey(w.ctx, "gone", at(time.Hour)), store.ErrNotFound)
		// The id may be used again.
		wantErr(t, "CreateSigningKey(recreated)", w.s.CreateSigningKey(w.ctx, gone), nil)
		same(t, "keys", w.listKeys(), []store.SigningKey{gone, keep})
	})
}
