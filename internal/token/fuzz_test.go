package token

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fuzz keys: ES256 and EdDSA are derived from fixed bytes, so that tokens
// in the committed corpus (testdata/fuzz/FuzzVerify) stay valid; the RSA
// key is generated once per process.
const (
	fuzzKidES256 = "fuzz-es256-key-0000001"
	fuzzKidEdDSA = "fuzz-eddsa-key-0000001"
	fuzzKidRS256 = "fuzz-rs256-key-0000001"
)

var fuzzTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fuzzSetup struct {
	keys *Keys
	pubs map[string]crypto.PublicKey // the oracle's own copy, by kid
	algs map[string]string
}

var (
	fuzzOnce sync.Once
	fuzzSet  fuzzSetup
	fuzzErr  error
)

func fuzzKeys(t testing.TB) fuzzSetup {
	t.Helper()
	fuzzOnce.Do(func() {
		ecPriv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{0x42}, 32))
		if err != nil {
			fuzzErr = err
			return
		}
		edPriv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x17}, ed25519.SeedSize))
		rsaPriv, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			fuzzErr = err
			return
		}
		sealKey := bytes.Repeat([]byte{0x5e}, 32)
		st := newMemKeyStore()
		fuzzSet = fuzzSetup{pubs: map[string]crypto.PublicKey{}, algs: map[string]string{}}
		for _, k := range []struct {
			id, alg string
			priv    crypto.Signer
		}{{fuzzKidES256, ES256, ecPriv}, {fuzzKidEdDSA, EdDSA, edPriv}, {fuzzKidRS256, RS256, rsaPriv}} {
			row, err := sealKeyRow(k.id, k.alg, k.priv, sealKey, fuzzTime, fuzzTime)
			if err != nil {
				fuzzErr = err
				return
			}
			st.CreateSigningKey(context.Background(), row)
			fuzzSet.pubs[k.id] = k.priv.Public()
			fuzzSet.algs[k.id] = k.alg
		}
		fuzzSet.keys, fuzzErr = NewKeys(context.Background(), KeysOptions{Store: st, SealKey: sealKey, Now: func() time.Time { return fuzzTime }})
	})
	if fuzzErr != nil {
		t.Fatal(fuzzErr)
	}
	return fuzzSet
}

// FuzzVerify (SECURITY.md F6): nothing but a token signed by one of our
// keys, with a header we would write and the wanted typ, ever verifies; a
// refusal is always ErrInvalidToken; no input makes Verify allocate more
// than 64 KiB.
func FuzzVerify(f *testing.F) {
	s := fuzzKeys(f)
	claims := testClaims(fuzzTime)
	p := payloadOf(f, fuzzTime)
	enc := func(v string) string { return b64.EncodeToString([]byte(v)) }
	for kid := range s.pubs {
		tok := signWithHeader(f, s.keys, kid, `{"alg":"`+s.algs[kid]+`","kid":"`+kid+`","typ":"at+jwt"}`, p)
		f.Add(tok)
		f.Add(signWithHeader(f, s.keys, kid, `{"alg":"`+s.algs[kid]+`","kid":"`+kid+`","typ":"application/at+jwt"}`, p))
		f.Add(signWithHeader(f, s.keys, kid, `{"alg":"`+s.algs[kid]+`","kid":"`+kid+`","typ":"JWT"}`, p))
		f.Add(signWithHeader(f, s.keys, kid, `{"alg":"`+s.algs[kid]+`","kid":"`+kid+`","typ":"at+jwt","crit":["exp"]}`, p))
		parts := strings.Split(tok, ".")
		f.Add(enc(`{"alg":"none","kid":"`+kid+`","typ":"at+jwt"}`) + "." + parts[1] + ".")
		mac := hmac.New(sha256.New, s.keys.set.Load().byID[kid].jwk)
		in := enc(`{"alg":"HS256","kid":"`+kid+`","typ":"at+jwt"}`) + "." + parts[1]
		mac.Write([]byte(in))
		f.Add(in + "." + b64.EncodeToString(mac.Sum(nil)))
		f.Add(tok + "." + parts[2])
		f.Add(parts[0] + "." + parts[1] + "." + base64.URLEncoding.EncodeToString([]byte("x")))
		f.Add(`{"protected":"` + parts[0] + `","payload":"` + parts[1] + `","signature":"` + parts[2] + `"}`)
	}
	tok, _ := s.keys.Sign(TypeAccessToken, claims)
	f.Add(tok)
	f.Add("")
	f.Add("..")
	f.Add(strings.Repeat(".", 1<<20))
	f.Add(strings.Repeat("A", MaxTokenSize))

	f.Fuzz(func(t *testing.T, tok string) {
		var c map[string]any
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := s.keys.Verify(tok, TypeAccessToken, &c)
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; len(tok) <= 1<<20 && d > allocBound {
			t.Errorf("Verify allocated %d bytes for %d input bytes", d, len(tok))
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify error %v is not ErrInvalidToken", err)
			}
			return
		}
		if why := notOurs(s, tok); why != "" {
			t.Fatalf("Verify accepted a token that is not ours (%s): %q", why, tok)
		}
	})
}

