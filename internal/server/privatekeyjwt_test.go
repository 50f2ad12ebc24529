package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// keyedClient is a private_key_jwt client and its private key.
type keyedClient struct {
	id  string
	key *ecdsa.PrivateKey
	kid string
}

func newKeyedClient(t *testing.T) (keyedClient, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kc := keyedClient{id: "printer-backend", key: key, kid: "k1"}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kc.kid, Algorithm: "ES256", Use: "sig"}}}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return kc, string(b)
}

// assertion signs a client assertion (RFC 7523 §3) with edits applied.
func (kc keyedClient) assertion(t *testing.T, aud string, edit func(*jwt.Claims)) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: kc.key}, (&jose.SignerOptions{}).WithHeader("kid", kc.kid).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := jwt.Claims{Issuer: kc.id, Subject: kc.id, Audience: jwt.Audience{aud}, Expiry: jwt.NewNumericDate(now.Add(time.Minute)),
		IssuedAt: jwt.NewNumericDate(now), ID: secret.RandomString(16)}
	if edit != nil {
		edit(&c)
	}
	s, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRFC7523_PrivateKeyJWT(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			kc, jwks := newKeyedClient(t)
			e.mustCreateClient(store.Client{ID: kc.id, Name: "Printer backend", GrantTypes: []string{oauth.GrantClientCredentials},
				Scopes: []string{"photos.read"}, TokenEndpointAuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jwks})
			tokenURL := e.issuer + "/token"
			post := func(assertion string, extra url.Values) tokenAnswer {
				form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
				for k, v := range extra {
					form[k] = v
				}
				return e.postToken(form, nil, false)
			}

			t.Run("valid_assertion_authenticates", func(t *testing.T) {
				a := post(kc.assertion(t, e.issuer, nil), nil)
				if a.status != 200 {
					t.Fatalf("%v", a.body)
				}
				if c := e.verifyJWT(a.str("access_token")); c.ClientID != kc.id {
					t.Fatalf("client_id %q", c.ClientID)
				}
				if a := post(kc.assertion(t, e.issuer, nil), url.Values{"client_id": {kc.id}}); a.status != 200 {
					t.Fatalf("aud = issuer: %v", a.body)
				}
			})
			t.Run("RFC7523_3/replayed_jti_is_invalid_client", func(t *testing.T) {
				as := kc.assertion(t, e.issuer, nil)
				if a := post(as, nil); a.status != 200 {
					t.Fatalf("%v", a.body)
				}
				wantError(t, post(as, nil), 401, "invalid_client")
			})
			t.Run("RFC7523_3/claims_are_checked", func(t *testing.T) {
				other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				for name, as := range map[string]string{
					"wrong_aud":                  kc.assertion(t, "https://elsewhere.example/token", nil),
					"aud_the_token_endpoint":     kc.assertion(t, tokenURL, nil),
					"aud_the_issuer_and_another": kc.assertion(t, e.issuer, func(c *jwt.Claims) { c.Audience = jwt.Audience{e.issuer, "https://elsewhere.example"} }),
					"expired":                    kc.assertion(t, e.issuer, func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(time.Now().Add(-5 * time.Minute)) }),
					"lives_a_year":               kc.assertion(t, e.issuer, func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(time.Now().Add(365 * 24 * time.Hour)) }),
					"no_jti":                     kc.assertion(t, e.issuer, func(c *jwt.Claims) { c.ID = "" }),
					"issuer_not_sub":             kc.assertion(t, e.issuer, func(c *jwt.Claims) { c.Issuer = "someone" }),
					"signed_elsewhere":           keyedClient{id: kc.id, key: other, kid: kc.kid}.assertion(t, e.issuer, nil),
				} {
					if a := post(as, nil); a.status != 401 || a.str("error") != "invalid_client" {
						t.Fatalf("%s: %d %v", name, a.status, a.body)
					}
				}
			})
			t.Run("RFC8725_3_1/alg_none_and_HS256_refused", func(t *testing.T) {
				hs, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("the public key bytes as a secret!!")}, nil)
				now := time.Now()
				c := jwt.Claims{Issuer: kc.id, Subject: kc.id, Audience: jwt.Audience{e.issuer}, Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: "x1"}
				hsTok, _ := jwt.Signed(hs).Claims(c).Serialize()
				wantError(t, post(hsTok, nil), 401, "invalid_client")
				noneTok := "eyJhbGciOiJub25lIn0." + strings.Split(hsTok, ".")[1] + "."
				wantError(t, post(noneTok, nil), 401, "invalid_client")
			})
			t.Run("RFC6749_2_3/assertion_with_a_secret_is_invalid_request", func(t *testing.T) {
				wantError(t, post(kc.assertion(t, e.issuer, nil), url.Values{"client_secret": {"x"}}), 400, "invalid_request")
				wantError(t, post(kc.assertion(t, e.issuer, nil), url.Values{"client_id": {"someone-else"}}), 401, "invalid_client")
			})
			t.Run("jwks_uri_is_fetched", func(t *testing.T) {
				k2, jwks2 := newKeyedClient(t)
				k2.id = "printer-remote"
				keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(jwks2)) }))
				defer keys.Close()
				e.mustCreateClient(store.Client{ID: k2.id, Name: "Remote printer", GrantTypes: []string{oauth.GrantClientCredentials},
					Scopes: []string{"photos.read"}, TokenEndpointAuthMethod: oauth.AuthPrivateKeyJWT, JWKSURI: keys.URL + "/jwks"})
				if a := post(k2.assertion(t, e.issuer, nil), nil); a.status != 200 {
					t.Fatalf("%v", a.body)
				}
			})
			t.Run("secret_client_cannot_use_an_assertion", func(t *testing.T) {
				svc := keyedClient{id: e.svc.id, key: kc.key, kid: kc.kid}
				wantError(t, post(svc.assertion(t, e.issuer, nil), nil), 401, "invalid_client")
			})
		})
	}
}

