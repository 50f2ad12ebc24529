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
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// memReplay is an in-memory Replay: the verifier's contract, not the
// store's (the store's UseOnce has its own conformance suite).
type memReplay struct {
	mu   sync.Mutex
	seen map[string]bool
}

var errUsed = errors.New("used")

func (m *memReplay) UseOnce(_ context.Context, scope, id string, _, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen[scope+" "+id] {
		return errUsed
	}
	m.seen[scope+" "+id] = true
	return nil
}

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func newVerifier() *Verifier {
	return &Verifier{Replay: &memReplay{seen: map[string]bool{}}, ReplayUsed: errUsed, NonceKey: []byte("nonce key of thirty-two bytes!!!"),
		Now: func() time.Time { return now }}
}

// sign makes a proof with key and alg, its header (typ, jwk) edited by
// header and its claims by claims.
func sign(t testing.TB, key crypto.Signer, alg jose.SignatureAlgorithm, claims map[string]any, opts ...func(*jose.SignerOptions)) string {
	t.Helper()
	o := (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt")
	for _, f := range opts {
		f(o)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, o)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func claims(edit func(map[string]any)) map[string]any {
	c := map[string]any{"jti": "j-" + strings.Repeat("x", 8), "htm": "POST", "htu": "https://auth.example/token", "iat": now.Unix()}
	if edit != nil {
		edit(c)
	}
	return c
}

var tokenRequest = Request{Method: "POST", URL: "https://auth.example/token"}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestRFC9449_4_3_ProofChecks: each check of §4.3 refuses the proof that
// breaks it, and a proof that keeps them all is accepted with its key's
// thumbprint.
func TestRFC9449_4_3_ProofChecks(t *testing.T) {
	key := ecKey(t)
	jkt, _ := Thumbprint(&jose.JSONWebKey{Key: key.Public()})
	at := "an-access-token"
	sum := sha256.Sum256([]byte(at))
	ath := base64.RawURLEncoding.EncodeToString(sum[:])
	hmacSigner := func(t testing.TB) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(strings.Repeat("k", 32))}, (&jose.SignerOptions{}).WithType("dpop+jwt"))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := json.Marshal(claims(nil))
		j, _ := s.Sign(p)
		out, _ := j.CompactSerialize()
		return out
	}
	tests := []struct {
		name  string
		proof func(t testing.TB) string
		req   Request
		want  error
	}{
		{"valid_ES256", func(t testing.TB) string { return sign(t, key, jose.ES256, claims(nil)) }, tokenRequest, nil},
		{"htu_query_and_fragment_ignored", func(t testing.TB) string {
			return sign(t, key, jose.ES256, claims(func(c map[string]any) { c["htu"] = "https://AUTH.example:443/token?x=1#f" }))
		}, tokenRequest, nil},
		{"step5_typ_not_dpop", func(t testing.TB) string {
			return sign(t, key, jose.ES256, claims(nil), func(o *jose.SignerOptions) { o.WithType("JWT") })
		}, tokenRequest, ErrInvalid},
		{"step5_symmetric_alg", hmacSigner, tokenRequest, ErrInvalid},
		{"step5_alg_none", func(t testing.TB) string {
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"dpop+jwt","alg":"none"}`))
			p, _ := json.Marshal(claims(nil))
			return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
		}, tokenRequest, ErrInvalid},
		{"step6_no_jwk", func(t testing.TB) string {
			return sign(t, key, jose.ES256, claims(nil), func(o *jose.SignerOptions) { o.EmbedJWK = false })
		}, tokenRequest, ErrInvalid},
		{"step4_missing_jti", func(t testing.TB) string {
			return sign(t, key, jose.ES256, claims(func(c map[string]any) { delete(c, "jti") }))
		}, tokenRequest, ErrInvalid},
		{"step8_wrong_htm", func(t testing.TB) string {
			return sign(t, key, jose.ES256, claims(func(c map[string]any) { c["htm"] = "GET" }))
		}, tokenRequest, ErrInvalid},
		{"step9_wrong_path", func(t testing.TB) string {
			return sign(t, key, jose.ES256, claims(func(c map[string]any) { c["htu"] = "https://auth.example/userinfo" }))
		}, tokenRequest, ErrInvalid},
		{"step9_wrong_host", func(t testing.TB) string {
			return sign(t, key, jose.ES256, claims(func(c map[string]any) { c["htu"] = "https://evil.example/token" }))
		}, tokenRequest, ErrInvalid},
		{"step9_http_for_https", func(t testing.TB) string {
			return sign(t, key, jose.ES256, claims(func(c map[string]any) { c["htu"] = "http://auth.example/token" }))
		}, tokenRequest, ErrInvalid},
		{"step11_iat_too_old", func(t testing.TB) string {
			return sign(t, key, jose.ES256, claims(func(c map[string]any) { c["iat"] = now.Add(-MaxAge - time.Second).Unix() }))
		}, tokenRequest, ErrInvalid},
		{"step11_iat_in_the_future", func(t testing.TB) string {
			return sign(t, key, jose.ES256, claims(func(c map[string]any) { c["iat"] = now.Add(MaxFuture + time.Second).Unix() }))
		}, tokenRequest, ErrInvalid},
		{"step11_iat_missing", func(t testing.TB) string {
			return sign(t, key, jose.ES256, claims(func(c map[string]any) { delete(c, "iat") }))
		}, tokenRequest, ErrInvalid},
		{"step12_ath_matches", func(t testing.TB) string {
			return sign(t, key, jose.ES256, claims(func(c map[string]any) { c["ath"] = ath }))
		}, Request{Method: "POST", URL: "https://auth.example/token", AccessToken: at}, nil},
		{"step12_ath_missing", func(t testing.TB) string { return sign(t, key, jose.ES256, claims(nil)) },
			Request{Method: "POST", URL: "https://auth.example/token", AccessToken: at}, ErrInvalid},
		{"step12_ath_of_another_token", func(t testing.TB) string {
			return sign(t, key, jose.ES256, claims(func(c map[string]any) { c["ath"] = ath }))
		}, Request{Method: "POST", URL: "https://auth.example/token", AccessToken: "another"}, ErrInvalid},
		{"signature_of_another_key", func(t testing.TB) string {
			p := sign(t, key, jose.ES256, claims(nil))
			other := sign(t, ecKey(t), jose.ES256, claims(nil))
			parts, o := strings.Split(p, "."), strings.Split(other, ".")
			return parts[0] + "." + parts[1] + "." + o[2]
		}, tokenRequest, ErrInvalid},
		{"oversized", func(t testing.TB) string { return strings.Repeat("a", maxProofBytes) + ".b.c" }, tokenRequest, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := newVerifier().Verify(t.Context(), tc.proof(t), tc.req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if tc.want == nil && got.JKT != jkt {
				t.Fatalf("jkt %q, want %q", got.JKT, jkt)
			}
		})
	}
}

// TestRFC9449_4_3_OtherAlgorithms: EdDSA, RS256 and PS256 keys work too.
func TestRFC9449_4_3_OtherAlgorithms(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for alg, key := range map[jose.SignatureAlgorithm]crypto.Signer{jose.EdDSA: ed, jose.RS256: rk, jose.PS256: rk} {
		if _, err := newVerifier().Verify(t.Context(), sign(t, key, alg, claims(nil)), tokenRequest); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
}

// TestRFC9449_11_1_ProofReplay: the same proof twice is refused; the same
// jti under another key is another proof.
func TestRFC9449_11_1_ProofReplay(t *testing.T) {
	v := newVerifier()
	p := sign(t, ecKey(t), jose.ES256, claims(nil))
	if _, err := v.Verify(t.Context(), p, tokenRequest); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), p, tokenRequest); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v, want ErrReplayed", err)
	}
	if _, err := v.Verify(t.Context(), sign(t, ecKey(t), jose.ES256, claims(nil)), tokenRequest); err != nil {
		t.Fatalf("the same jti under another key: %v", err)
	}
}

// TestRFC9449_8_ServerNonces: when required, a proof without the nonce or
// with a stale one asks for the current one; the current and the previous
// slot's nonce pass; nonces are the same on every verifier with the key.
func TestRFC9449_8_ServerNonces(t *testing.T) {
	key := ecKey(t)
	v := newVerifier()
	v.RequireNonce = true
	withNonce := func(n string) string {
		return sign(t, key, jose.ES256, claims(func(c map[string]any) { c["nonce"] = n; c["jti"] = n + "-jti" }))
	}
	if _, err := v.Verify(t.Context(), sign(t, key, jose.ES256, claims(nil)), tokenRequest); !errors.Is(err, ErrUseNonce) {
		t.Fatalf("no nonce: %v, want ErrUseNonce", err)
	}
	other := newVerifier() // another node, the same key
	if v.Nonce(now) != other.Nonce(now) {
		t.Fatal("two nodes with one key give different nonces")
	}
	if _, err := v.Verify(t.Context(), withNonce(other.Nonce(now)), tokenRequest); err != nil {
		t.Fatalf("current nonce: %v", err)
	}
	if _, err := v.Verify(t.Context(), withNonce(v.Nonce(now.Add(-NonceLifetime))), tokenRequest); err != nil {
		t.Fatalf("previous slot's nonce: %v", err)
	}
	if _, err := v.Verify(t.Context(), withNonce(v.Nonce(now.Add(-2*NonceLifetime))), tokenRequest); !errors.Is(err, ErrUseNonce) {
		t.Fatalf("a nonce two slots old: %v, want ErrUseNonce", err)
	}
	if _, err := v.Verify(t.Context(), withNonce("made-up"), tokenRequest); !errors.Is(err, ErrUseNonce) {
		t.Fatalf("a made-up nonce: %v, want ErrUseNonce", err)
	}
}

// TestRFC7638_3_1_Thumbprint: the thumbprint of RFC 7638's example key.
func TestRFC7638_3_1_Thumbprint(t *testing.T) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON([]byte(`{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`)); err != nil {
		t.Fatal(err)
	}
	if got, _ := Thumbprint(&k); got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("thumbprint %q", got)
	}
}

// FuzzDPoPProof (SECURITY.md F9): never panics, accepts only proofs whose
// htu names the request's URL, and the compact reader and go-jose agree.
func FuzzDPoPProof(f *testing.F) {
	key := ecKey(f)
	f.Add(sign(f, key, jose.ES256, claims(nil)), "POST", "https://auth.example/token")
	f.Add("a.b.c", "GET", "https://auth.example/userinfo")
	f.Add(strings.Repeat(".", 1000), "POST", "")
	f.Fuzz(func(t *testing.T, proof, method, u string) {
		p, err := bothReaders(t, proof, Request{Method: method, URL: u}, false)
		if err == nil && (p.JKT == "" || !sameHTU("https://auth.example/token", u) && !strings.Contains(u, "://")) {
			t.Fatalf("accepted %q for %s %s", proof, method, u)
		}
	})
}
