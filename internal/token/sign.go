package token

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// rsaBits is the size of generated RS256 keys, and the least accepted.
const rsaBits = 2048

// b64 is the JWS encoding of every segment (RFC 7515 §2: base64url without padding).
var b64 = base64.RawURLEncoding

// material is what a key's stored row parses into, once: the public key
// for verifying, a signing function, the public JWK for the JWKS and the
// encoded JWS headers of the common types.
type material struct {
	sealed    []byte // the row's bytes, to tell whether a reload may reuse this
	storedJWK []byte
	pub       crypto.PublicKey
	sign      func(signingInput []byte) ([]byte, error)
	sigLen    int    // bytes of a signature
	jwk       []byte // public JWK with kid, alg, use: a JWKS member
	hdrAccess string // encoded header with typ at+jwt
	hdrJWT    string // encoded header with typ JWT
	hdrLogout string // encoded header with typ logout+jwt
}

// Sign returns claims as a compact JWS (RFC 7515 §7.1) with the header
// {"alg", "kid", "typ": typ} (no typ if typ is ""), signed by the newest key
// of the default algorithm (KeysOptions.Algorithm) whose ActiveAt has come:
// ErrNoSigningKey if that algorithm has none, even when another has (a
// token never silently changes algorithm).
//
// It is on the hot path of the token endpoint, so it does the least work a
// JWS needs: one json.Marshal of claims, a header encoded when the key was
// loaded, and one signature with the parsed key through crypto/ecdsa,
// crypto/ed25519 or crypto/rsa. go-jose's signer marshals and encodes its
// header on every call; go-jose remains the verifier.
func (k *Keys) Sign(typ string, claims any) (string, error) {
	return k.sign(k.defAlg, typ, claims)
}

// SignWith is Sign with the newest active key of alg (ES256, RS256 or
// EdDSA) instead of the default algorithm's: for ID tokens, RS256 unless
// the client registered another (id_token_signed_response_alg, OpenID
// Connect Registration §2), and logout tokens. It returns ErrNoSigningKey
// if alg has no active key, and another error if alg is not one Keys signs
// with.
func (k *Keys) SignWith(alg, typ string, claims any) (string, error) {
	i := algIndex(alg)
	if i < 0 {
		return "", fmt.Errorf("token: unknown signing algorithm %q (want ES256, RS256 or EdDSA)", alg)
	}
	return k.sign(i, typ, claims)
}

// sign signs with the signer of signingAlgs[alg].
func (k *Keys) sign(alg int, typ string, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("token: marshal claims: %w", err)
	}
	kk := k.set.Load().signer(alg, k.now())
	if kk == nil {
		return "", ErrNoSigningKey
	}
	return kk.signCompact(kk.header(typ), payload)
}

// header returns the encoded protected header of this key for typ.
func (k *key) header(typ string) string {
	switch typ {
	case TypeAccessToken:
		return k.hdrAccess
	case TypeIDToken:
		return k.hdrJWT
	case TypeLogoutToken:
		return k.hdrLogout
	}
	return encodeHeader(k.alg, k.id, typ)
}

func encodeHeader(alg, kid, typ string) string {
	h, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ,omitempty"`
	}{alg, kid, typ}) // strings only: cannot fail
	return b64.EncodeToString(h)
}

// signCompact returns header.payload.signature, building it in one buffer.
func (m *material) signCompact(header string, payload []byte) (string, error) {
	buf := make([]byte, 0, len(header)+1+b64.EncodedLen(len(payload))+1+b64.EncodedLen(m.sigLen))
	buf = append(buf, header...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, payload)
	sig, err := m.sign(buf)
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}

// signerFor returns the signing function of priv for alg and the length of
// its signatures, or an error if priv is not a key of alg.
func signerFor(alg string, priv crypto.PrivateKey) (func([]byte) ([]byte, error), int, error) {
	switch alg {
	case ES256:
		p, ok := priv.(*ecdsa.PrivateKey)
		if !ok || p.Curve != elliptic.P256() {
			return nil, 0, fmt.Errorf("%s needs a P-256 ECDSA key, got %T", alg, priv)
		}
		return func(in []byte) ([]byte, error) {
			h := sha256.Sum256(in)
			// Go 1.26 draws the nonce from a secure source whatever the reader.
			der, err := ecdsa.SignASN1(rand.Reader, p, h[:])
			if err != nil {
				return nil, err
			}
			return p1363(der, 32)
		}, 64, nil
	case RS256:
		p, ok := priv.(*rsa.PrivateKey)
		if !ok || p.N.BitLen() < rsaBits {
			return nil, 0, fmt.Errorf("%s needs an RSA key of at least %d bits, got %T", alg, rsaBits, priv)
		}
		return func(in []byte) ([]byte, error) {
			h := sha256.Sum256(in)
			return rsa.SignPKCS1v15(nil, p, crypto.SHA256, h[:])
		}, p.Size(), nil
	case EdDSA:
		p, ok := priv.(ed25519.PrivateKey)
		if !ok {
			return nil, 0, fmt.Errorf("%s needs an Ed25519 key, got %T", alg, priv)
		}
		return func(in []byte) ([]byte, error) { return ed25519.Sign(p, in), nil }, ed25519.SignatureSize, nil
	}
	return nil, 0, fmt.Errorf("unknown algorithm %q", alg)
}

