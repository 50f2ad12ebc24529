package secret

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

func testSealKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, SealKeyLen)
	rand.Read(k)
	return k
}

// TestSeal_RoundTrip: what Seal makes, Open gives back, for any plaintext
// length; the plaintext does not appear in the sealed form and each seal
// uses a fresh nonce.
func TestSeal_RoundTrip(t *testing.T) {
	key := testSealKey(t)
	ad := []byte("latchkey/signing-key\x00kid-1\x00ES256")
	for _, plain := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("private key material "), 200)} {
		sealed, err := Seal(key, plain, ad)
		if err != nil {
			t.Fatalf("Seal(%d bytes): %v", len(plain), err)
		}
		if len(sealed) != len(plain)+sealOverhead {
			t.Errorf("Seal(%d bytes) length = %d, want %d (nonce, ciphertext, tag)", len(plain), len(sealed), len(plain)+sealOverhead)
		}
		if len(plain) > 4 && bytes.Contains(sealed, plain[:5]) {
			t.Errorf("sealed form contains the plaintext")
		}
		got, err := Open(key, sealed, ad)
		if err != nil {
			t.Fatalf("Open(Seal(%d bytes)): %v", len(plain), err)
		}
		if !bytes.Equal(got, plain) {
			t.Errorf("Open(Seal(p)) = %q, want %q", got, plain)
		}
		again, _ := Seal(key, plain, ad)
		if bytes.Equal(again[:12], sealed[:12]) || bytes.Equal(again, sealed) {
			t.Errorf("two seals of one plaintext share a nonce")
		}
	}
}

// TestSeal_Rejections: any change to the sealed bytes, the key or the
// additional data makes Open fail with ErrOpen, never return altered data.
func TestSeal_Rejections(t *testing.T) {
	key := testSealKey(t)
	ad := []byte("kid-1")
	plain := []byte("the private key")
	sealed, err := Seal(key, plain, ad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	otherKey := testSealKey(t)
	tests := []struct {
		name       string
		key, s, ad []byte
	}{
		{"tampered_nonce", key, flip(0), ad},
		{"tampered_ciphertext", key, flip(12), ad},
		{"tampered_tag", key, flip(len(sealed) - 1), ad},
		{"truncated", key, sealed[:len(sealed)-1], ad},
		{"shorter_than_overhead", key, sealed[:sealOverhead-1], ad},
		{"empty", key, nil, ad},
		{"appended_byte", key, append(bytes.Clone(sealed), 0), ad},
		{"wrong_additional_data", key, sealed, []byte("kid-2")},
		{"missing_additional_data", key, sealed, nil},
		{"wrong_key", otherKey, sealed, ad},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Open(tc.key, tc.s, tc.ad)
			if !errors.Is(err, ErrOpen) {
				t.Errorf("Open = %q, %v; want ErrOpen", got, err)
			}
			if got != nil {
				t.Errorf("Open returned data on failure: %q", got)
			}
		})
	}
}

// TestSeal_KeyLength: only 32-byte keys (AES-256) are accepted; a short key
// is a programming error reported as such, not as ErrOpen.
func TestSeal_KeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		key := make([]byte, n)
		if _, err := Seal(key, []byte("x"), nil); err == nil {
			t.Errorf("Seal with a %d-byte key succeeded", n)
		}
		_, err := Open(key, make([]byte, 64), nil)
		if err == nil || errors.Is(err, ErrOpen) {
			t.Errorf("Open with a %d-byte key = %v, want a key-length error", n, err)
		}
	}
}
