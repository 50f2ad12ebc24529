package token

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/secret"
)

var allAlgs = []string{ES256, RS256, EdDSA}

// TestRFC9068_2_SignVerifyRoundTrip: a signed access token carries the
// header {alg, kid, typ: at+jwt} (RFC 9068 §2.1), verifies with Verify and
// independently with go-jose against the published JWKS, and gives back
// the claims it was signed with.
func TestRFC9068_2_SignVerifyRoundTrip(t *testing.T) {
	sigLen := map[string]int{ES256: 64, RS256: 256, EdDSA: 64}
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, alg)
			want := testClaims(f.clk.Now())
			tok := mustSign(t, f.keys, want)

			h := tokenHeader(t, tok)
			kid := activeKid(t, f.keys)
			if wantH := map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"}; !reflect.DeepEqual(h, wantH) {
				t.Errorf("header = %v, want %v", h, wantH)
			}
			parts := strings.Split(tok, ".")
			if sig, err := b64.DecodeString(parts[2]); err != nil || len(sig) != sigLen[alg] {
				t.Errorf("signature: %d bytes, %v; want %d (RFC 7518 §3.4 r||s for ES256)", len(sig), err, sigLen[alg])
			}

			var got AccessClaims
			if err := f.keys.Verify(tok, TypeAccessToken, &got); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("claims = %+v, want %+v", got, want)
			}

			// Interoperability: a verifier knowing only the JWKS accepts it.
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(f.keys.JWKS(), &set); err != nil {
				t.Fatal(err)
			}
			jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			keys := set.Key(kid)
			if len(keys) != 1 {
				t.Fatalf("JWKS has %d keys with kid %s", len(keys), kid)
			}
			if _, err := jws.Verify(keys[0]); err != nil {
				t.Errorf("go-jose rejects the token with the published key: %v", err)
			}
		})
	}
	t.Run("other_typ", func(t *testing.T) {
		f := newFixture(t, ES256)
		for _, typ := range []string{"JWT", "logout+jwt"} {
			tok, err := f.keys.Sign(typ, map[string]string{"sub": "x"})
			if err != nil {
				t.Fatal(err)
			}
			if h := tokenHeader(t, tok); h["typ"] != typ {
				t.Errorf("typ = %v, want %s", h["typ"], typ)
			}
			var c map[string]string
			if err := f.keys.Verify(tok, typ, &c); err != nil || c["sub"] != "x" {
				t.Errorf("Verify(%s) = %v, %v", typ, c, err)
			}
		}
		tok, err := f.keys.Sign("", map[string]string{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := tokenHeader(t, tok)["typ"]; ok {
			t.Error("Sign(\"\") wrote a typ header")
		}
	})
	t.Run("unmarshalable_claims", func(t *testing.T) {
		f := newFixture(t, ES256)
		if _, err := f.keys.Sign(TypeAccessToken, func() {}); err == nil {
			t.Error("Sign of a func succeeded")
		}
	})
}

// TestOIDC_10_1_1_JWKSHasNoPrivateMembers: the JWKS lists public keys only,
// each with a distinct kid, alg and use "sig" (conformance
// EnsureServerJwksDoesNotContainPrivateOrSymmetricKeys).
func TestOIDC_10_1_1_JWKSHasNoPrivateMembers(t *testing.T) {
	f := newFixture(t, ES256)
	for _, alg := range []string{RS256, EdDSA, ES256} {
		if _, err := Rotate(t.Context(), f.st, f.sealKey, alg, f.clk.Now(), 0, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.keys.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	raw := f.keys.JWKS()
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("JWKS is not JSON: %v\n%s", err, raw)
	}
	if len(doc.Keys) != 4 {
		t.Fatalf("JWKS has %d keys, want 4:\n%s", len(doc.Keys), raw)
	}
	kids := map[string]bool{}
	for _, k := range doc.Keys {
		for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
			if _, ok := k[m]; ok {
				t.Errorf("JWK %v has private or symmetric member %q", k["kid"], m)
			}
		}
		kid, _ := k["kid"].(string)
		if kid == "" || kids[kid] {
			t.Errorf("kid %q missing or repeated", kid)
		}
		kids[kid] = true
		if k["use"] != "sig" || k["alg"] == nil || k["kty"] == nil {
			t.Errorf("JWK %v lacks use=sig, alg or kty", k)
		}
	}
	// The set parses as public keys with go-jose.
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			t.Errorf("key %s is not a valid public key", k.KeyID)
		}
	}
}

