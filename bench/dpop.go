package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// dpopSigner makes the DPoP proofs of cc-dpop (RFC 9449 §4.2): one ES256
// key for the run, a fresh jti and iat per request, as a client does. The
// header (typ, alg, the public jwk) is encoded once.
type dpopSigner struct {
	key    *ecdsa.PrivateKey
	header string // base64url of the protected header
	htu    string
}

func newDPoPSigner(htu string) (*dpopSigner, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	jwk, err := json.Marshal(jose.JSONWebKey{Key: key.Public()})
	if err != nil {
		return nil, err
	}
	h := `{"typ":"dpop+jwt","alg":"ES256","jwk":` + string(jwk) + `}`
	return &dpopSigner{key: key, header: base64.RawURLEncoding.EncodeToString([]byte(h)), htu: htu}, nil
}

// proof returns a new proof for POST htu.
func (s *dpopSigner) proof() (string, error) {
	var jti [16]byte
	rand.Read(jti[:])
	payload := `{"jti":"` + base64.RawURLEncoding.EncodeToString(jti[:]) + `","htm":"POST","htu":"` + s.htu +
		`","iat":` + strconv.FormatInt(time.Now().Unix(), 10) + `}`
	input := s.header + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	sum := sha256.Sum256([]byte(input))
	r, sv, err := ecdsa.Sign(rand.Reader, s.key, sum[:])
	if err != nil {
		return "", err
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig[:]), nil
}

// dpopPostHead is postHead with a DPoP header line of proof.
func dpopPostHead(dst []byte, host, path, basicAuth, proof string) []byte {
	dst = append(dst, "POST "+path+" HTTP/1.1\r\nHost: "+host+"\r\nUser-Agent: latchkey-bench\r\nAccept: application/json\r\n"+
		"Authorization: Basic "+basicAuth+"\r\nDPoP: "+proof+"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "...)
	return dst
}