// p1363 converts an ASN.1 DER ECDSA signature, SEQUENCE { r INTEGER,
// s INTEGER }, to the JWS form: "the concatenation of the two unsigned
// integers R and S ... each 32 octets" (RFC 7518 §3.4 for P-256).
func p1363(der []byte, size int) ([]byte, error) {
	bad := errors.New("malformed ECDSA signature")
	// Short-form lengths suffice: a P-256 signature is at most 72 bytes.
	if len(der) < 2 || der[0] != 0x30 || der[1] >= 0x80 || int(der[1]) != len(der)-2 {
		return nil, bad
	}
	rest := der[2:]
	out := make([]byte, 2*size)
	for i := range 2 {
		if len(rest) < 2 || rest[0] != 0x02 || rest[1] >= 0x80 || int(rest[1]) > len(rest)-2 {
			return nil, bad
		}
		n := int(rest[1])
		v := rest[2 : 2+n]
		rest = rest[2+n:]
		for len(v) > 0 && v[0] == 0 {
			v = v[1:]
		}
		if len(v) > size {
			return nil, bad
		}
		copy(out[(i+1)*size-len(v):], v)
	}
	if len(rest) != 0 {
		return nil, bad
	}
	return out, nil
}

func knownAlgorithm(alg string) bool {
	return alg == ES256 || alg == RS256 || alg == EdDSA
}

// NewKeyID returns a fresh key id ("kid"): 128 random bits, base64url (22
// characters), so ids never collide across nodes and are safe in URLs and
// headers.
func NewKeyID() string {
	return secret.RandomString(16)
}

// sealAD is the additional data a private key is sealed with: it binds the
// sealed bytes to the key's id and algorithm, so a row's sealed key cannot
// be moved to another row or relabelled.
func sealAD(id, alg string) []byte {
	return []byte("latchkey/signing-key\x00" + id + "\x00" + alg)
}

// GenerateKey makes a new key pair of alg and returns it as a store row
// with a fresh id, the private key sealed under sealKey (PKCS #8 DER), the
// public JWK, CreatedAt createdAt and ActiveAt activeAt. It does not store it.
func GenerateKey(alg string, sealKey []byte, createdAt, activeAt time.Time) (store.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return store.SigningKey{}, fmt.Errorf("token: unknown signing algorithm %q (want ES256, RS256 or EdDSA)", alg)
	}
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("token: generate %s key: %w", alg, err)
	}
	return sealKeyRow(NewKeyID(), alg, priv, sealKey, createdAt, activeAt)
}

// sealKeyRow returns the store row of a private key.
func sealKeyRow(id, alg string, priv crypto.Signer, sealKey []byte, createdAt, activeAt time.Time) (store.SigningKey, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("token: encode private key: %w", err)
	}
	sealed, err := secret.Seal(sealKey, der, sealAD(id, alg))
	clear(der)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("token: seal private key: %w", err)
	}
	jwk, err := publicJWK(id, alg, priv.Public())
	if err != nil {
		return store.SigningKey{}, err
	}
	return store.SigningKey{ID: id, Algorithm: alg, Sealed: sealed, PublicJWK: jwk, CreatedAt: createdAt, ActiveAt: activeAt}, nil
}

// publicJWK marshals pub as a JWK with kid, alg and use "sig". go-jose
// marshals only the public members of a public key.
func publicJWK(id, alg string, pub crypto.PublicKey) ([]byte, error) {
	b, err := jose.JSONWebKey{Key: pub, KeyID: id, Algorithm: alg, Use: "sig"}.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("token: marshal public key: %w", err)
	}
	return b, nil
}

// openKey parses a stored key row: it unseals the private key, checks that
// it is a key of the row's algorithm and that the stored public JWK is its
// public half, and prepares signing. The JWKS member is built from the
// private key's public half, never copied from the row.
func openKey(r store.SigningKey, sealKey []byte) (*material, error) {
	if !knownAlgorithm(r.Algorithm) {
		return nil, fmt.Errorf("unknown algorithm %q", r.Algorithm)
	}
	if r.ID == "" {
		return nil, errors.New("empty key id")
	}
	der, err := secret.Open(sealKey, r.Sealed, sealAD(r.ID, r.Algorithm))
	if err != nil {
		return nil, fmt.Errorf("unseal private key: %w", err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	sign, sigLen, err := signerFor(r.Algorithm, priv)
	if err != nil {
		return nil, err
	}
	pub := priv.(crypto.Signer).Public()
	var stored jose.JSONWebKey
	if err := stored.UnmarshalJSON(r.PublicJWK); err != nil {
		return nil, fmt.Errorf("parse public JWK: %w", err)
	}
	eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	if !stored.IsPublic() || stored.KeyID != r.ID || stored.Algorithm != r.Algorithm || !ok || !eq.Equal(stored.Key) {
		return nil, errors.New("stored public JWK does not match the private key")
	}
	jwk, err := publicJWK(r.ID, r.Algorithm, pub)
	if err != nil {
		return nil, err
	}
	return &material{
		sealed:    bytes.Clone(r.Sealed),
		storedJWK: bytes.Clone(r.PublicJWK),
		pub:       pub,
		sign:      sign,
		sigLen:    sigLen,
		jwk:       jwk,
		hdrAccess: encodeHeader(r.Algorithm, r.ID, TypeAccessToken),
		hdrJWT:    encodeHeader(r.Algorithm, r.ID, TypeIDToken),
		hdrLogout: encodeHeader(r.Algorithm, r.ID, TypeLogoutToken),
	}, nil
}