// TestJWKS_CachedUntilChange: the document is built once per key set and
// shared; a reload that finds the same keys keeps it.
func TestJWKS_CachedUntilChange(t *testing.T) {
	f := newFixture(t, ES256)
	a := f.keys.JWKS()
	if b := f.keys.JWKS(); &a[0] != &b[0] {
		t.Error("JWKS rebuilt without a change")
	}
	if n := testing.AllocsPerRun(100, func() { f.keys.JWKS() }); n != 0 {
		t.Errorf("JWKS allocates %v times per call, want 0", n)
	}
	if err := f.keys.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if b := f.keys.JWKS(); &a[0] != &b[0] {
		t.Error("JWKS rebuilt after a reload that changed nothing")
	}
	if _, err := Rotate(t.Context(), f.st, f.sealKey, ES256, f.clk.Now(), time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := f.keys.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if b := f.keys.JWKS(); bytes.Equal(a, b) {
		t.Error("JWKS unchanged after rotation")
	}
}

// TestKeysPersist: keys live in the store; a second NewKeys (a restart, or
// another node) with the same algorithm generates nothing and verifies the
// first one's tokens.
func TestKeysPersist(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, alg)
			tok := mustSign(t, f.keys, testClaims(f.clk.Now()))
			if n := f.st.count(); n != 1 {
				t.Fatalf("store has %d keys after the first start, want 1", n)
			}
			second := f.open(t, alg)
			if n := f.st.count(); n != 1 {
				t.Errorf("store has %d keys after the second start, want 1", n)
			}
			var c AccessClaims
			if err := second.Verify(tok, TypeAccessToken, &c); err != nil {
				t.Errorf("second instance rejects the first one's token: %v", err)
			}
			if !bytes.Equal(second.JWKS(), f.keys.JWKS()) {
				t.Error("the two instances publish different JWKS")
			}
			tok2 := mustSign(t, second, testClaims(f.clk.Now()))
			if kidOf(t, tok2) != kidOf(t, tok) {
				t.Error("the two instances sign with different keys")
			}
		})
	}
}

