// Package token signs and verifies Latchkey's JWTs (RFC 9068 access tokens,
// OpenID Connect ID tokens and logout tokens), serves the JWKS and rotates
// signing keys.
//
// Keys live in the database (store.KeyStore), their private halves sealed
// with a key derived from the system secret, so every node of a deployment
// signs with the same keys and serves the same JWKS. Each algorithm has its
// own current key: access tokens are signed with the default algorithm
// (ES256, fast), ID tokens with RS256 unless a client asks for another
// (OpenID Connect Discovery 1.0 §3: "The algorithm RS256 MUST be
// included"). Keys holds them parsed in memory: the hot path (Sign on every
// client_credentials request) never reads the database or parses a key.
package token

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// Signing algorithms (RFC 7518 §3.1, RFC 8037 §3.1).
const (
	ES256 = "ES256" // ECDSA P-256 SHA-256: the default, fast to sign
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 SHA-256, 2048-bit keys: for verifiers that know nothing else
	EdDSA = "EdDSA" // Ed25519
)

// DefaultAlgorithm is the default signer (KeysOptions.Algorithm) and the
// algorithm Rotate uses unless told otherwise.
const DefaultAlgorithm = ES256

// signingAlgs are the algorithms Keys signs with, in the stable order of
// SigningAlgorithms and List: RS256 first, the one every OpenID Connect
// relying party supports.
var signingAlgs = [...]string{RS256, ES256, EdDSA}

// algIndex is alg's index in signingAlgs, or -1 if Keys cannot sign with it.
func algIndex(alg string) int {
	switch alg {
	case RS256:
		return 0
	case ES256:
		return 1
	case EdDSA:
		return 2
	}
	return -1
}

// DefaultReloadInterval is how often Run re-reads the key set: a key rotated
// on one node is used by the others within this interval.
const DefaultReloadInterval = 10 * time.Second

// ErrNoSigningKey is returned by Sign and SignWith when the algorithm has no
// key active at the current time (each of its keys is still "next" or
// retired, or it has none).
var ErrNoSigningKey = errors.New("token: no active signing key")

// KeysOptions configures NewKeys.
type KeysOptions struct {
	// Store holds the keys; required.
	Store store.KeyStore
	// SealKey (32 bytes) seals the private keys in the store; derive it from
	// the system secret for this purpose only (session.DeriveKey(secret,
	// "signing-keys")).
	SealKey []byte
	// PreviousSealKeys also open stored keys, derived in the same way from
	// a previous system secret while it is being replaced (see Reseal);
	// new keys are always sealed with SealKey.
	PreviousSealKeys [][]byte
	// Algorithm is the default signer, the algorithm of Sign: ES256
	// (default), RS256 or EdDSA. NewKeys generates a key of it if the store
	// has none that is not retired.
	Algorithm string
	// Algorithms must each have a key, for SignWith: NewKeys generates a
	// key of every one the store has none of (that is not retired). Empty
	// means Algorithm only. Algorithm need not be listed.
	Algorithms []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger reports keys that cannot be opened and failed reloads; nil
	// discards.
	Logger *slog.Logger
}

// Keys is the in-memory set of signing keys of a deployment, loaded from a
// store.KeyStore. It is safe for concurrent use: Sign, Verify and JWKS read
// an immutable snapshot swapped atomically by Reload.
type Keys struct {
	st      store.KeyStore
	sealKey []byte
	// previous are the seal keys of previous system secrets: they open
	// keys, never seal them.
	previous [][]byte
	now      func() time.Time
	log      *slog.Logger
	defAlg   int // index in signingAlgs of the default signer (KeysOptions.Algorithm)

	reloadMu sync.Mutex // one Reload at a time
	set      atomic.Pointer[keySet]

	jwksMu sync.Mutex // one JWKS rebuild at a time
	jwks   atomic.Pointer[jwksView]
}

