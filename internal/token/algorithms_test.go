package token

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// idClaims are the claims of an ID token, as far as these tests need them.
type idClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience Audience `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	Nonce    string   `json:"nonce,omitempty"`
}

func testIDClaims(now time.Time) idClaims {
	return idClaims{
		Issuer:   "https://auth.example.com",
		Subject:  "user-42",
		Audience: Audience{"lk_client_web"},
		Expiry:   now.Add(time.Hour).Unix(),
		IssuedAt: now.Unix(),
		Nonce:    "n-0S6_WzA2Mj",
	}
}

// TestNewKeys_KeyPerAlgorithm: every algorithm listed in Algorithms, and
// the default Algorithm, gets a key of its own, active at once; a restart
// generates nothing more.
func TestNewKeys_KeyPerAlgorithm(t *testing.T) {
	f := newServerFixture(t)
	now := f.clk.Now()
	for _, alg := range allAlgs {
		if n := f.st.countAlg(alg, now); n != 1 {
			t.Errorf("store has %d %s keys, want 1", n, alg)
		}
	}
	if n := f.st.count(); n != 3 {
		t.Errorf("store has %d keys, want 3", n)
	}
	if got := f.keys.SigningAlgorithms(); !reflect.DeepEqual(got, []string{RS256, ES256, EdDSA}) {
		t.Errorf("SigningAlgorithms = %v, want [RS256 ES256 EdDSA]", got)
	}
	if got := f.keys.Algorithms(); len(got) != 3 {
		t.Errorf("Algorithms = %v, want all three", got)
	}
	f.openAll(t)
	if n := f.st.count(); n != 3 {
		t.Errorf("a restart generated keys: store has %d, want 3", n)
	}

	t.Run("default_algorithm_need_not_be_listed", func(t *testing.T) {
		k, err := NewKeys(t.Context(), KeysOptions{Store: newMemKeyStore(), SealKey: newSealKey(t), Algorithm: EdDSA, Algorithms: []string{RS256}})
		if err != nil {
			t.Fatal(err)
		}
		if got := k.SigningAlgorithms(); !reflect.DeepEqual(got, []string{RS256, EdDSA}) {
			t.Errorf("SigningAlgorithms = %v, want [RS256 EdDSA]", got)
		}
	})
	t.Run("empty_algorithms_means_the_default_only", func(t *testing.T) {
		k, err := NewKeys(t.Context(), KeysOptions{Store: newMemKeyStore(), SealKey: newSealKey(t)})
		if err != nil {
			t.Fatal(err)
		}
		if got := k.SigningAlgorithms(); !reflect.DeepEqual(got, []string{ES256}) {
			t.Errorf("SigningAlgorithms = %v, want [ES256]", got)
		}
	})
	t.Run("duplicates_generate_once", func(t *testing.T) {
		st := newMemKeyStore()
		if _, err := NewKeys(t.Context(), KeysOptions{Store: st, SealKey: newSealKey(t), Algorithms: []string{ES256, EdDSA, EdDSA, ES256}}); err != nil {
			t.Fatal(err)
		}
		if n := st.count(); n != 2 {
			t.Errorf("store has %d keys, want 2", n)
		}
	})
	t.Run("retired_key_of_an_algorithm_replaced", func(t *testing.T) {
		f := newServerFixture(t)
		rs := activeKidOf(t, f.keys, RS256)
		f.st.RetireSigningKey(t.Context(), rs, f.clk.Now())
		k := f.openAll(t)
		if kid := activeKidOf(t, k, RS256); kid == rs {
			t.Error("signs RS256 with a retired key")
		}
		if n := f.st.count(); n != 4 {
			t.Errorf("store has %d keys, want 4 (only RS256 regenerated)", n)
		}
	})
	t.Run("pending_key_counts", func(t *testing.T) {
		// An algorithm whose only key is next has a key: none is generated,
		// and it signs from its ActiveAt.
		st, sealKey, clk := newMemKeyStore(), newSealKey(t), newClock()
		next, _ := GenerateKey(EdDSA, sealKey, clk.Now(), clk.Now().Add(time.Minute))
		st.CreateSigningKey(t.Context(), next)
		k, err := NewKeys(t.Context(), KeysOptions{Store: st, SealKey: sealKey, Algorithms: []string{ES256, EdDSA}, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		if n := st.countAlg(EdDSA, clk.Now()); n != 1 {
			t.Errorf("store has %d EdDSA keys, want the pending one only", n)
		}
		if got := k.SigningAlgorithms(); !reflect.DeepEqual(got, []string{ES256}) {
			t.Errorf("SigningAlgorithms before ActiveAt = %v, want [ES256]", got)
		}
		if got := k.Algorithms(); !reflect.DeepEqual(got, []string{EdDSA, ES256}) {
			t.Errorf("Algorithms = %v, want the pending EdDSA key's too", got)
		}
		clk.Advance(time.Minute)
		if got := k.SigningAlgorithms(); !reflect.DeepEqual(got, []string{ES256, EdDSA}) {
			t.Errorf("SigningAlgorithms at ActiveAt = %v, want [ES256 EdDSA]", got)
		}
		if kid := kidOf(t, mustSignWith(t, k, EdDSA, TypeIDToken, testIDClaims(clk.Now()))); kid != next.ID {
			t.Errorf("EdDSA signed by %s, want the formerly pending key", kid)
		}
	})
}

// TestNewKeys_ExistingStoreGainsAlgorithms: a deployment that has only an
// ES256 key gains RS256 and EdDSA keys at its next start; its ES256 key is
// untouched, still signs, and its tokens still verify.
func TestNewKeys_ExistingStoreGainsAlgorithms(t *testing.T) {
	f := newFixture(t, ES256)
	es := activeKid(t, f.keys)
	before, _ := f.st.get(es)
	tok := mustSign(t, f.keys, testClaims(f.clk.Now()))

	k := f.openAll(t)
	now := f.clk.Now()
	for _, alg := range allAlgs {
		if n := f.st.countAlg(alg, now); n != 1 {
			t.Errorf("store has %d %s keys, want 1", n, alg)
		}
	}
	if after, _ := f.st.get(es); !reflect.DeepEqual(before, after) {
		t.Errorf("the ES256 key's row changed:\n%+v\n%+v", before, after)
	}
	if kid := kidOf(t, mustSign(t, k, testClaims(now))); kid != es {
		t.Errorf("Sign uses %s, want the existing ES256 key %s", kid, es)
	}
	accepts(t, k, tok, TypeAccessToken)
	if err := f.keys.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.keys.JWKS(), k.JWKS()) {
		t.Error("the old node, reloaded, publishes another JWKS than the new one")
	}
}

// TestNewKeys_DefaultAlgorithmGainsKey: the default signer always has a key
// of its own algorithm: a store holding only an EdDSA key gets an ES256 one
// when ES256 is the default, and Sign uses it (before per-algorithm keys,
// the existing EdDSA key would have signed).
func TestNewKeys_DefaultAlgorithmGainsKey(t *testing.T) {
	f := newFixture(t, EdDSA)
	ed := activeKid(t, f.keys)
	k := f.open(t, ES256)
	if n := f.st.count(); n != 2 {
		t.Fatalf("store has %d keys, want 2", n)
	}
	tok := mustSign(t, k, testClaims(f.clk.Now()))
	if h := tokenHeader(t, tok); h["alg"] != ES256 || h["kid"] == ed {
		t.Errorf("Sign header = %v, want the new ES256 key", h)
	}
	if kid := kidOf(t, mustSignWith(t, k, EdDSA, TypeIDToken, testIDClaims(f.clk.Now()))); kid != ed {
		t.Errorf("SignWith(EdDSA) uses %s, want the existing key %s", kid, ed)
	}
}

// TestNewKeys_WrongSealKeyGeneratesNothing: with a system secret that opens
// none of the stored keys NewKeys refuses before generating the missing
// algorithms' keys: keys it could open would otherwise hide the mistake.
func TestNewKeys_WrongSealKeyGeneratesNothing(t *testing.T) {
	f := newFixture(t, ES256)
	_, err := NewKeys(t.Context(), KeysOptions{Store: f.st, SealKey: newSealKey(t), Algorithms: allAlgs, Now: f.clk.Now})
	if err == nil || !strings.Contains(err.Error(), "system secret") {
		t.Errorf("NewKeys with another seal key = %v, want a refusal naming the system secret", err)
	}
	if n := f.st.count(); n != 1 {
		t.Errorf("store has %d keys after a refused start, want 1", n)
	}
}

// TestNewKeys_AlgorithmsOptions: an algorithm Keys cannot sign with is
// refused at start, wherever it is listed, and nothing is stored.
func TestNewKeys_AlgorithmsOptions(t *testing.T) {
	for _, algs := range [][]string{{"HS256"}, {ES256, "none"}, {"rs256"}, {""}, {RS256, "PS256"}} {
		t.Run(strings.Join(algs, ","), func(t *testing.T) {
			st := newMemKeyStore()
			_, err := NewKeys(t.Context(), KeysOptions{Store: st, SealKey: newSealKey(t), Algorithms: algs})
			if err == nil || !strings.Contains(err.Error(), "unknown signing algorithm") {
				t.Errorf("NewKeys(Algorithms %q) = %v, want an unknown-algorithm error", algs, err)
			}
			if n := st.count(); n != 0 {
				t.Errorf("a refused NewKeys stored %d keys", n)
			}
		})
	}
}

// TestSignWith_EachAlgorithmVerifies (OpenID Connect Registration §2,
// id_token_signed_response_alg; Discovery §3): SignWith signs with the
// active key of the algorithm asked for; its tokens, typed JWT (ID tokens)
// or logout+jwt (Back-Channel Logout §2.4), verify with Verify and
// independently with go-jose against the published JWKS.
func TestSignWith_EachAlgorithmVerifies(t *testing.T) {
	f := newServerFixture(t)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(f.keys.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	for _, alg := range allAlgs {
		for _, typ := range []string{TypeIDToken, TypeLogoutToken} {
			t.Run(alg+"/"+typ, func(t *testing.T) {
				want := testIDClaims(f.clk.Now())
				tok := mustSignWith(t, f.keys, alg, typ, want)
				kid := activeKidOf(t, f.keys, alg)
				if h := tokenHeader(t, tok); !reflect.DeepEqual(h, map[string]any{"alg": alg, "kid": kid, "typ": typ}) {
					t.Errorf("header = %v, want alg %s, kid %s, typ %s", h, alg, kid, typ)
				}
				var got idClaims
				if err := f.keys.Verify(tok, typ, &got); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("claims = %+v, want %+v", got, want)
				}
				rejects(t, f.keys, tok, TypeAccessToken, typ+" is not an access token")

				jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
				if err != nil {
					t.Fatal(err)
				}
				keys := set.Key(kid)
				if len(keys) != 1 || keys[0].Algorithm != alg {
					t.Fatalf("JWKS has %d keys with kid %s (%v)", len(keys), kid, keys)
				}
				if _, err := jws.Verify(keys[0]); err != nil {
					t.Errorf("go-jose rejects the token with the published key: %v", err)
				}
			})
		}
	}
	t.Run("unknown_algorithm", func(t *testing.T) {
		for _, alg := range []string{"HS256", "none", "rs256", "", "PS256"} {
			_, err := f.keys.SignWith(alg, TypeIDToken, testIDClaims(f.clk.Now()))
			if err == nil || errors.Is(err, ErrNoSigningKey) || !strings.Contains(err.Error(), "unknown signing algorithm") {
				t.Errorf("SignWith(%q) = %v, want an unknown-algorithm error", alg, err)
			}
		}
	})
	t.Run("unmarshalable_claims", func(t *testing.T) {
		if _, err := f.keys.SignWith(RS256, TypeIDToken, func() {}); err == nil {
			t.Error("SignWith of a func succeeded")
		}
	})
	t.Run("algorithm_without_a_key", func(t *testing.T) {
		g := newFixture(t, ES256)
		if _, err := g.keys.SignWith(RS256, TypeIDToken, testIDClaims(g.clk.Now())); !errors.Is(err, ErrNoSigningKey) {
			t.Errorf("SignWith(RS256) with no RS256 key = %v, want ErrNoSigningKey", err)
		}
	})
}

// TestSignWith_TypHeadersCached: the headers of typ at+jwt, JWT and
// logout+jwt are encoded once per key, when it is loaded, so signing an ID
// or logout token costs what signing an access token does; other types are
// encoded per call.
func TestSignWith_TypHeadersCached(t *testing.T) {
	f := newServerFixture(t)
	for _, alg := range allAlgs {
		kk := f.keys.set.Load().byID[activeKidOf(t, f.keys, alg)]
		for _, typ := range []string{TypeAccessToken, TypeIDToken, TypeLogoutToken} {
			if got, want := kk.header(typ), encodeHeader(alg, kk.id, typ); got != want {
				t.Errorf("%s %s header = %s, want %s", alg, typ, got, want)
			}
			if n := testing.AllocsPerRun(100, func() { _ = kk.header(typ) }); n != 0 {
				t.Errorf("%s %s header costs %v allocations per token, want 0 (cached)", alg, typ, n)
			}
		}
		if n := testing.AllocsPerRun(100, func() { _ = kk.header("secevent+jwt") }); n == 0 {
			t.Errorf("an uncached typ costs no allocation: the check above proves nothing")
		}
	}
}

// TestOIDC_3_1_2_1_ExpiredIDTokenHintVerifies: an ID token used as
// id_token_hint is "a hint about the End-User's current or past
// authenticated session" (OpenID Connect Core §3.1.2.1), so our own expired
// ID token must still verify: Verify leaves exp to the caller, for tokens
// of every algorithm, as long as the key is not retired.
func TestOIDC_3_1_2_1_ExpiredIDTokenHintVerifies(t *testing.T) {
	f := newServerFixture(t)
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			c := testIDClaims(f.clk.Now().Add(-2 * time.Hour)) // expired an hour ago
			tok := mustSignWith(t, f.keys, alg, TypeIDToken, c)
			var got idClaims
			if err := f.keys.Verify(tok, TypeIDToken, &got); err != nil {
				t.Fatalf("Verify of an expired ID token = %v, want success (exp is the caller's)", err)
			}
			if got.Expiry != c.Expiry || got.Subject != c.Subject {
				t.Errorf("claims = %+v", got)
			}
		})
	}
}

// TestSign_DefaultAlgorithmOnly: Sign (access tokens) uses the default
// algorithm's key even when a key of another algorithm is newer, and never
// falls back to another algorithm when the default has no active key.
func TestSign_DefaultAlgorithmOnly(t *testing.T) {
	f := newServerFixture(t)
	ctx := t.Context()
	es := activeKid(t, f.keys)
	f.clk.Advance(time.Minute)
	rs, err := Rotate(ctx, f.st, f.sealKey, RS256, f.clk.Now(), 0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.keys.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if f.keys.set.Load().keys[0].id != rs.ID {
		t.Fatal("the rotated RS256 key is not the newest")
	}
	tok := mustSign(t, f.keys, testClaims(f.clk.Now()))
	if h := tokenHeader(t, tok); h["alg"] != ES256 || h["kid"] != es {
		t.Errorf("Sign header = %v, want the ES256 key %s", h, es)
	}
	if kid := kidOf(t, mustSignWith(t, f.keys, RS256, TypeIDToken, testIDClaims(f.clk.Now()))); kid != rs.ID {
		t.Errorf("SignWith(RS256) uses %s, want the rotated key %s", kid, rs.ID)
	}

	t.Run("no_fallback", func(t *testing.T) {
		if err := f.st.DeleteSigningKey(ctx, es); err != nil {
			t.Fatal(err)
		}
		if err := f.keys.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := f.keys.Sign(TypeAccessToken, testClaims(f.clk.Now())); !errors.Is(err, ErrNoSigningKey) {
			t.Errorf("Sign with no ES256 key = %v, want ErrNoSigningKey", err)
		}
		if got := f.keys.SigningAlgorithms(); !reflect.DeepEqual(got, []string{RS256, EdDSA}) {
			t.Errorf("SigningAlgorithms = %v, want [RS256 EdDSA]", got)
		}
		mustSignWith(t, f.keys, EdDSA, TypeIDToken, testIDClaims(f.clk.Now()))
	})
}

// TestRotate_PerAlgorithm: rotating one algorithm's key schedules the
// retirement of older keys of that algorithm only; the other algorithms'
// keys stay active, unretired and signing, and List shows one active key
// per algorithm throughout.
func TestRotate_PerAlgorithm(t *testing.T) {
	const delay, lifetime = 5 * time.Minute, time.Hour
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			f := newServerFixture(t)
			ctx := t.Context()
			old := map[string]string{}
			for _, a := range allAlgs {
				old[a] = activeKidOf(t, f.keys, a)
			}
			nk, err := Rotate(ctx, f.st, f.sealKey, alg, f.clk.Now(), delay, lifetime)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.keys.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			for a, kid := range old {
				row, _ := f.st.get(kid)
				switch {
				case a == alg && !row.RetireAt.Equal(nk.ActiveAt.Add(lifetime)):
					t.Errorf("old %s key RetireAt = %v, want %v", a, row.RetireAt, nk.ActiveAt.Add(lifetime))
				case a != alg && !row.RetireAt.IsZero():
					t.Errorf("rotating %s scheduled the %s key's retirement at %v", alg, a, row.RetireAt)
				}
			}
			assertActive := func(t *testing.T, want map[string]string) {
				t.Helper()
				st := states(t, f.st, f.clk.Now())
				for a, kid := range want {
					if got := activeKidOf(t, f.keys, a); got != kid {
						t.Errorf("%s signs with %s, want %s", a, got, kid)
					}
					if st[kid] != StateActive {
						t.Errorf("%s key %s is %s, want active", a, kid, st[kid])
					}
				}
				if got := f.keys.SigningAlgorithms(); !reflect.DeepEqual(got, []string{RS256, ES256, EdDSA}) {
					t.Errorf("SigningAlgorithms = %v", got)
				}
			}
			t.Run("before_active_at", func(t *testing.T) {
				assertActive(t, old)
				if got := states(t, f.st, f.clk.Now())[nk.ID]; got != StateNext {
					t.Errorf("new key is %s, want next", got)
				}
			})
			f.clk.Advance(delay)
			t.Run("after_active_at", func(t *testing.T) {
				want := map[string]string{}
				for a, kid := range old {
					want[a] = kid
				}
				want[alg] = nk.ID
				assertActive(t, want)
				if got := states(t, f.st, f.clk.Now())[old[alg]]; got != StatePublished {
					t.Errorf("old %s key is %s, want published", alg, got)
				}
			})
			f.clk.Advance(lifetime)
			t.Run("after_retirement", func(t *testing.T) {
				if jwksHas(f.keys, old[alg]) {
					t.Errorf("the old %s key is still published", alg)
				}
				for a, kid := range old {
					if a != alg && !jwksHas(f.keys, kid) {
						t.Errorf("the %s key left the JWKS when %s rotated", a, alg)
					}
				}
			})
		})
	}
	t.Run("pending_key_of_another_algorithm_not_outranked", func(t *testing.T) {
		// A pending EdDSA key with a later ActiveAt would have been retired
		// by an ES256 rotation when keys of every algorithm competed.
		f := newServerFixture(t)
		ctx := t.Context()
		slow, err := Rotate(ctx, f.st, f.sealKey, EdDSA, f.clk.Now(), time.Hour, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Rotate(ctx, f.st, f.sealKey, ES256, f.clk.Now(), 0, time.Hour); err != nil {
			t.Fatal(err)
		}
		if row, _ := f.st.get(slow.ID); !row.RetireAt.IsZero() {
			t.Errorf("the pending EdDSA key got RetireAt %v from an ES256 rotation", row.RetireAt)
		}
	})
}

// TestNewKeys_RaceOnEmptyStorePerAlgorithm: two nodes starting at once on
// an empty store may each create a key of every algorithm; after a reload
// both sign each algorithm with the same key and verify each other's
// tokens.
func TestNewKeys_RaceOnEmptyStorePerAlgorithm(t *testing.T) {
	st, sealKey, clk := newMemKeyStore(), newSealKey(t), newClock()
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
			nodes[i], errs[i] = NewKeys(t.Context(), KeysOptions{Store: st, SealKey: sealKey, Algorithm: ES256, Algorithms: allAlgs, Now: clk.Now})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, alg := range allAlgs {
		if n := st.countAlg(alg, clk.Now()); n != 2 {
			t.Errorf("store has %d %s keys, want 2 (one per node)", n, alg)
		}
	}
	for _, n := range nodes {
		if err := n.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	assertSameSignerPerAlgorithm(t, nodes[0], nodes[1])
}

// assertSameSignerPerAlgorithm checks that two nodes sign each algorithm
// with the same key, verify each other's tokens and publish one JWKS.
func assertSameSignerPerAlgorithm(t *testing.T, a, b *Keys) {
	t.Helper()
	assertSameSigner(t, a, b)
	now := a.now()
	for _, alg := range allAlgs {
		ta := mustSignWith(t, a, alg, TypeIDToken, testIDClaims(now))
		tb := mustSignWith(t, b, alg, TypeIDToken, testIDClaims(now))
		if kidOf(t, ta) != kidOf(t, tb) {
			t.Errorf("%s: nodes sign with different keys: %s and %s", alg, kidOf(t, ta), kidOf(t, tb))
		}
		var c idClaims
		if err := a.Verify(tb, TypeIDToken, &c); err != nil {
			t.Errorf("%s: a rejects b's token: %v", alg, err)
		}
		if err := b.Verify(ta, TypeIDToken, &c); err != nil {
			t.Errorf("%s: b rejects a's token: %v", alg, err)
		}
	}
	if !reflect.DeepEqual(a.SigningAlgorithms(), b.SigningAlgorithms()) {
		t.Errorf("nodes offer different algorithms: %v and %v", a.SigningAlgorithms(), b.SigningAlgorithms())
	}
}
