package token

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// memKeyStore is a hand-written in-memory store.KeyStore. It copies byte
// slices in and out, as a database would. Func fields inject behaviour.
type memKeyStore struct {
	mu   sync.Mutex
	keys map[string]store.SigningKey
	// lists counts ListSigningKeys calls.
	lists int
	// listHook, if set, runs after each list has read the keys; it may
	// block, return an error, or ask for a stale (empty) answer.
	listHook func() (stale bool, err error)
}

var _ store.KeyStore = (*memKeyStore)(nil)

func newMemKeyStore() *memKeyStore { return &memKeyStore{keys: map[string]store.SigningKey{}} }

func cloneKey(k store.SigningKey) store.SigningKey {
	k.Sealed = bytes.Clone(k.Sealed)
	k.PublicJWK = bytes.Clone(k.PublicJWK)
	return k
}

func (m *memKeyStore) CreateSigningKey(_ context.Context, k store.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[k.ID]; ok {
		return store.ErrConflict
	}
	m.keys[k.ID] = cloneKey(k)
	return nil
}

func (m *memKeyStore) ListSigningKeys(context.Context) ([]store.SigningKey, error) {
	m.mu.Lock()
	m.lists++
	hook := m.listHook
	out := make([]store.SigningKey, 0, len(m.keys))
	for _, k := range m.keys {
		out = append(out, cloneKey(k))
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b store.SigningKey) int { return b.ActiveAt.Compare(a.ActiveAt) })
	if hook != nil {
		stale, err := hook()
		if err != nil {
			return nil, err
		}
		if stale {
			return nil, nil
		}
	}
	return out, nil
}

func (m *memKeyStore) setListHook(h func() (bool, error)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.listHook = h
}

func (m *memKeyStore) RetireSigningKey(_ context.Context, id string, retireAt time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return store.ErrNotFound
	}
	k.RetireAt = retireAt
	m.keys[id] = k
	return nil
}

func (m *memKeyStore) ResealSigningKey(_ context.Context, id string, sealed []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return store.ErrNotFound
	}
	k.Sealed = bytes.Clone(sealed)
	m.keys[id] = k
	return nil
}

func (m *memKeyStore) DeleteSigningKey(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[id]; !ok {
		return store.ErrNotFound
	}
	delete(m.keys, id)
	return nil
}

func (m *memKeyStore) get(id string) (store.SigningKey, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	return cloneKey(k), ok
}

func (m *memKeyStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}

// clock is an injectable clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newSealKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, secret.SealKeyLen)
	rand.Read(k)
	return k
}

// fixture is a Keys over a memKeyStore with an injected clock.
type fixture struct {
	st      *memKeyStore
	sealKey []byte
	clk     *clock
	keys    *Keys
}

func newFixture(t testing.TB, alg string) *fixture {
	t.Helper()
	f := &fixture{st: newMemKeyStore(), sealKey: newSealKey(t), clk: newClock()}
	f.keys = f.open(t, alg)
	return f
}

// open returns another Keys over the fixture's store (another node).
func (f *fixture) open(t testing.TB, alg string) *Keys {
	t.Helper()
	k, err := NewKeys(context.Background(), KeysOptions{Store: f.st, SealKey: f.sealKey, Algorithm: alg, Now: f.clk.Now})
	if err != nil {
		t.Fatalf("NewKeys: %v", err)
	}
	return k
}

// newServerFixture is a fixture configured as the server is: ES256 signs
// access tokens, and every algorithm has a key (for ID tokens).
func newServerFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{st: newMemKeyStore(), sealKey: newSealKey(t), clk: newClock()}
	f.keys = f.openAll(t)
	return f
}

// openAll returns another Keys over the fixture's store configured as the
// server is.
func (f *fixture) openAll(t testing.TB) *Keys {
	t.Helper()
	k, err := NewKeys(context.Background(), KeysOptions{Store: f.st, SealKey: f.sealKey, Algorithm: ES256, Algorithms: allAlgs, Now: f.clk.Now})
	if err != nil {
		t.Fatalf("NewKeys: %v", err)
	}
	return k
}

func testClaims(now time.Time) AccessClaims {
	return AccessClaims{
		Issuer:   "https://auth.example.com",
		Subject:  "user-42",
		Audience: Audience{"https://notes.example.com"},
		ClientID: "lk_client_print",
		Scope:    "notes.read photos.read",
		Expiry:   now.Add(time.Hour).Unix(),
		IssuedAt: now.Unix(),
		JTI:      "jti-" + secret.RandomString(8),
		GrantID:  "grant-1",
	}
}

func mustSign(t testing.TB, k *Keys, c AccessClaims) string {
	t.Helper()
	tok, err := k.Sign(TypeAccessToken, c)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return tok
}

// tokenHeader returns the decoded protected header of a compact token.
func tokenHeader(t testing.TB, tok string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	raw, err := b64.DecodeString(seg)
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("header: %v", err)
	}
	return h
}

func kidOf(t testing.TB, tok string) string {
	t.Helper()
	kid, _ := tokenHeader(t, tok)["kid"].(string)
	return kid
}

// signWithHeader signs payload under an arbitrary header JSON with the
// loaded key kid: a valid signature, so only the header checks can refuse it.
func signWithHeader(t testing.TB, k *Keys, kid, headerJSON string, payload []byte) string {
	t.Helper()
	kk := k.set.Load().byID[kid]
	if kk == nil {
		t.Fatalf("no loaded key %s", kid)
	}
	tok, err := kk.signCompact(b64.EncodeToString([]byte(headerJSON)), payload)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// activeKid is the kid of the key Sign uses (the default algorithm's).
func activeKid(t testing.TB, k *Keys) string {
	t.Helper()
	return activeKidOf(t, k, signingAlgs[k.defAlg])
}

// activeKidOf is the kid of the key SignWith(alg) uses.
func activeKidOf(t testing.TB, k *Keys, alg string) string {
	t.Helper()
	kk := k.set.Load().signer(algIndex(alg), k.now())
	if kk == nil {
		t.Fatalf("no active %s key", alg)
	}
	return kk.id
}

// mustSignWith signs c with SignWith(alg, typ).
func mustSignWith(t testing.TB, k *Keys, alg, typ string, c any) string {
	t.Helper()
	tok, err := k.SignWith(alg, typ, c)
	if err != nil {
		t.Fatalf("SignWith(%s, %s): %v", alg, typ, err)
	}
	return tok
}

// countAlg returns how many stored keys of alg are not retired at now.
func (m *memKeyStore) countAlg(alg string, now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, k := range m.keys {
		if k.Algorithm == alg && !isRetired(k, now) {
			n++
		}
	}
	return n
}