// keySet is one immutable snapshot of the keys that are not retired.
type keySet struct {
	keys  []*key // newest first (see newerFirst)
	byID  map[string]*key
	byAlg [len(signingAlgs)][]*key  // each algorithm's keys, newest first: its signer is the first active
	algs  []jose.SignatureAlgorithm // the allow-list of Verify: exactly our keys' algorithms
}

// key is one signing key as loaded: its row's times and its parsed material.
type key struct {
	id, alg                       string
	createdAt, activeAt, retireAt time.Time
	*material
}

// retired reports whether the key no longer verifies (nor signs) at now.
func (k *key) retired(now time.Time) bool {
	return !k.retireAt.IsZero() && !now.Before(k.retireAt)
}

// jwksView is the JWKS document as built for one snapshot, valid until the
// next retirement among its keys (zero: no retirement scheduled).
type jwksView struct {
	set   *keySet
	until time.Time
	ids   []string
	doc   []byte
}

// NewKeys loads the key set from o.Store. For o.Algorithm and each of
// o.Algorithms of which the store holds no key that is not retired, it
// generates one, active at once, and stores it: a deployment that had keys
// of one algorithm gains the others at its next start. Two processes
// starting on an empty database may each create one per algorithm; both
// then serve all of them (after their next Reload at the latest), and for
// each algorithm its newest active key signs on both, so tokens of either
// verify on either.
//
// It fails, before generating anything, if the store holds keys but none
// can be opened with o.SealKey: the system secret is probably not the one
// that sealed them, and generating new keys would hide that.
func NewKeys(ctx context.Context, o KeysOptions) (*Keys, error) {
	if o.Store == nil {
		return nil, errors.New("token: no key store")
	}
	if len(o.SealKey) != secret.SealKeyLen {
		return nil, fmt.Errorf("token: seal key must be %d bytes, got %d", secret.SealKeyLen, len(o.SealKey))
	}
	alg := o.Algorithm
	if alg == "" {
		alg = DefaultAlgorithm
	}
	want := []string{alg}
	for _, a := range o.Algorithms {
		if !slices.Contains(want, a) {
			want = append(want, a)
		}
	}
	for _, a := range want {
		if !knownAlgorithm(a) {
			return nil, fmt.Errorf("token: unknown signing algorithm %q (want ES256, RS256 or EdDSA)", a)
		}
	}
	k := &Keys{st: o.Store, sealKey: bytes.Clone(o.SealKey), previous: o.PreviousSealKeys, now: o.Now, log: o.Logger, defAlg: algIndex(alg)}
	if k.now == nil {
		k.now = time.Now
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}

	rows, err := k.st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("token: list signing keys: %w", err)
	}
	// Open what is stored first: a wrong system secret must fail here,
	// not be hidden behind new keys it can open.
	set, err := k.build(ctx, rows, nil)
	if err != nil {
		return nil, err
	}
	now := k.now()
	created := false
	for _, a := range want {
		if slices.ContainsFunc(rows, func(r store.SigningKey) bool { return r.Algorithm == a && !isRetired(r, now) }) {
			continue
		}
		sk, err := GenerateKey(a, k.sealKey, now, now)
		if err != nil {
			return nil, err
		}
		if err := k.st.CreateSigningKey(ctx, sk); err != nil {
			return nil, fmt.Errorf("token: store signing key: %w", err)
		}
		k.log.InfoContext(ctx, "generated a signing key", "kid", sk.ID, "alg", sk.Algorithm)
		created = true
	}
	if created {
		// Read back what is stored: a process that raced us may have
		// created its own keys, which we must serve too.
		if rows, err = k.st.ListSigningKeys(ctx); err != nil {
			return nil, fmt.Errorf("token: list signing keys: %w", err)
		}
		if set, err = k.build(ctx, rows, set); err != nil {
			return nil, err
		}
	}
	k.set.Store(set)
	return k, nil
}