// TestNewKeys_RaceOnEmptyStore: two processes starting on an empty
// database may each create a key; both end up serving both, and the
// newest active key signs on both.
func TestNewKeys_RaceOnEmptyStore(t *testing.T) {
	t.Run("interleaved", func(t *testing.T) {
		f := newFixture(t, ES256) // node A created key A
		// Node B listed before A's insert landed: it sees no key.
		first := true
		f.st.setListHook(func() (bool, error) { stale := first; first = false; return stale, nil })
		b := f.open(t, ES256)
		f.st.setListHook(nil)
		if n := f.st.count(); n != 2 {
			t.Fatalf("store has %d keys, want 2 (one per node)", n)
		}
		if err := f.keys.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
		assertSameSigner(t, f.keys, b)
	})
	t.Run("concurrent", func(t *testing.T) {
		st, sealKey, clk := newMemKeyStore(), newSealKey(t), newClock()
		// Both nodes read the (empty) store before either inserts.
		var listed sync.WaitGroup
		listed.Add(2)
		var calls atomic.Int32
		st.setListHook(func() (bool, error) {
			if calls.Add(1) <= 2 {
				listed.Done()
				listed.Wait()
			}
			return false, nil
		})
		var nodes [2]*Keys
		var errs [2]error
		var wg sync.WaitGroup
		for i := range nodes {
			wg.Go(func() {
				nodes[i], errs[i] = NewKeys(t.Context(), KeysOptions{Store: st, SealKey: sealKey, Now: clk.Now})
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := st.count(); n != 2 {
			t.Fatalf("store has %d keys, want 2", n)
		}
		for _, n := range nodes {
			if err := n.Reload(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		assertSameSigner(t, nodes[0], nodes[1])
	})
}

func assertSameSigner(t *testing.T, a, b *Keys) {
	t.Helper()
	now := a.now()
	ta, tb := mustSign(t, a, testClaims(now)), mustSign(t, b, testClaims(now))
	if kidOf(t, ta) != kidOf(t, tb) {
		t.Errorf("nodes sign with different keys: %s and %s", kidOf(t, ta), kidOf(t, tb))
	}
	var c AccessClaims
	for _, x := range []struct {
		name string
		k    *Keys
		tok  string
	}{{"a_verifies_b", a, tb}, {"b_verifies_a", b, ta}} {
		if err := x.k.Verify(x.tok, TypeAccessToken, &c); err != nil {
			t.Errorf("%s: %v", x.name, err)
		}
	}
	if !bytes.Equal(a.JWKS(), b.JWKS()) {
		t.Errorf("nodes publish different JWKS:\n%s\n%s", a.JWKS(), b.JWKS())
	}
}

// TestSealedPrivateKeysUnreadable: the store holds private keys only sealed
// with the seal key, bound to their id and algorithm; without the seal key
// they cannot be read and NewKeys refuses to start rather than hide it.
func TestSealedPrivateKeysUnreadable(t *testing.T) {
	f := newFixture(t, ES256)
	kid := activeKid(t, f.keys)
	row, _ := f.st.get(kid)

	der, err := secret.Open(f.sealKey, row.Sealed, sealAD(row.ID, row.Algorithm))
	if err != nil {
		t.Fatalf("the right seal key does not open the row: %v", err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	d := priv.(*ecdsa.PrivateKey).D.Bytes()
	for name, b := range map[string][]byte{"sealed": row.Sealed, "public_jwk": row.PublicJWK} {
		if bytes.Contains(b, d) || bytes.Contains(b, der) || bytes.Contains(b, []byte(b64.EncodeToString(d))) {
			t.Errorf("%s holds the private key in the clear", name)
		}
	}
	if bytes.Contains(row.PublicJWK, []byte(`"d"`)) {
		t.Errorf("the stored public JWK has a d member: %s", row.PublicJWK)
	}

	t.Run("wrong_seal_key", func(t *testing.T) {
		if _, err := secret.Open(newSealKey(t), row.Sealed, sealAD(row.ID, row.Algorithm)); !errors.Is(err, secret.ErrOpen) {
			t.Errorf("another seal key opens the row: %v", err)
		}
		_, err := NewKeys(t.Context(), KeysOptions{Store: f.st, SealKey: newSealKey(t), Now: f.clk.Now})
		if err == nil || !strings.Contains(err.Error(), "system secret") {
			t.Errorf("NewKeys with another seal key = %v, want a refusal naming the system secret", err)
		}
		if n := f.st.count(); n != 1 {
			t.Errorf("NewKeys with another seal key generated a key (%d keys)", n)
		}
	})
	t.Run("sealed_bytes_bound_to_row", func(t *testing.T) {
		moved := row
		moved.ID = NewKeyID()
		if _, err := openKey(moved, f.sealKey); err == nil {
			t.Error("a sealed key opens under another id")
		}
		relabelled := row
		relabelled.Algorithm = EdDSA
		if _, err := openKey(relabelled, f.sealKey); err == nil {
			t.Error("a sealed key opens under another algorithm")
		}
	})
	t.Run("public_jwk_must_match", func(t *testing.T) {
		other, err := GenerateKey(ES256, f.sealKey, f.clk.Now(), f.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		swapped := row
		swapped.PublicJWK = other.PublicJWK
		if _, err := openKey(swapped, f.sealKey); err == nil {
			t.Error("a row whose public JWK is another key's opens")
		}
	})
}

// TestReload: new keys appear, retired and deleted ones disappear, keys
// already loaded are not parsed again, and a failing store keeps the set.
func TestReload(t *testing.T) {
	f := newFixture(t, ES256)
	first := activeKid(t, f.keys)
	m := f.keys.set.Load().byID[first].material

	extra, err := GenerateKey(EdDSA, f.sealKey, f.clk.Now(), f.clk.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.CreateSigningKey(t.Context(), extra); err != nil {
		t.Fatal(err)
	}
	if err := f.keys.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	set := f.keys.set.Load()
	if set.byID[extra.ID] == nil {
		t.Error("a new key did not appear")
	}
	if set.byID[first].material != m {
		t.Error("an unchanged key was parsed again")
	}
	if got := f.keys.Algorithms(); !reflect.DeepEqual(got, []string{EdDSA, ES256}) {
		t.Errorf("Algorithms = %v", got)
	}

	t.Run("store_error_keeps_set", func(t *testing.T) {
		f.st.setListHook(func() (bool, error) { return false, errors.New("database down") })
		defer f.st.setListHook(nil)
		if err := f.keys.Reload(t.Context()); err == nil {
			t.Error("Reload succeeded with a failing store")
		}
		if f.keys.set.Load() != set {
			t.Error("a failed reload changed the set")
		}
	})
	t.Run("unopenable_key_left_out", func(t *testing.T) {
		bad, _ := GenerateKey(ES256, newSealKey(t), f.clk.Now(), f.clk.Now())
		if err := f.st.CreateSigningKey(t.Context(), bad); err != nil {
			t.Fatal(err)
		}
		if err := f.keys.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
		if f.keys.set.Load().byID[bad.ID] != nil {
			t.Error("a key sealed under another key was loaded")
		}
		if kidOf(t, mustSign(t, f.keys, testClaims(f.clk.Now()))) != first {
			t.Error("signing moved off the good key")
		}
		f.st.DeleteSigningKey(t.Context(), bad.ID)
	})
	t.Run("deleted_key_disappears", func(t *testing.T) {
		if err := f.st.DeleteSigningKey(t.Context(), extra.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.keys.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
		if f.keys.set.Load().byID[extra.ID] != nil {
			t.Error("a deleted key is still loaded")
		}
		if strings.Contains(string(f.keys.JWKS()), extra.ID) {
			t.Error("a deleted key is still published")
		}
	})
	t.Run("empty_store_no_signing_key", func(t *testing.T) {
		if err := f.st.DeleteSigningKey(t.Context(), first); err != nil {
			t.Fatal(err)
		}
		if err := f.keys.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := f.keys.Sign(TypeAccessToken, testClaims(f.clk.Now())); !errors.Is(err, ErrNoSigningKey) {
			t.Errorf("Sign with no key = %v, want ErrNoSigningKey", err)
		}
		if got := string(f.keys.JWKS()); got != `{"keys":[]}` {
			t.Errorf("JWKS = %s", got)
		}
	})
}

// TestRun_ReloadsPeriodically: Run picks up a key added elsewhere within
// its interval and returns when its context ends.
func TestRun_ReloadsPeriodically(t *testing.T) {
	f := newFixture(t, ES256)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { f.keys.Run(ctx, 5*time.Millisecond); close(done) }()

	nk, err := Rotate(t.Context(), f.st, f.sealKey, ES256, f.clk.Now(), time.Minute, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(string(f.keys.JWKS()), nk.ID) {
		if time.Now().After(deadline) {
			t.Fatal("Run did not pick up the rotated key")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// TestNewKeys_Options: misconfiguration fails at start, not at first use.
func TestNewKeys_Options(t *testing.T) {
	st := newMemKeyStore()
	tests := []struct {
		name string
		o    KeysOptions
	}{
		{"no_store", KeysOptions{SealKey: newSealKey(t)}},
		{"short_seal_key", KeysOptions{Store: st, SealKey: make([]byte, 16)}},
		{"no_seal_key", KeysOptions{Store: st}},
		{"unknown_algorithm", KeysOptions{Store: st, SealKey: newSealKey(t), Algorithm: "HS256"}},
		{"lower_case_algorithm", KeysOptions{Store: st, SealKey: newSealKey(t), Algorithm: "es256"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewKeys(t.Context(), tc.o); err == nil {
				t.Error("NewKeys succeeded")
			}
		})
	}
	if st.count() != 0 {
		t.Error("a refused NewKeys stored a key")
	}
	t.Run("store_error", func(t *testing.T) {
		bad := newMemKeyStore()
		bad.setListHook(func() (bool, error) { return false, errors.New("down") })
		if _, err := NewKeys(t.Context(), KeysOptions{Store: bad, SealKey: newSealKey(t)}); err == nil {
			t.Error("NewKeys succeeded with a failing store")
		}
	})
	t.Run("default_algorithm_es256", func(t *testing.T) {
		k, err := NewKeys(t.Context(), KeysOptions{Store: newMemKeyStore(), SealKey: newSealKey(t)})
		if err != nil {
			t.Fatal(err)
		}
		if got := k.Algorithms(); !reflect.DeepEqual(got, []string{ES256}) {
			t.Errorf("algorithms = %v, want [ES256]", got)
		}
	})
	t.Run("only_retired_keys_generates", func(t *testing.T) {
		st, sealKey, clk := newMemKeyStore(), newSealKey(t), newClock()
		old, _ := GenerateKey(ES256, sealKey, clk.Now().Add(-2*time.Hour), clk.Now().Add(-2*time.Hour))
		old.RetireAt = clk.Now().Add(-time.Minute)
		st.CreateSigningKey(t.Context(), old)
		k, err := NewKeys(t.Context(), KeysOptions{Store: st, SealKey: sealKey, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		if kid := activeKid(t, k); kid == old.ID {
			t.Error("signs with a retired key")
		}
	})
}

// TestNewKeyID: ids are random, URL-safe and at least 16 characters.
func TestNewKeyID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewKeyID()
		if len(id) < 16 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("NewKeyID() = %q: want 16+ base64url characters", id)
		}
		if seen[id] {
			t.Fatalf("NewKeyID repeated %q", id)
		}
		seen[id] = true
	}
}
