package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
)

// SealKeyLen is the length of a sealing key: AES-256.
const SealKeyLen = 32

// sealOverhead is what Seal adds to the plaintext: a 12-byte random nonce in
// front and a 16-byte GCM tag at the end.
const sealOverhead = 12 + 16

// ErrOpen is returned by Open for sealed data that is truncated, altered,
// sealed under another key or with other additional data. It never says
// which, so that it cannot serve as an oracle.
var ErrOpen = errors.New("secret: cannot open sealed data")

// Seal encrypts and authenticates plaintext with AES-256-GCM under key (32
// bytes, derived from the system secret by the caller for one purpose) and
// binds it to additionalData, which is authenticated but not stored: Open
// needs the same bytes. The result is a fresh random 12-byte nonce followed
// by the ciphertext and its tag, so sealing one plaintext twice gives two
// different results. With random nonces a key must seal fewer than 2^32
// messages (NIST SP 800-38D §8.3): ample for signing keys.
func Seal(key, plaintext, additionalData []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nil, nil, plaintext, additionalData), nil
}

// Open reverses Seal: it returns the plaintext if sealed was made by Seal
// under key with the same additionalData, and ErrOpen otherwise. A key of
// the wrong length is a different error (a programming mistake, not bad data).
func Open(key, sealed, additionalData []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < sealOverhead {
		return nil, ErrOpen
	}
	plain, err := aead.Open(nil, nil, sealed, additionalData)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// newAEAD returns AES-256-GCM that draws a random nonce for each Seal and
// prepends it (crypto/cipher.NewGCMWithRandomNonce).
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != SealKeyLen {
		return nil, fmt.Errorf("secret: seal key must be %d bytes, got %d", SealKeyLen, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return aead, nil
}