// TestRFC7523bis_AssertionAudienceIsTheIssuer: a client assertion's aud
// is the issuer identifier alone; the token endpoint's URL (which older
// clients send) only behind server.assertion_endpoint_audience.
func TestRFC7523bis_AssertionAudienceIsTheIssuer(t *testing.T) {
	for _, compat := range []bool{false, true} {
		t.Run(fmt.Sprintf("assertion_endpoint_audience=%v", compat), func(t *testing.T) {
			e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) { c.Server.AssertionEndpointAudience = compat })
			kc, jwks := newKeyedClient(t)
			e.mustCreateClient(store.Client{ID: kc.id, Name: "Printer backend", GrantTypes: []string{oauth.GrantClientCredentials},
				Scopes: []string{"photos.read"}, TokenEndpointAuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jwks})
			post := func(aud string) tokenAnswer {
				return e.postToken(url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
					"client_assertion": {kc.assertion(t, aud, nil)}}, nil, false)
			}
			if a := post(e.issuer); a.status != 200 {
				t.Fatalf("aud = the issuer: %d %v", a.status, a.body)
			}
			a := post(e.issuer + "/token")
			if compat && a.status != 200 {
				t.Fatalf("aud = the token endpoint, switch on: %d %v", a.status, a.body)
			}
			if !compat {
				wantError(t, a, 401, "invalid_client")
			}
			wantError(t, post("https://elsewhere.example/token"), 401, "invalid_client")
		})
	}
}

// TestSECURITY_K4_ClientKeyRotationThroughJWKSURI: a private_key_jwt
// client's jwks_uri is fetched once and cached; a new kid triggers a
// refetch at most every ten seconds, the cache expires after five minutes,
// and a failing, oversized or encryption-only key set authenticates no one.
func TestSECURITY_K4_ClientKeyRotationThroughJWKSURI(t *testing.T) {
	e := newEnv(t, "sqlite")
	var mu sync.Mutex
	var body string
	status, fetches := 200, 0
	serve := func(b string, st int) { mu.Lock(); body, status = b, st; mu.Unlock() }
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fetches++
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	defer keys.Close()
	fetched := func() int { mu.Lock(); defer mu.Unlock(); return fetches }

	a, setA := newKeyedClient(t)
	b, setB := newKeyedClient(t)
	a.id, b.id, b.kid = "rotating-printer", "rotating-printer", "k2"
	setB = strings.Replace(setB, `"kid":"k1"`, `"kid":"k2"`, 1)
	serve(setA, 200)
	e.mustCreateClient(store.Client{ID: a.id, Name: "Rotating printer", GrantTypes: []string{oauth.GrantClientCredentials},
		Scopes: []string{"photos.read"}, TokenEndpointAuthMethod: oauth.AuthPrivateKeyJWT, JWKSURI: keys.URL + "/jwks"})
	post := func(kc keyedClient) tokenAnswer {
		now := e.clock.Now()
		as := kc.assertion(t, e.issuer, func(c *jwt.Claims) {
			c.IssuedAt, c.Expiry = jwt.NewNumericDate(now), jwt.NewNumericDate(now.Add(time.Minute))
		})
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {as}}
		return e.postToken(form, nil, false)
	}
	step := func(name string, kc keyedClient, wantStatus, wantFetches int) {
		t.Helper()
		if got := post(kc); got.status != wantStatus || fetched() != wantFetches {
			t.Fatalf("%s: status %d (want %d), fetches %d (want %d): %v", name, got.status, wantStatus, fetched(), wantFetches, got.body)
		}
	}
	step("first use fetches", a, 200, 1)
	step("second use is cached", a, 200, 1)
	serve(setB, 200) // the client rotates to k2
	step("a new kid within ten seconds of the fetch is not refetched", b, 401, 1)
	e.clock.Advance(11 * time.Second)
	step("a new kid after ten seconds is refetched", b, 200, 2)
	step("the old kid is gone", a, 401, 2)
	e.clock.Advance(6 * time.Minute)
	serve(setB, 500)
	step("after five minutes the set is fetched again; a failing fetch authenticates no one", b, 401, 3)
	serve(setB+strings.Repeat(" ", 70<<10), 200) // valid JSON, too large
	step("a set larger than 64 KiB is refused", b, 401, 4)
	serve(strings.Replace(setB, `"use":"sig"`, `"use":"enc"`, 1), 200)
	step("an encryption key verifies nothing", b, 401, 5)
	serve(setB, 200)
	step("a cached set is used until it expires", b, 401, 5)
	e.clock.Advance(6 * time.Minute)
	step("the signing key again after the cache expired", b, 200, 6)
}
