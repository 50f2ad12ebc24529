package dpop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// fuzzKeys are the keys FuzzCompactAgreesWithJOSE signs with: EC P-256
// and P-384, RSA, Ed25519.
func fuzzKeys(t testing.TB) []crypto.Signer {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	return []crypto.Signer{p256, p384, rk, ed}
}

// rawSign signs input with key: ES256 or ES384 by its curve, RS256 or
// (pss) PS256, EdDSA.
func rawSign(t testing.TB, key crypto.Signer, input string, pss bool) []byte {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		size, digest := 32, sha256.Sum256([]byte(input))
		d := digest[:]
		if k.Curve == elliptic.P384() {
			d384 := sha512.Sum384([]byte(input))
			size, d = 48, d384[:]
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, d)
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 2*size)
		r.FillBytes(sig[:size])
		s.FillBytes(sig[size:])
		return sig
	case *rsa.PrivateKey:
		d := sha256.Sum256([]byte(input))
		var sig []byte
		var err error
		if pss {
			sig, err = rsa.SignPSS(rand.Reader, k, crypto.SHA256, d[:], nil)
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
		}
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case ed25519.PrivateKey:
		return ed25519.Sign(k, []byte(input))
	}
	t.Fatalf("key %T", key)
	return nil
}

// errClass names the kind of a verification error, as callers tell them
// apart.
func errClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrReplayed):
		return "replayed"
	case errors.Is(err, ErrUseNonce):
		return "use-nonce"
	case errors.Is(err, ErrInvalid):
		return "invalid"
	}
	return "other: " + err.Error()
}

// bothReaders verifies proof with the compact reader (its key cached by an
// earlier attempt for another request, when warm) and with go-jose alone,
// each with a fresh replay set, and fails the test if they disagree.
func bothReaders(t *testing.T, proof string, req Request, warm bool) (Proof, error) {
	t.Helper()
	fast, slow := newVerifier(), newVerifier()
	slow.joseOnly = true
	if warm {
		fast.Verify(context.Background(), proof, Request{Method: "PATCH", URL: "https://elsewhere.example/"})
	}
	pf, ef := fast.Verify(context.Background(), proof, req)
	ps, es := slow.Verify(context.Background(), proof, req)
	if errClass(ef) != errClass(es) || pf != ps {
		t.Fatalf("the readers disagree on %q:\ncompact: %+v %v\ngo-jose: %+v %v", proof, pf, ef, ps, es)
	}
	return pf, ef
}

// FuzzCompactAgreesWithJOSE: the hand-written reader of proofs and
// go-jose accept and refuse the same proofs, with the same claims, key
// thumbprint and algorithm, whether the key comes from the cache or not.
// The header's JWK and PRIV stand for the signing key's public and
// private JWK; the proof is signed with that key whatever its alg says.
func FuzzCompactAgreesWithJOSE(f *testing.F) {
	keys := fuzzKeys(f)
	payload := `{"jti":"j1","htm":"POST","htu":"https://auth.example/token","iat":` + strconv.FormatInt(now.Unix(), 10) + `}`
	for _, h := range []string{
		`{"typ":"dpop+jwt","alg":"ES256","jwk":JWK}`,
		`{"alg":"ES256","jwk":JWK,"typ":"dpop+jwt"}`,
		` { "typ" : "dpop+jwt" ,` + "\n" + `"alg":"ES256", "jwk" : JWK } `,
		`{"typ":"dpop+jwt","alg":"ES256","jwk":JWK,"kid":"k1"}`,
		`{"typ":"dpop+jwt","alg":"ES256","jwk":JWK,"kid":5}`,
		`{"typ":"dpop+jwt","alg":"ES256","jwk":JWK,"alg":"ES256"}`,
		`{"typ":"dpop+jwt","alg":"ES256","alg":"RS256","jwk":JWK}`,
		`{"typ":"dpop\u002bjwt","alg":"ES256","jwk":JWK}`,
		`{"TYP":"dpop+jwt","alg":"ES256","jwk":JWK}`,
		`{"typ":"jwt","alg":"ES256","jwk":JWK}`,
		`{"typ":"dpop+jwt","alg":"RS256","jwk":JWK}`,
		`{"typ":"dpop+jwt","alg":"PS256","jwk":JWK}`,
		`{"typ":"dpop+jwt","alg":"ES384","jwk":JWK}`,
		`{"typ":"dpop+jwt","alg":"EdDSA","jwk":JWK}`,
		`{"typ":"dpop+jwt","alg":"none","jwk":JWK}`,
		`{"typ":"dpop+jwt","alg":"HS256","jwk":JWK}`,
		`{"typ":"dpop+jwt","alg":"ES256","jwk":PRIV}`,
		`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"oct","k":"c2VjcmV0"}}`,
		`{"typ":"dpop+jwt","alg":"ES256","jwk":null}`,
		`{"typ":"dpop+jwt","alg":"ES256"}`,
		`{"typ":"dpop+jwt","alg":"ES256","jwk":JWK,"crit":["exp"]}`,
		`{"typ":"dpop+jwt","alg":"ES256","jwk":JWK,"crit":null}`,
		`{"typ":"dpop+jwt","alg":"ES256","jwk":JWK}x`,
		`[{"typ":"dpop+jwt","alg":"ES256","jwk":JWK}]`,
		`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}}`,
	} {
		for k := range keys {
			f.Add(h, payload, uint8(k), false, false)
		}
	}
	f.Add(`{"typ":"dpop+jwt","alg":"PS256","jwk":JWK}`, payload, uint8(2), true, false)
	f.Add(`{"typ":"dpop+jwt","alg":"ES256","jwk":JWK}`, `{"jti":"j1","htm":"POST","htu":"https://auth.example/token","iat":1}`, uint8(0), false, false)
	f.Add(`{"typ":"dpop+jwt","alg":"ES256","jwk":JWK}`, payload, uint8(0), false, true)
	f.Fuzz(func(t *testing.T, header, payload string, k uint8, pss, padded bool) {
		key := keys[int(k)%len(keys)]
		pub, _ := json.Marshal(jose.JSONWebKey{Key: key.Public()})
		priv, _ := json.Marshal(jose.JSONWebKey{Key: key})
		header = strings.ReplaceAll(strings.ReplaceAll(header, "JWK", string(pub)), "PRIV", string(priv))
		input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
		proof := input + "." + base64.RawURLEncoding.EncodeToString(rawSign(t, key, input, pss))
		if padded { // a non-canonical last character: another text, the same bytes
			proof = proof[:len(proof)-1] + string(proof[len(proof)-1]^1)
		}
		for _, warm := range []bool{false, true} {
			bothReaders(t, proof, tokenRequest, warm)
		}
	})
}

