package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// TestSECURITY_K4_JWKSURICacheEdges: the edges of a private_key_jwt
// client's jwks_uri cache: a document of exactly 64 KiB is accepted; an
// assertion without a kid is checked against every key of the set (RFC
// 7515 §4.1.4: kid is optional); a new kid is refetched only more than ten
// seconds after the last fetch, and a cached set is used for five minutes
// to the second.
func TestSECURITY_K4_JWKSURICacheEdges(t *testing.T) {
	e := newEnv(t, "sqlite")
	var mu sync.Mutex
	var body string
	fetches := 0
	serve := func(b string) { mu.Lock(); body = b; mu.Unlock() }
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fetches++
		w.Write([]byte(body))
	}))
	defer keys.Close()
	fetched := func() int { mu.Lock(); defer mu.Unlock(); return fetches }

	a, setA := newKeyedClient(t)
	b, setB := newKeyedClient(t)
	a.id, b.id, b.kid = "edge-printer", "edge-printer", "k2"
	setB = strings.Replace(setB, `"kid":"k1"`, `"kid":"k2"`, 1)
	e.mustCreateClient(store.Client{ID: a.id, Name: "Edge printer", GrantTypes: []string{oauth.GrantClientCredentials},
		Scopes: []string{"photos.read"}, TokenEndpointAuthMethod: oauth.AuthPrivateKeyJWT, JWKSURI: keys.URL + "/jwks"})
	// post authenticates with an assertion signed by kc, with its kid in
	// the header unless noKid.
	post := func(kc keyedClient, noKid bool) tokenAnswer {
		opts := (&jose.SignerOptions{}).WithType("JWT")
		if !noKid {
			opts = opts.WithHeader("kid", kc.kid)
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: kc.key}, opts)
		if err != nil {
			t.Fatal(err)
		}
		now := e.clock.Now()
		as, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: kc.id, Subject: kc.id, Audience: jwt.Audience{e.issuer},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: secret.RandomString(16)}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {as}}
		return e.postToken(form, nil, false)
	}
	step := func(name string, kc keyedClient, noKid bool, wantStatus, wantFetches int) {
		t.Helper()
		if got := post(kc, noKid); got.status != wantStatus || fetched() != wantFetches {
			t.Fatalf("%s: status %d (want %d), fetches %d (want %d): %v", name, got.status, wantStatus, fetched(), wantFetches, got.body)
		}
	}

	serve(setA + strings.Repeat(" ", 64<<10-len(setA))) // valid JSON of exactly 64 KiB
	step("a set of exactly 64 KiB is used", a, false, 200, 1)
	step("an assertion without kid is checked against every key", a, true, 200, 1)
	serve(setB) // the client rotates to k2
	e.clock.Advance(10 * time.Second)
	step("a new kid exactly ten seconds after the fetch is not refetched yet", b, false, 401, 1)
	e.clock.Advance(time.Second)
	step("a new kid eleven seconds after the fetch is refetched", b, false, 200, 2)
	serve(setA)
	e.clock.Advance(5 * time.Minute)
	step("the cached set is used until five minutes after its fetch", b, false, 200, 2)
	e.clock.Advance(time.Second)
	step("a second later the set is fetched again", a, false, 200, 3)
}