// Reload re-reads the key set from the store: new keys appear, retired and
// deleted ones disappear, new retirement times apply. Keys already loaded
// are not parsed again. A key that cannot be opened is logged and left out;
// if no stored key can be opened the current set is kept and an error
// returned. Reload never writes to the store (retired rows are removed by
// PurgeRetired, which Rotate calls).
func (k *Keys) Reload(ctx context.Context) error {
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	rows, err := k.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("token: list signing keys: %w", err)
	}
	old := k.set.Load()
	set, err := k.build(ctx, rows, old)
	if err != nil {
		return err
	}
	if !sameSet(old, set) {
		k.set.Store(set)
	}
	return nil
}

// Run reloads the key set every interval (DefaultReloadInterval if every
// <= 0) until ctx is done, logging failed reloads. Nodes sharing a database
// thus pick up a rotation done elsewhere within one interval.
func (k *Keys) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultReloadInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.Reload(ctx); err != nil && ctx.Err() == nil {
				k.log.ErrorContext(ctx, "reload signing keys", "err", err)
			}
		}
	}
}

// build makes a snapshot of the rows not retired at now, reusing the parsed
// material of old's keys whose stored bytes have not changed.
func (k *Keys) build(ctx context.Context, rows []store.SigningKey, old *keySet) (*keySet, error) {
	now := k.now()
	set := &keySet{byID: make(map[string]*key, len(rows))}
	live, failed := 0, 0
	for _, r := range rows {
		if isRetired(r, now) {
			continue
		}
		live++
		if _, dup := set.byID[r.ID]; dup {
			continue
		}
		var m *material
		if old != nil {
			if prev, ok := old.byID[r.ID]; ok && prev.alg == r.Algorithm &&
				bytes.Equal(prev.sealed, r.Sealed) && bytes.Equal(prev.storedJWK, r.PublicJWK) {
				m = prev.material
			}
		}
		if m == nil {
			var err error
			var byPrevious bool
			if m, byPrevious, err = openWithAny(r, k.sealKey, k.previous); err != nil {
				failed++
				k.log.ErrorContext(ctx, "signing key cannot be opened; left out", "kid", r.ID, "err", err)
				continue
			}
			if byPrevious {
				k.log.InfoContext(ctx, "signing key sealed with the previous system secret; run `latchkey keys reseal`", "kid", r.ID)
			}
		}
		kk := &key{id: r.ID, alg: r.Algorithm, createdAt: r.CreatedAt, activeAt: r.ActiveAt, retireAt: r.RetireAt, material: m}
		set.keys = append(set.keys, kk)
		set.byID[r.ID] = kk
	}
	if live > 0 && failed == live {
		return nil, fmt.Errorf("token: none of the %d signing keys can be opened: is this the system secret that sealed them?", live)
	}
	slices.SortFunc(set.keys, func(a, b *key) int {
		return newerFirst(a.activeAt, a.createdAt, a.id, b.activeAt, b.createdAt, b.id)
	})
	for _, kk := range set.keys {
		if a := jose.SignatureAlgorithm(kk.alg); !slices.Contains(set.algs, a) {
			set.algs = append(set.algs, a)
		}
		if i := algIndex(kk.alg); i >= 0 {
			set.byAlg[i] = append(set.byAlg[i], kk)
		}
	}
	return set, nil
}

// sameSet reports whether two snapshots hold the same keys with the same
// times, so Reload can keep the old one (and the JWKS built from it).
func sameSet(a, b *keySet) bool {
	if a == nil || b == nil || len(a.keys) != len(b.keys) {
		return false
	}
	for i, x := range a.keys {
		y := b.keys[i]
		if x.material != y.material || x.id != y.id || !x.createdAt.Equal(y.createdAt) ||
			!x.activeAt.Equal(y.activeAt) || !x.retireAt.Equal(y.retireAt) {
			return false
		}
	}
	return true
}

