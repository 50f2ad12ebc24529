package rs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestJWTAccessToken(t *testing.T) {
	iss := newTestIssuer(t)
	es := iss.key(0)
	ed := iss.addKey(jose.EdDSA)
	rs := iss.addKey(jose.RS256)
	ps := iss.addKey(jose.PS256)
	es384 := iss.addKey(jose.ES384)
	// An RSA key the JWKS binds to RS256 (RFC 7517 §4.4).
	rsBound := iss.addKey(jose.RS256)
	rsBound.jwkAlg = "RS256"
	// A key the issuer never published.
	stranger := &testKey{kid: es.kid, alg: jose.ES256, priv: mustEC(t)}

	now := iss.clock.Now().Unix()
	const skew = int64(DefaultLeeway / time.Second)
	pubDER, _ := x509.MarshalPKIXPublicKey(es.priv.Public())
	pubJWK, _ := jose.JSONWebKey{Key: stranger.priv.Public()}.MarshalJSON()
	cert := selfSigned(t, es)
	claims := iss.claims()

	cases := []struct {
		name  string
		token string
		ok    bool
	}{
		{"RFC9068_4/ES256_token_is_accepted", iss.mint(tokenSpec{key: es}), true},
		{"RFC9068_4/EdDSA_token_is_accepted", iss.mint(tokenSpec{key: ed}), true},
		{"RFC9068_4/RS256_token_is_accepted", iss.mint(tokenSpec{key: rs}), true},
		{"RFC9068_4/PS256_token_is_accepted", iss.mint(tokenSpec{key: ps}), true},
		{"RFC9068_4/ES384_token_is_accepted", iss.mint(tokenSpec{key: es384}), true},
		{"RFC9068_4/typ_application_at+jwt_is_accepted", iss.mint(tokenSpec{header: map[string]any{"typ": "application/at+jwt"}}), true},
		{"RFC9068_4/typ_is_case_insensitive", iss.mint(tokenSpec{header: map[string]any{"typ": "AT+JWT"}}), true},
		{"RFC9068_4/aud_array_containing_the_resource_is_accepted", iss.mint(tokenSpec{claims: map[string]any{"aud": []string{"https://other.example", testResource}}}), true},

		{"RFC8725_3.1/alg_none_is_invalid_token", handcraft(map[string]any{"alg": "none", "typ": "at+jwt", "kid": es.kid}, claims, nil), false},
		{"RFC8725_3.1/HS256_keyed_with_the_public_key_is_invalid_token", handcraft(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": es.kid}, claims,
			func(in []byte) []byte { m := hmac.New(sha256.New, pubDER); m.Write(in); return m.Sum(nil) }), false},
		{"RFC8725_3.1/HS512_is_invalid_token", handcraft(map[string]any{"alg": "HS512", "typ": "at+jwt", "kid": es.kid}, claims,
			func(in []byte) []byte { return make([]byte, 64) }), false},
		{"RFC8725_3.1/unknown_alg_is_invalid_token", iss.mintAs(es, "ES256K"), false},
		{"RFC7517_4.4/alg_other_than_the_JWK's_is_invalid_token", iss.mint(tokenSpec{key: rsBound, alg: jose.PS256}), false},
		{"RFC7518_3.4/EC_key_named_for_another_curve_is_invalid_token", iss.mintAs(es384, "ES256"), false},
		{"RFC8725_3.10/jwk_header_is_not_trusted", iss.mint(tokenSpec{header: map[string]any{"jwk": json.RawMessage(pubJWK)}}), false},
		{"RFC8725_3.10/jku_header_is_not_trusted", iss.mint(tokenSpec{header: map[string]any{"jku": "https://evil.example/jwks.json"}}), false},
		{"RFC8725_3.10/x5u_header_is_not_trusted", iss.mint(tokenSpec{header: map[string]any{"x5u": "https://evil.example/cert.pem"}}), false},
		{"RFC8725_3.10/x5c_header_is_not_trusted", iss.mint(tokenSpec{header: map[string]any{"x5c": []string{cert}}}), false},
		{"RFC7515_4.1.11/crit_header_is_invalid_token", iss.mint(tokenSpec{header: map[string]any{"crit": []string{"exp"}, "exp": 1}}), false},
		{"RFC7797_3/b64_header_is_invalid_token", iss.mint(tokenSpec{header: map[string]any{"b64": true}}), false},
		{"RFC9068_4/typ_JWT_(an_ID_token)_is_invalid_token", iss.mint(tokenSpec{header: map[string]any{"typ": "JWT"}}), false},
		{"RFC9068_4/missing_typ_is_invalid_token", iss.mint(tokenSpec{header: map[string]any{"typ": nil}}), false},
		{"RFC9068_4/typ_not_a_string_is_invalid_token", iss.mint(tokenSpec{header: map[string]any{"typ": 1}}), false},
		{"RFC7515_4.1.4/missing_kid_is_invalid_token", iss.mint(tokenSpec{header: map[string]any{"kid": nil}}), false},
		{"RFC9068_4/unknown_kid_is_invalid_token", iss.mint(tokenSpec{header: map[string]any{"kid": "nope"}}), false},
		{"RFC9068_4/signature_by_an_unpublished_key_is_invalid_token", iss.mint(tokenSpec{key: stranger}), false},
		{"RFC7515_5.2/tampered_payload_is_invalid_token", tamper(iss.token()), false},
		{"RFC7515_7.1/malformed_header_is_invalid_token", "e30x." + strings.SplitN(iss.token(), ".", 2)[1], false},
		{"RFC7515_7.1/header_not_an_object_is_invalid_token", base64.RawURLEncoding.EncodeToString([]byte(`"x"`)) + ".e30.AA", false},
		{"RFC7519_7.2/malformed_claims_are_invalid_token", iss.mint(tokenSpec{claims: map[string]any{"exp": "tomorrow"}}), false},
		{"RFC9068_4/wrong_iss_is_invalid_token", iss.mint(tokenSpec{claims: map[string]any{"iss": "https://evil.example"}}), false},
		{"RFC9068_4/iss_with_trailing_slash_is_invalid_token", iss.mint(tokenSpec{claims: map[string]any{"iss": iss.URL + "/"}}), false},
		{"RFC9068_4/aud_of_another_resource_is_invalid_token", iss.mint(tokenSpec{claims: map[string]any{"aud": "https://api.example/photos"}}), false},
		{"RFC9068_4/aud_prefix_of_the_resource_is_invalid_token", iss.mint(tokenSpec{claims: map[string]any{"aud": "https://api.example"}}), false},
		{"RFC9068_4/missing_aud_is_invalid_token", iss.mint(tokenSpec{claims: map[string]any{"aud": nil}}), false},
		{"RFC7519_4.1.4/expired_beyond_leeway_is_invalid_token", iss.mint(tokenSpec{claims: map[string]any{"exp": now - skew}}), false},
		{"RFC7519_4.1.4/expired_within_leeway_is_accepted", iss.mint(tokenSpec{claims: map[string]any{"exp": now - skew + 1}}), true},
		{"RFC7519_4.1.5/nbf_beyond_leeway_is_invalid_token", iss.mint(tokenSpec{claims: map[string]any{"nbf": now + skew + 1}}), false},
		{"RFC7519_4.1.5/nbf_within_leeway_is_accepted", iss.mint(tokenSpec{claims: map[string]any{"nbf": now + skew}}), true},
		{"RFC7519_4.1.6/iat_beyond_leeway_is_invalid_token", iss.mint(tokenSpec{claims: map[string]any{"iat": now + skew + 1}}), false},
		{"RFC7519_4.1.6/iat_within_leeway_is_accepted", iss.mint(tokenSpec{claims: map[string]any{"iat": now + skew}}), true},
		{"RFC9068_2.2/missing_exp_is_invalid_token", iss.mint(tokenSpec{claims: map[string]any{"exp": nil}}), false},
		{"RFC9068_2.2/missing_iat_is_invalid_token", iss.mint(tokenSpec{claims: map[string]any{"iat": nil}}), false},
		{"RFC9068_2.2/missing_sub_is_invalid_token", iss.mint(tokenSpec{claims: map[string]any{"sub": nil}}), false},
		{"RFC9068_2.2/missing_client_id_is_invalid_token", iss.mint(tokenSpec{claims: map[string]any{"client_id": nil}}), false},
		{"RFC9068_2.2/missing_jti_is_invalid_token", iss.mint(tokenSpec{claims: map[string]any{"jti": nil}}), false},
		{"SECURITY_F6/oversized_token_is_invalid_token", iss.mint(tokenSpec{claims: map[string]any{"pad": strings.Repeat("x", maxTokenSize)}}), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := iss.guard(func(cfg *Config) { cfg.ClientID, cfg.ClientSecret = "", "" }) // no introspection to fall back on
			if c.ok {
				wantStatus(t, g, bearer(c.token), c.token, 200, "")
			} else {
				wantStatus(t, g, bearer(c.token), c.token, 401, ErrorInvalidToken)
			}
		})
	}
}

