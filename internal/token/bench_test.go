package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// The Sign benchmarks measure the hot path of the token endpoint; the Raw
// ones the least any JWT signer must do (marshal the same claims, hash,
// sign), so that Sign's overhead shows as a ratio in one run:
//
//	go test -run='^$' -bench=. -benchmem ./internal/token/

func benchSign(b *testing.B, alg string) {
	f := newFixture(b, alg)
	c := testClaims(f.clk.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.keys.Sign(TypeAccessToken, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignES256(b *testing.B) { benchSign(b, ES256) }
func BenchmarkSignEdDSA(b *testing.B) { benchSign(b, EdDSA) }
func BenchmarkSignRS256(b *testing.B) { benchSign(b, RS256) }

// BenchmarkSignES256AllAlgorithms is Sign as the server runs it: ES256
// access tokens with a key of every algorithm loaded (for ID tokens), the
// newest of which may be another algorithm's.
func BenchmarkSignES256AllAlgorithms(b *testing.B) {
	f := newServerFixture(b)
	c := testClaims(f.clk.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.keys.Sign(TypeAccessToken, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawES256 is the baseline of BenchmarkSignES256: json.Marshal of
// the same claims, SHA-256 and ecdsa.SignASN1, nothing else.
func BenchmarkRawES256(b *testing.B) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c := testClaims(newClock().Now())
	b.ReportAllocs()
	for b.Loop() {
		p, _ := json.Marshal(c)
		h := sha256.Sum256(p)
		if _, err := ecdsa.SignASN1(rand.Reader, priv, h[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawEdDSA is the baseline of BenchmarkSignEdDSA.
func BenchmarkRawEdDSA(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	c := testClaims(newClock().Now())
	b.ReportAllocs()
	for b.Loop() {
		p, _ := json.Marshal(c)
		ed25519.Sign(priv, p)
	}
}

// BenchmarkRawRS256 is the baseline of BenchmarkSignRS256.
func BenchmarkRawRS256(b *testing.B) {
	priv, _ := rsa.GenerateKey(rand.Reader, rsaBits)
	c := testClaims(newClock().Now())
	b.ReportAllocs()
	for b.Loop() {
		p, _ := json.Marshal(c)
		h := sha256.Sum256(p)
		if _, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, h[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGoJoseSignES256 is what Sign would cost through go-jose's
// signer (built once, with kid and typ), for the record of why Sign does
// not use it.
func BenchmarkGoJoseSignES256(b *testing.B) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	opts := (&jose.SignerOptions{}).WithType(TypeAccessToken).WithHeader(jose.HeaderKey("kid"), NewKeyID())
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv}, opts)
	if err != nil {
		b.Fatal(err)
	}
	c := testClaims(newClock().Now())
	b.ReportAllocs()
	for b.Loop() {
		p, _ := json.Marshal(c)
		jws, err := signer.Sign(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jws.CompactSerialize(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchVerify(b *testing.B, alg string) {
	f := newFixture(b, alg)
	tok := mustSign(b, f.keys, testClaims(f.clk.Now()))
	var c AccessClaims
	b.ReportAllocs()
	for b.Loop() {
		if err := f.keys.Verify(tok, TypeAccessToken, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyES256(b *testing.B) { benchVerify(b, ES256) }
func BenchmarkVerifyEdDSA(b *testing.B) { benchVerify(b, EdDSA) }

// BenchmarkVerifyRejectDots is the cost of refusing a megabyte of dots.
func BenchmarkVerifyRejectDots(b *testing.B) {
	f := newFixture(b, ES256)
	dots := strings.Repeat(".", 1<<20)
	var c AccessClaims
	b.ReportAllocs()
	for b.Loop() {
		_ = f.keys.Verify(dots, TypeAccessToken, &c)
	}
}
