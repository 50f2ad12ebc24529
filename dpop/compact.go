package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"

	"github.com/go-jose/go-jose/v4"
)

// A proof's header is small and of one shape: typ, alg and jwk (RFC 9449
// §4.2). readCompact reads proofs of that shape without go-jose's generic
// parsing, and takes the key from a cache when the client sent the same
// jwk before; any other shape (another member, an escape, a duplicate,
// base64 that is not canonical) is left to go-jose (readJOSE), so that
// both accept and refuse the same proofs (FuzzCompactAgreesWithJOSE).

// keyCacheMax bounds the cached keys (each a public key and its
// thumbprint, a few hundred bytes; an RSA key about a kilobyte).
const keyCacheMax = 4096

type cachedKey struct {
	key crypto.PublicKey
	jkt string
}

// keyCache maps a jwk's exact bytes to its key.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]cachedKey
}

func (c *keyCache) get(jwk []byte) (cachedKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.keys[string(jwk)]
	return k, ok
}

func (c *keyCache) put(jwk []byte, k cachedKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = make(map[string]cachedKey)
	}
	if len(c.keys) >= keyCacheMax {
		for old := range c.keys { // one arbitrary entry out
			delete(c.keys, old)
			break
		}
	}
	c.keys[string(jwk)] = k
}

// readCompact verifies proof's signature when it has the usual shape;
// ok is false when it has not, and readJOSE must decide.
func (v *Verifier) readCompact(proof string) (alg, jkt string, payload []byte, ok bool, err error) {
	if v.joseOnly {
		return "", "", nil, false, nil
	}
	for i := 0; i < len(proof); i++ {
		if c := proof[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "", "", nil, false, nil
		}
	}
	h64, rest, _ := strings.Cut(proof, ".")
	p64, s64, _ := strings.Cut(rest, ".")
	// Strict: the canonical encoding only, so that the signed input is
	// the proof's text itself, as go-jose's re-encoding of it would be.
	enc := base64.RawURLEncoding.Strict()
	head, err1 := enc.DecodeString(h64)
	payload, err2 := enc.DecodeString(p64)
	sig, err3 := enc.DecodeString(s64)
	if err1 != nil || err2 != nil || err3 != nil {
		return "", "", nil, false, nil
	}
	typ, alg, jwk, ok := readHeader(head)
	if !ok {
		return "", "", nil, false, nil
	}
	if !slices.Contains(Algs, alg) {
		return "", "", nil, true, fmt.Errorf("%w: alg %q is not accepted", ErrInvalid, alg)
	}
	if typ != "dpop+jwt" {
		return "", "", nil, true, fmt.Errorf("%w: typ must be dpop+jwt", ErrInvalid)
	}
	k, cached := v.keys.get(jwk)
	if !cached {
		var key jose.JSONWebKey
		if err := key.UnmarshalJSON(jwk); err != nil || !key.Valid() || !key.IsPublic() {
			return "", "", nil, true, fmt.Errorf("%w: the jwk header must be a public key", ErrInvalid)
		}
		jkt, err := Thumbprint(&key)
		if err != nil {
			return "", "", nil, true, fmt.Errorf("%w: thumbprint: %v", ErrInvalid, err)
		}
		k = cachedKey{key: key.Key, jkt: jkt}
		v.keys.put(jwk, k)
	}
	if !verifySignature(k.key, alg, proof[:len(h64)+1+len(p64)], sig) {
		return "", "", nil, true, fmt.Errorf("%w: signature", ErrInvalid)
	}
	return alg, k.jkt, payload, true, nil
}

