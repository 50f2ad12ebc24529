package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"testing"
)

// TestRFC7518_3_4_ECDSASignatureForm: ES256 signatures are r||s, 32 bytes
// each, left-padded: converted from every shape of DER that crypto/ecdsa
// produces (short r or s, leading zero bytes), and malformed DER refused.
func TestRFC7518_3_4_ECDSASignatureForm(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("x"))
	short := 0
	for range 2000 {
		der, err := ecdsa.SignASN1(rand.Reader, priv, h[:])
		if err != nil {
			t.Fatal(err)
		}
		raw, err := p1363(der, 32)
		if err != nil {
			t.Fatalf("p1363(%x): %v", der, err)
		}
		r, s := new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])
		if !ecdsa.Verify(&priv.PublicKey, h[:], r, s) {
			t.Fatalf("p1363(%x) = %x does not verify", der, raw)
		}
		if len(der) < 70 {
			short++
		}
	}
	if short == 0 {
		t.Log("no short r or s among the samples")
	}
	// Hand-made DER: small r and s are left-padded.
	raw, err := p1363([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02}, 32)
	if want := append(append(make([]byte, 31), 1), append(make([]byte, 31), 2)...); err != nil || !bytes.Equal(raw, want) {
		t.Errorf("p1363(r=1, s=2) = %x, %v", raw, err)
	}
	big33 := append([]byte{0x00}, bytes.Repeat([]byte{0xff}, 32)...)
	for name, der := range map[string][]byte{
		"empty":           {},
		"not_sequence":    {0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02},
		"length_mismatch": {0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02},
		"long_form":       {0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02},
		"not_integer":     {0x30, 0x06, 0x04, 0x01, 0x01, 0x02, 0x01, 0x02},
		"one_integer":     {0x30, 0x03, 0x02, 0x01, 0x01},
		"trailing":        {0x30, 0x08, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02, 0x05, 0x00},
		"int_overruns":    {0x30, 0x06, 0x02, 0x05, 0x01, 0x02, 0x01, 0x02},
		"too_wide":        append([]byte{0x30, 0x26, 0x02, 0x21, 0x01}, append(bytes.Repeat([]byte{0xff}, 32), 0x02, 0x01, 0x01)...),
	} {
		if _, err := p1363(der, 32); err == nil {
			t.Errorf("p1363(%s) accepted %x", name, der)
		}
	}
	if raw, err := p1363(append(append([]byte{0x30, 0x26, 0x02, 0x21}, big33...), 0x02, 0x01, 0x01), 32); err != nil || raw[0] != 0xff || raw[63] != 1 {
		t.Errorf("p1363 with a leading-zero r = %x, %v", raw, err)
	}
}