// TestCompactReaderTakesTheUsualProofs: a proof of the usual shape, from
// each kind of key, is read without go-jose and its key is cached.
func TestCompactReaderTakesTheUsualProofs(t *testing.T) {
	for _, tc := range []struct {
		key crypto.Signer
		alg jose.SignatureAlgorithm
	}{{ecKey(t), jose.ES256}, {fuzzKeys(t)[1], jose.ES384}, {fuzzKeys(t)[2], jose.PS256}, {fuzzKeys(t)[2], jose.RS256}, {fuzzKeys(t)[3], jose.EdDSA}} {
		v := newVerifier()
		p := sign(t, tc.key, tc.alg, claims(nil))
		alg, jkt, _, ok, err := v.readCompact(p)
		want, _ := Thumbprint(&jose.JSONWebKey{Key: tc.key.Public()})
		if !ok || err != nil || alg != string(tc.alg) || jkt != want || len(v.keys.keys) != 1 {
			t.Fatalf("%s: ok %v, err %v, alg %s, jkt %s (want %s), %d keys cached", tc.alg, ok, err, alg, jkt, want, len(v.keys.keys))
		}
		if _, err := v.Verify(t.Context(), p, tokenRequest); err != nil {
			t.Fatalf("%s: %v", tc.alg, err)
		}
	}
}

// TestKeyCacheIsBounded: the key cache holds at most keyCacheMax keys.
func TestKeyCacheIsBounded(t *testing.T) {
	var c keyCache
	for i := range keyCacheMax + 10 {
		c.put([]byte(strconv.Itoa(i)), cachedKey{jkt: "x"})
	}
	if len(c.keys) != keyCacheMax {
		t.Fatalf("%d keys cached, want %d", len(c.keys), keyCacheMax)
	}
}

// BenchmarkVerify: one proof verified per iteration, ES256 and EdDSA, by
// the compact reader with its key cached and by go-jose (bench/README.md,
// cc-dpop).
func BenchmarkVerify(b *testing.B) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	keys := []struct {
		alg jose.SignatureAlgorithm
		key crypto.Signer
	}{{jose.ES256, ecKey(b)}, {jose.EdDSA, ed}}
	for _, k := range keys {
		for _, joseOnly := range []bool{false, true} {
			b.Run(string(k.alg)+"/"+map[bool]string{false: "compact", true: "go-jose"}[joseOnly], func(b *testing.B) {
				benchmarkVerify(b, k.key, k.alg, joseOnly)
			})
		}
	}
}

// benchmarkVerify verifies b.N proofs of key, each with its own jti.
func benchmarkVerify(b *testing.B, key crypto.Signer, alg jose.SignatureAlgorithm, joseOnly bool) {
	v := &Verifier{Memory: NewMemoryReplay(1 << 20), Started: now.Add(-time.Hour), Now: func() time.Time { return now }, joseOnly: joseOnly}
	proofs := make([]string, b.N)
	for i := range proofs {
		proofs[i] = sign(b, key, alg, claims(func(c map[string]any) { c["jti"] = strconv.Itoa(i) }))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := v.Verify(context.Background(), proofs[i], tokenRequest); err != nil {
			b.Fatal(err)
		}
	}
}