// newerFirst orders keys newest first: later ActiveAt, then later
// CreatedAt, then greater id. Every node orders the same rows the same way,
// so all agree on which key of each algorithm signs.
func newerFirst(aActive, aCreated time.Time, aID string, bActive, bCreated time.Time, bID string) int {
	if c := bActive.Compare(aActive); c != 0 {
		return c
	}
	if c := bCreated.Compare(aCreated); c != 0 {
		return c
	}
	switch {
	case aID > bID:
		return -1
	case aID < bID:
		return 1
	}
	return 0
}

func isRetired(r store.SigningKey, now time.Time) bool {
	return !r.RetireAt.IsZero() && !now.Before(r.RetireAt)
}

// signer returns the key of the algorithm signingAlgs[alg] that signs at
// now: the newest of that algorithm whose ActiveAt has come and that is not
// retired; nil if none.
func (s *keySet) signer(alg int, now time.Time) *key {
	for _, k := range s.byAlg[alg] {
		if !now.Before(k.activeAt) && !k.retired(now) {
			return k
		}
	}
	return nil
}

// JWKS returns the JSON Web Key Set (RFC 7517 §5) of every key that is not
// retired, newest first: each member a public JWK with kid, alg and use
// "sig", and never a private or symmetric member (OpenID Connect Core
// §10.1.1). A key is published from its creation, before it signs, so that
// verifiers fetch it in time. The document is built once per change of the
// key set (or when a key's RetireAt passes) and shared: callers must not
// modify it.
func (k *Keys) JWKS() []byte {
	now := k.now()
	set := k.set.Load()
	if v := k.jwks.Load(); v != nil && v.set == set && (v.until.IsZero() || now.Before(v.until)) {
		return v.doc
	}
	k.jwksMu.Lock()
	defer k.jwksMu.Unlock()
	prev := k.jwks.Load()
	v := &jwksView{set: set}
	var buf bytes.Buffer
	buf.WriteString(`{"keys":[`)
	for _, kk := range set.keys {
		if kk.retired(now) {
			continue
		}
		if kk.retireAt.After(now) && (v.until.IsZero() || kk.retireAt.Before(v.until)) {
			v.until = kk.retireAt
		}
		if len(v.ids) > 0 {
			buf.WriteByte(',')
		}
		buf.Write(kk.jwk)
		v.ids = append(v.ids, kk.id)
	}
	buf.WriteString(`]}`)
	v.doc = buf.Bytes()
	if prev != nil && slices.Equal(prev.ids, v.ids) {
		v.doc = prev.doc // same keys: same bytes (callers may compare them for an ETag)
	}
	k.jwks.Store(v)
	return v.doc
}

// Algorithms returns the algorithms of the loaded keys, newest key's first:
// every algorithm Verify accepts, including those whose keys only verify
// (next or published).
func (k *Keys) Algorithms() []string {
	set := k.set.Load()
	out := make([]string, len(set.algs))
	for i, a := range set.algs {
		out[i] = string(a)
	}
	return out
}

// SignerAges returns, for each algorithm with a key active now, how long
// ago that key was created: for monitoring rotation.
func (k *Keys) SignerAges() map[string]time.Duration {
	set, now := k.set.Load(), k.now()
	out := make(map[string]time.Duration, len(signingAlgs))
	for i, a := range signingAlgs {
		if s := set.signer(i, now); s != nil {
			out[a] = now.Sub(s.createdAt)
		}
	}
	return out
}

// SigningAlgorithms returns the algorithms that have a key active now, that
// SignWith can sign with, in a stable order (RS256, ES256, EdDSA): for
// id_token_signing_alg_values_supported (OpenID Connect Discovery 1.0 §3).
func (k *Keys) SigningAlgorithms() []string {
	set, now := k.set.Load(), k.now()
	out := make([]string, 0, len(signingAlgs))
	for i, a := range signingAlgs {
		if set.signer(i, now) != nil {
			out = append(out, a)
		}
	}
	return out
}