// notOurs is the fuzz oracle, written independently of Verify with the
// standard library alone: it returns why tok is not a token signed by one
// of our keys in our format, or "" if it is.
func notOurs(s fuzzSetup, tok string) string {
	if len(tok) > MaxTokenSize {
		return "too large"
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "not three segments"
	}
	strict := base64.RawURLEncoding.Strict()
	var dec [3][]byte
	for i, p := range parts {
		b, err := strict.DecodeString(p)
		if err != nil || len(b) == 0 || strict.EncodeToString(b) != p {
			return "segment not canonical base64url"
		}
		dec[i] = b
	}
	var h map[string]any
	if err := json.Unmarshal(dec[0], &h); err != nil {
		return "header not JSON"
	}
	for name, v := range h {
		if _, ok := v.(string); !ok || (name != "alg" && name != "kid" && name != "typ") {
			return "header member " + name
		}
	}
	kid, _ := h["kid"].(string)
	alg, _ := h["alg"].(string)
	typ, _ := h["typ"].(string)
	pub, ok := s.pubs[kid]
	if !ok || s.algs[kid] != alg {
		return "not our kid or alg"
	}
	if l := strings.ToLower(typ); l != "at+jwt" && l != "application/at+jwt" {
		return "typ " + typ
	}
	input := []byte(tok[:len(parts[0])+1+len(parts[1])])
	sig := dec[2]
	digest := sha256.Sum256(input)
	switch alg {
	case ES256:
		if len(sig) != 64 || !ecdsa.Verify(pub.(*ecdsa.PublicKey), digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return "ES256 signature"
		}
	case EdDSA:
		if !ed25519.Verify(pub.(ed25519.PublicKey), input, sig) {
			return "EdDSA signature"
		}
	case RS256:
		if rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, digest[:], sig) != nil {
			return "RS256 signature"
		}
	default:
		return "alg " + alg
	}
	return ""
}

// TestFuzzOracle: the oracle accepts our tokens and refuses a forgery, so
// that FuzzVerify's property is not vacuous.
func TestFuzzOracle(t *testing.T) {
	s := fuzzKeys(t)
	for kid := range s.pubs {
		tok := signWithHeader(t, s.keys, kid, `{"alg":"`+s.algs[kid]+`","kid":"`+kid+`","typ":"at+jwt"}`, payloadOf(t, fuzzTime))
		if why := notOurs(s, tok); why != "" {
			t.Errorf("oracle refuses our %s token: %s", s.algs[kid], why)
		}
		accepts(t, s.keys, tok, TypeAccessToken)
		forged := tok[:len(tok)-4] + "AAAA"
		if notOurs(s, forged) == "" {
			t.Errorf("oracle accepts a forged %s token", s.algs[kid])
		}
	}
}

// TestFuzzCorpus: the committed seeds keep their meaning: the valid ones
// (signed by the fixed fuzz keys) verify, every other one is refused.
func TestFuzzCorpus(t *testing.T) {
	s := fuzzKeys(t)
	valid := map[string]bool{"eddsa_valid": true, "es256_valid": true, "eddsa_application_at_jwt": true}
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			line, ok := strings.CutPrefix(strings.TrimSpace(string(raw)), "go test fuzz v1\nstring(")
			if !ok || !strings.HasSuffix(line, ")") {
				t.Fatalf("not a fuzz corpus file: %q", raw)
			}
			tok, err := strconv.Unquote(strings.TrimSuffix(line, ")"))
			if err != nil {
				t.Fatal(err)
			}
			if valid[e.Name()] {
				accepts(t, s.keys, tok, TypeAccessToken)
			} else {
				rejects(t, s.keys, tok, TypeAccessToken, e.Name())
			}
		})
	}
	if len(entries) < len(valid) {
		t.Errorf("corpus has %d files", len(entries))
	}
}