// verifySignature checks sig over input as go-jose does for alg and the
// key's type.
func verifySignature(key crypto.PublicKey, alg, input string, sig []byte) bool {
	switch key := key.(type) {
	case *ecdsa.PublicKey:
		var size int
		var digest []byte
		switch {
		case alg == "ES256" && key.Curve == elliptic.P256():
			size = 32
			d := sha256.Sum256([]byte(input))
			digest = d[:]
		case alg == "ES384" && key.Curve == elliptic.P384():
			size = 48
			d := sha512.Sum384([]byte(input))
			digest = d[:]
		default:
			return false
		}
		if len(sig) != 2*size {
			return false
		}
		return ecdsa.Verify(key, digest, new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:]))
	case *rsa.PublicKey:
		d := sha256.Sum256([]byte(input))
		switch alg {
		case "RS256":
			return rsa.VerifyPKCS1v15(key, crypto.SHA256, d[:], sig) == nil
		case "PS256":
			return rsa.VerifyPSS(key, crypto.SHA256, d[:], sig, nil) == nil
		}
	case ed25519.PublicKey:
		return alg == "EdDSA" && len(key) == ed25519.PublicKeySize && ed25519.Verify(key, []byte(input), sig)
	}
	return false
}

// readHeader reads a header that is a JSON object of exactly typ, alg
// (strings without escapes) and jwk (an object), once each, and returns
// the jwk's bytes; ok is false for any other header.
func readHeader(b []byte) (typ, alg string, jwk []byte, ok bool) {
	if !json.Valid(b) {
		return "", "", nil, false
	}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return "", "", nil, false
	}
	var seen [3]bool
	for i++; ; {
		i = skipSpace(b, i)
		name, next, ok := plainString(b, i)
		if !ok {
			return "", "", nil, false
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return "", "", nil, false
		}
		i = skipSpace(b, i+1)
		switch name {
		case "typ", "alg":
			s, next, ok := plainString(b, i)
			if !ok {
				return "", "", nil, false
			}
			n := 0
			if name == "typ" {
				typ = s
			} else {
				alg, n = s, 1
			}
			if seen[n] {
				return "", "", nil, false
			}
			seen[n], i = true, next
		case "jwk":
			end, ok := objectEnd(b, i)
			if !ok || seen[2] {
				return "", "", nil, false
			}
			jwk, seen[2], i = b[i:end], true, end
		default:
			return "", "", nil, false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return "", "", nil, false
		}
		if b[i] == '}' {
			break
		}
		if b[i] != ',' {
			return "", "", nil, false
		}
		i++
	}
	return typ, alg, jwk, seen == [3]bool{true, true, true}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at b[i] that has no escape, and returns
// it and the index after it.
func plainString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			return "", 0, false
		case '"':
			return string(b[i+1 : j]), j + 1, true
		}
	}
	return "", 0, false
}

// objectEnd returns the index after the JSON object at b[i], which
// json.Valid has checked.
func objectEnd(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	depth, inString := 0, false
	for j := i; j < len(b); j++ {
		c := b[j]
		switch {
		case inString && c == '\\':
			j++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return j + 1, true
			}
		}
	}
	return 0, false
}

// readJOSE verifies proof's signature with go-jose, for any shape of
// header.
func readJOSE(proof string) (alg, jkt string, payload []byte, err error) {
	algs := make([]jose.SignatureAlgorithm, len(Algs))
	for i, a := range Algs {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	jws, err := jose.ParseSignedCompact(proof, algs)
	if err != nil {
		return "", "", nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(jws.Signatures) != 1 {
		return "", "", nil, fmt.Errorf("%w: one signature expected", ErrInvalid)
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "dpop+jwt" {
		return "", "", nil, fmt.Errorf("%w: typ must be dpop+jwt", ErrInvalid)
	}
	if crit, ok := h.ExtraHeaders[jose.HeaderKey("crit")]; ok && crit != nil {
		return "", "", nil, fmt.Errorf("%w: unknown critical header", ErrInvalid)
	}
	jwk := h.JSONWebKey
	if jwk == nil || !jwk.Valid() || !jwk.IsPublic() {
		return "", "", nil, fmt.Errorf("%w: the jwk header must be a public key", ErrInvalid)
	}
	payload, err = jws.Verify(jwk)
	if err != nil {
		return "", "", nil, fmt.Errorf("%w: signature: %v", ErrInvalid, err)
	}
	jkt, err = Thumbprint(jwk)
	if err != nil {
		return "", "", nil, fmt.Errorf("%w: thumbprint: %v", ErrInvalid, err)
	}
	return h.Algorithm, jkt, payload, nil
}
