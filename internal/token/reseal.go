package token

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// openWithAny opens r with sealKey or, failing that, with one of previous;
// byPrevious reports that only a previous key opened it.
func openWithAny(r store.SigningKey, sealKey []byte, previous [][]byte) (m *material, byPrevious bool, err error) {
	m, err = openKey(r, sealKey)
	if err == nil {
		return m, false, nil
	}
	for _, p := range previous {
		if pm, perr := openKey(r, p); perr == nil {
			return pm, true, nil
		}
	}
	return nil, false, err
}

// Reseal seals again under sealKey every stored signing key that only one
// of previous opens: the step of a system-secret rotation after every node
// runs with the new secret and the old one as previous, and before the
// old one is removed. Keys sealKey already opens are left alone, so it can
// run again safely. It returns how many keys it sealed again, and fails
// naming the keys that no given secret opens (after resealing the others).
func Reseal(ctx context.Context, st store.KeyStore, sealKey []byte, previous [][]byte) (int, error) {
	if len(sealKey) != secret.SealKeyLen {
		return 0, fmt.Errorf("token: seal key must be %d bytes, got %d", secret.SealKeyLen, len(sealKey))
	}
	rows, err := st.ListSigningKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("token: list signing keys: %w", err)
	}
	n := 0
	var unopened []error
	for _, r := range rows {
		if _, err := openKey(r, sealKey); err == nil {
			continue
		}
		der, err := openDER(r, previous)
		if err != nil {
			unopened = append(unopened, fmt.Errorf("key %s: %w", r.ID, err))
			continue
		}
		sealed, err := secret.Seal(sealKey, der, sealAD(r.ID, r.Algorithm))
		clear(der)
		if err != nil {
			return n, err
		}
		if err := st.ResealSigningKey(ctx, r.ID, sealed); err != nil {
			return n, fmt.Errorf("token: reseal key %s: %w", r.ID, err)
		}
		n++
	}
	if len(unopened) > 0 {
		return n, fmt.Errorf("token: no given system secret opens these keys: %w", errors.Join(unopened...))
	}
	return n, nil
}

// openDER returns r's private key (PKCS #8 DER) opened with one of keys.
func openDER(r store.SigningKey, keys [][]byte) ([]byte, error) {
	for _, k := range keys {
		if _, err := openKey(r, k); err != nil {
			continue
		}
		return secret.Open(k, r.Sealed, sealAD(r.ID, r.Algorithm))
	}
	return nil, errors.New("cannot be opened")
}
