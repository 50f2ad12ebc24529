package token

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Key states, as List reports them. Each algorithm has its own active key,
// so the states of a key are relative to the keys of its algorithm.
const (
	// StateNext: published in JWKS, signs from its ActiveAt.
	StateNext = "next"
	// StateActive: the key of its algorithm that signs now.
	StateActive = "active"
	// StatePublished: a newer key of its algorithm signs; this one stays
	// in JWKS and keeps verifying until its RetireAt (if any).
	StatePublished = "published"
	// StateRetired: RetireAt has passed: in no JWKS, verifies nothing;
	// PurgeRetired deletes it.
	StateRetired = "retired"
)

// KeyInfo describes a stored key without its private half.
type KeyInfo struct {
	ID        string
	Algorithm string
	CreatedAt time.Time
	ActiveAt  time.Time
	RetireAt  time.Time // zero: not scheduled
	State     string
}

// List returns every stored key with its state at now, grouped by
// algorithm (RS256, ES256, EdDSA, then any other by name) and newest first
// within each: the order in which Keys picks each algorithm's signing key,
// so the first key of an algorithm that is neither next nor retired is its
// active one.
func List(ctx context.Context, st store.KeyStore, now time.Time) ([]KeyInfo, error) {
	rows, err := st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("token: list signing keys: %w", err)
	}
	sortRows(rows)
	out := make([]KeyInfo, 0, len(rows))
	signer := map[string]bool{} // algorithms whose active key is listed
	for _, r := range rows {
		ki := KeyInfo{ID: r.ID, Algorithm: r.Algorithm, CreatedAt: r.CreatedAt, ActiveAt: r.ActiveAt, RetireAt: r.RetireAt}
		switch {
		case isRetired(r, now):
			ki.State = StateRetired
		case now.Before(r.ActiveAt):
			ki.State = StateNext
		case !signer[r.Algorithm]:
			ki.State, signer[r.Algorithm] = StateActive, true
		default:
			ki.State = StatePublished
		}
		out = append(out, ki)
	}
	return out, nil
}

// sortRows orders rows by algorithm (the order of signingAlgs, then any
// other by name), then newest first (newerFirst).
func sortRows(rows []store.SigningKey) {
	rank := func(alg string) int {
		if i := algIndex(alg); i >= 0 {
			return i
		}
		return len(signingAlgs)
	}
	slices.SortFunc(rows, func(a, b store.SigningKey) int {
		if c := rank(a.Algorithm) - rank(b.Algorithm); c != 0 {
			return c
		}
		if c := strings.Compare(a.Algorithm, b.Algorithm); c != 0 {
			return c
		}
		return newerFirst(a.ActiveAt, a.CreatedAt, a.ID, b.ActiveAt, b.CreatedAt, b.ID)
	})
}

// Rotate creates a new key of alg and stores it: published at once
// (CreatedAt now) and signing from now+publishDelay, so that verifiers
// caching the JWKS for less than publishDelay fetch it before they meet a
// token it signed. Choose publishDelay at least the JWKS cache lifetime and
// the nodes' reload interval (DefaultReloadInterval): then every node
// switches to the new key at its ActiveAt.
//
// Every older key of alg that is not retired gets RetireAt = new ActiveAt +
// maxTokenLifetime, unless it already retires earlier: it signs until the
// new key is active and stays in JWKS until every token it signed has
// expired. An older key of alg still pending whose ActiveAt is not before
// the new key's would outrank it; it retires at the new ActiveAt instead,
// so it never signs. Keys of other algorithms are left as they are: each
// algorithm has its own signing key, rotated on its own.
//
// Before changing anything Rotate checks that sealKey opens every stored
// key that is not retired (so a wrong system secret cannot add a key the
// servers cannot read) and deletes retired keys (PurgeRetired). The new key
// is stored before older keys are given a retirement, so an interruption
// leaves every key usable.
func Rotate(ctx context.Context, st store.KeyStore, sealKey []byte, alg string, now time.Time, publishDelay, maxTokenLifetime time.Duration) (store.SigningKey, error) {
	if publishDelay < 0 {
		return store.SigningKey{}, fmt.Errorf("token: publish delay must not be negative, got %s", publishDelay)
	}
	if maxTokenLifetime <= 0 {
		return store.SigningKey{}, fmt.Errorf("token: max token lifetime must be positive, got %s", maxTokenLifetime)
	}
	if alg == "" {
		alg = DefaultAlgorithm
	}
	if !knownAlgorithm(alg) {
		return store.SigningKey{}, fmt.Errorf("token: unknown signing algorithm %q (want ES256, RS256 or EdDSA)", alg)
	}
	rows, err := st.ListSigningKeys(ctx)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("token: list signing keys: %w", err)
	}
	for _, r := range rows {
		if isRetired(r, now) {
			continue
		}
		if _, err := openKey(r, sealKey); err != nil {
			return store.SigningKey{}, fmt.Errorf("token: key %s cannot be opened with this system secret (%v): refusing to rotate (after a change of system secret, run `latchkey keys reseal` first)", r.ID, err)
		}
	}
	if _, err := PurgeRetired(ctx, st, now); err != nil {
		return store.SigningKey{}, err
	}

	nk, err := GenerateKey(alg, sealKey, now, now.Add(publishDelay))
	if err != nil {
		return store.SigningKey{}, err
	}
	if err := st.CreateSigningKey(ctx, nk); err != nil {
		return store.SigningKey{}, fmt.Errorf("token: store signing key: %w", err)
	}
	for _, r := range rows {
		if r.Algorithm != alg || isRetired(r, now) {
			continue
		}
		retireAt := nk.ActiveAt.Add(maxTokenLifetime)
		if r.ActiveAt.After(now) && !r.ActiveAt.Before(nk.ActiveAt) {
			retireAt = nk.ActiveAt // pending, and would outrank the new key: never signs
		}
		if !r.RetireAt.IsZero() && !r.RetireAt.After(retireAt) {
			continue
		}
		if err := st.RetireSigningKey(ctx, r.ID, retireAt); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nk, fmt.Errorf("token: retire signing key %s: %w", r.ID, err)
		}
	}
	return nk, nil
}

// PurgeRetired deletes every key whose RetireAt is at or before now and
// returns how many. Every token such a key signed has expired, so nothing
// verifies with it any more. Rotate calls it; Keys.Reload never writes (it
// only stops using retired keys), so that many nodes polling one database
// do not race to delete.
func PurgeRetired(ctx context.Context, st store.KeyStore, now time.Time) (int, error) {
	rows, err := st.ListSigningKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("token: list signing keys: %w", err)
	}
	n := 0
	for _, r := range rows {
		if !isRetired(r, now) {
			continue
		}
		switch err := st.DeleteSigningKey(ctx, r.ID); {
		case err == nil:
			n++
		case errors.Is(err, store.ErrNotFound): // purged concurrently
		default:
			return n, fmt.Errorf("token: delete retired signing key %s: %w", r.ID, err)
		}
	}
	return n, nil
}
