package token

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// TestSystemSecretRotation_KeysSealedWithThePreviousSecret: a node given
// the new secret and the previous one opens the keys the previous sealed
// and verifies what they signed; Reseal seals them under the new secret,
// after which the new secret alone opens them, the same keys, and a
// second Reseal has nothing to do.
func TestSystemSecretRotation_KeysSealedWithThePreviousSecret(t *testing.T) {
	st, oldKey, newKey, clk := newMemKeyStore(), newSealKey(t), newSealKey(t), newClock()
	before, err := NewKeys(t.Context(), KeysOptions{Store: st, SealKey: oldKey, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok := mustSign(t, before, testClaims(clk.Now()))

	if _, err := NewKeys(t.Context(), KeysOptions{Store: st, SealKey: newKey, Now: clk.Now}); err == nil ||
		!strings.Contains(err.Error(), "system secret") {
		t.Fatalf("the new secret alone opened the old keys: %v", err)
	}
	during, err := NewKeys(t.Context(), KeysOptions{Store: st, SealKey: newKey, PreviousSealKeys: [][]byte{oldKey}, Now: clk.Now})
	if err != nil {
		t.Fatalf("new secret with the previous one: %v", err)
	}
	var c AccessClaims
	if err := during.Verify(tok, TypeAccessToken, &c); err != nil {
		t.Fatalf("a token of the old key no longer verifies: %v", err)
	}
	if st.count() != 1 {
		t.Fatalf("the rotation generated keys: %d stored", st.count())
	}
	if _, err := Rotate(t.Context(), st, newKey, ES256, clk.Now(), 0, time.Hour); err == nil || !strings.Contains(err.Error(), "keys reseal") {
		t.Fatalf("rotation before reseal: %v", err)
	}

	row := onlyKey(t, st)
	n, err := Reseal(t.Context(), st, newKey, [][]byte{oldKey})
	if err != nil || n != 1 {
		t.Fatalf("Reseal = %d, %v; want 1 key", n, err)
	}
	resealed := onlyKey(t, st)
	if bytes.Equal(resealed.Sealed, row.Sealed) || resealed.ID != row.ID || !bytes.Equal(resealed.PublicJWK, row.PublicJWK) {
		t.Fatal("Reseal did not seal the same key again")
	}
	after, err := NewKeys(t.Context(), KeysOptions{Store: st, SealKey: newKey, Now: clk.Now})
	if err != nil {
		t.Fatalf("the new secret alone after Reseal: %v", err)
	}
	if err := after.Verify(tok, TypeAccessToken, &c); err != nil {
		t.Fatalf("a token of the old key no longer verifies after Reseal: %v", err)
	}
	assertSameSigner(t, before, after)
	if n, err := Reseal(t.Context(), st, newKey, [][]byte{oldKey}); err != nil || n != 0 {
		t.Fatalf("a second Reseal = %d, %v; want nothing to do", n, err)
	}
}

// TestSystemSecretRotation_ResealRefusesKeysNoSecretOpens: a key that
// neither secret opens is named, and nothing is written for it.
func TestSystemSecretRotation_ResealRefusesKeysNoSecretOpens(t *testing.T) {
	st, sealKey, clk := newMemKeyStore(), newSealKey(t), newClock()
	if _, err := NewKeys(t.Context(), KeysOptions{Store: st, SealKey: sealKey, Now: clk.Now}); err != nil {
		t.Fatal(err)
	}
	row := onlyKey(t, st)
	n, err := Reseal(t.Context(), st, newSealKey(t), [][]byte{newSealKey(t)})
	if err == nil || n != 0 || !strings.Contains(err.Error(), row.ID) {
		t.Fatalf("Reseal = %d, %v; want an error naming %s", n, err, row.ID)
	}
	if !bytes.Equal(onlyKey(t, st).Sealed, row.Sealed) {
		t.Fatal("Reseal wrote a key it could not open")
	}
}

// onlyKey returns the store's one key.
func onlyKey(t *testing.T, st *memKeyStore) store.SigningKey {
	t.Helper()
	rows, err := st.ListSigningKeys(t.Context())
	if err != nil || len(rows) != 1 {
		t.Fatalf("the store holds %d keys (%v), want 1", len(rows), err)
	}
	return rows[0]
}