// The verified Token carries the claims.
func TestJWTClaimsInToken(t *testing.T) {
	iss := newTestIssuer(t)
	g := iss.guard()
	raw := iss.mint(tokenSpec{claims: map[string]any{"jti": "j-1", "acr": "mfa"}})
	tok, err := g.Verify(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	now := iss.clock.Now()
	if tok.Subject != "user-1" || tok.ClientID != "notes-app" || tok.Issuer != iss.URL || tok.JTI != "j-1" ||
		strings.Join(tok.Scopes, " ") != "notes.read notes.write" || strings.Join(tok.Audience, " ") != testResource ||
		!tok.Expiry.Equal(now.Add(time.Hour)) || !tok.IssuedAt.Equal(now) || !tok.AuthTime.Equal(now.Add(-time.Minute)) ||
		tok.Claims["acr"] != "mfa" {
		t.Errorf("token %+v", tok)
	}
	if !tok.HasScope("notes.read") || tok.HasScope("notes") || tok.HasScope("NOTES.READ") {
		t.Error("HasScope: exact, case-sensitive matches only (RFC 6749 §3.3)")
	}
}

// A small RSA key is refused even when the JWKS offers it (RFC 7518 §3.3).
func TestRSAKeyUnder2048BitsIsRefused(t *testing.T) {
	iss := newTestIssuer(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	k := &testKey{kid: "small", alg: jose.RS256, priv: small, published: true}
	iss.set(func(iss *testIssuer) { iss.keys = append(iss.keys, k) })
	raw := iss.mint(tokenSpec{key: k})
	wantStatus(t, iss.guard(), bearer(raw), raw, 401, ErrorInvalidToken)
}

// A negative Leeway allows no skew at all.
func TestNegativeLeewayIsNone(t *testing.T) {
	iss := newTestIssuer(t)
	g := iss.guard(func(c *Config) { c.Leeway = -1 })
	now := iss.clock.Now().Unix()
	wantStatus(t, g, bearer(iss.mint(tokenSpec{claims: map[string]any{"exp": now}})), "", 401, ErrorInvalidToken)
	wantStatus(t, g, bearer(iss.mint(tokenSpec{claims: map[string]any{"exp": now + 1}})), "", 200, "")
	wantStatus(t, g, bearer(iss.mint(tokenSpec{claims: map[string]any{"nbf": now + 1}})), "", 401, ErrorInvalidToken)
}

// mintAs signs with k but names alg in the header, which go-jose's signer
// would not do.
func (iss *testIssuer) mintAs(k *testKey, alg string) string {
	good := iss.mint(tokenSpec{key: k})
	parts := strings.Split(good, ".")
	h, _ := json.Marshal(map[string]any{"alg": alg, "typ": "at+jwt", "kid": k.kid})
	parts[0] = base64.RawURLEncoding.EncodeToString(h)
	return strings.Join(parts, ".")
}

// tamper changes the payload of a signed token (sub becomes admin).
func tamper(raw string) string {
	parts := strings.Split(raw, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	json.Unmarshal(b, &c)
	c["sub"] = "admin"
	b, _ = json.Marshal(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func mustEC(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// selfSigned is an x5c member: a certificate for k's public key.
func selfSigned(t *testing.T, k *testKey) string {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evil"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(4e9, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.priv.Public(), k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}
