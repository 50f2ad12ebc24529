package rs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The resource and credentials of the API under test.
const (
	testResource = "https://api.example/notes"
	testClientID = "notes-api"
	testSecret   = "s3cret"
)

// clock is a settable clock shared by the issuer and the guard.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_900_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testKey is one of the issuer's signing keys.
type testKey struct {
	kid       string
	alg       jose.SignatureAlgorithm
	priv      crypto.Signer
	published bool   // in the JWKS
	jwkAlg    string // the JWK's alg member ("" for none)
}

// testIssuer is a tiny authorization server: RFC 8414 metadata, a JWKS and
// RFC 7662 introspection, with counters and switches for failures.
type testIssuer struct {
	t     testing.TB
	srv   *httptest.Server
	URL   string
	clock *clock

	mu          sync.Mutex
	keys        []*testKey
	answers     map[string]string // token -> introspection answer (JSON)
	metaIssuer  string            // the issuer the metadata names (default URL)
	noOAuthMeta bool              // 404 at the RFC 8414 URL: fallback to OpenID's
	metaStatus  int               // != 0: metadata answers this status
	jwksStatus  int
	introStatus int
	introDelay  time.Duration
	extraJWKS   []json.RawMessage // members added to the JWKS's keys
	lastForm    url.Values        // the last introspection request's form
	lastUser    string            // its Basic credentials, form-decoded
	lastPass    string

	metaHits, oidcHits, jwksHits, introHits atomic.Int64
}

func newTestIssuer(t testing.TB) *testIssuer {
	t.Helper()
	iss := &testIssuer{t: t, clock: newClock(), answers: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		iss.metaHits.Add(1)
		iss.mu.Lock()
		skip := iss.noOAuthMeta
		iss.mu.Unlock()
		if skip {
			http.NotFound(w, r)
			return
		}
		iss.metadata(w)
	})
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		iss.oidcHits.Add(1)
		iss.metadata(w)
	})
	mux.HandleFunc("GET /jwks.json", iss.jwks)
	mux.HandleFunc("POST /introspect", iss.introspect)
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	iss.URL = iss.srv.URL
	iss.addKey(jose.ES256)
	return iss
}

func (iss *testIssuer) metadata(w http.ResponseWriter) {
	iss.mu.Lock()
	status, name := iss.metaStatus, iss.metaIssuer
	iss.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	if name == "" {
		name = iss.URL
	}
	writeTestJSON(w, map[string]any{
		"issuer": name, "jwks_uri": iss.URL + "/jwks.json", "introspection_endpoint": iss.URL + "/introspect",
		"token_endpoint": iss.URL + "/token",
	})
}

func (iss *testIssuer) jwks(w http.ResponseWriter, _ *http.Request) {
	iss.jwksHits.Add(1)
	iss.mu.Lock()
	defer iss.mu.Unlock()
	if iss.jwksStatus != 0 {
		w.WriteHeader(iss.jwksStatus)
		return
	}
	keys := append([]json.RawMessage{}, iss.extraJWKS...)
	for _, k := range iss.keys {
		if !k.published {
			continue
		}
		b, err := jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: k.jwkAlg, Use: "sig"}.MarshalJSON()
		if err != nil {
			iss.t.Errorf("jwks: %v", err)
		}
		keys = append(keys, b)
	}
	writeTestJSON(w, map[string]any{"keys": keys})
}

func (iss *testIssuer) introspect(w http.ResponseWriter, r *http.Request) {
	iss.introHits.Add(1)
	iss.mu.Lock()
	status, delay := iss.introStatus, iss.introDelay
	iss.mu.Unlock()
	time.Sleep(delay)
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	user, pass, ok := r.BasicAuth()
	u, err1 := url.QueryUnescape(user)
	p, err2 := url.QueryUnescape(pass)
	if err := r.ParseForm(); err != nil || !ok || err1 != nil || err2 != nil {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	iss.mu.Lock()
	iss.lastForm, iss.lastUser, iss.lastPass = r.PostForm, u, p
	answer, known := iss.answers[r.PostForm.Get("token")]
	iss.mu.Unlock()
	if u != testClientID || p != testSecret {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	if !known {
		answer = `{"active":false}`
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(answer))
}

func writeTestJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// addKey makes and publishes a signing key for alg; it returns its kid.
func (iss *testIssuer) addKey(alg jose.SignatureAlgorithm) *testKey {
	iss.t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.ES384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case jose.RS256, jose.PS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		iss.t.Fatalf("addKey: no key for %s", alg)
	}
	if err != nil {
		iss.t.Fatal(err)
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	k := &testKey{kid: "k" + string(rune('1'+len(iss.keys))), alg: alg, priv: priv, published: true}
	iss.keys = append(iss.keys, k)
	return k
}

func (iss *testIssuer) key(i int) *testKey {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.keys[i]
}

func (iss *testIssuer) setPublished(k *testKey, published bool) {
	iss.mu.Lock()
	k.published = published
	iss.mu.Unlock()
}

// set changes the issuer's switches under its lock.
func (iss *testIssuer) set(f func(*testIssuer)) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	f(iss)
}

// claims are the claims of a valid access token for the API under test.
func (iss *testIssuer) claims() map[string]any {
	now := iss.clock.Now().Unix()
	return map[string]any{
		"iss": iss.URL, "sub": "user-1", "aud": testResource, "client_id": "notes-app",
		"scope": "notes.read notes.write", "exp": now + 3600, "iat": now, "auth_time": now - 60,
		"jti": randomID(),
	}
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenSpec says how to make a token: which key signs it, with what
// header members (typ at+jwt and the key's kid unless changed) and claims.
type tokenSpec struct {
	key    *testKey
	alg    jose.SignatureAlgorithm // default key.alg
	header map[string]any          // merged over the defaults; nil values delete
	claims map[string]any          // merged over iss.claims(); nil values delete
}

// mint signs a token with go-jose.
func (iss *testIssuer) mint(s tokenSpec) string {
	iss.t.Helper()
	if s.key == nil {
		s.key = iss.key(0)
	}
	if s.alg == "" {
		s.alg = s.key.alg
	}
	hdr := map[string]any{"typ": "at+jwt", "kid": s.key.kid}
	merge(hdr, s.header)
	opts := &jose.SignerOptions{}
	for k, v := range hdr {
		if k == "kid" { // go-jose writes kid from the key
			continue
		}
		opts.WithHeader(jose.HeaderKey(k), v)
	}
	var signingKey any = s.key.priv
	if kid, ok := hdr["kid"].(string); ok {
		signingKey = jose.JSONWebKey{Key: s.key.priv, KeyID: kid}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: signingKey}, opts)
	if err != nil {
		iss.t.Fatalf("signer: %v", err)
	}
	c := iss.claims()
	merge(c, s.claims)
	payload, _ := json.Marshal(c)
	obj, err := signer.Sign(payload)
	if err != nil {
		iss.t.Fatalf("sign: %v", err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		iss.t.Fatal(err)
	}
	return raw
}

// token is a valid access token signed with the first key.
func (iss *testIssuer) token() string { return iss.mint(tokenSpec{}) }

func merge(dst, src map[string]any) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
}

// handcraft builds a compact JWS from a header and claims, with sign
// making the signature over the signing input (nil: empty signature).
func handcraft(header, claims map[string]any, sign func([]byte) []byte) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + enc.EncodeToString(sig)
}

// answer sets the introspection answer for a token.
func (iss *testIssuer) answer(token string, v map[string]any) {
	b, _ := json.Marshal(v)
	iss.mu.Lock()
	iss.answers[token] = string(b)
	iss.mu.Unlock()
}

// activeAnswer is an RFC 7662 answer for a valid opaque token.
func (iss *testIssuer) activeAnswer() map[string]any {
	now := iss.clock.Now().Unix()
	return map[string]any{
		"active": true, "scope": "notes.read", "client_id": "notes-app", "sub": "user-2", "username": "ada",
		"aud": []string{testResource}, "iss": iss.URL, "exp": now + 3600, "iat": now, "token_type": "Bearer",
	}
}

// guard is a Guard for the API under test, talking to iss on its clock.
func (iss *testIssuer) guard(mods ...func(*Config)) *Guard {
	iss.t.Helper()
	cfg := Config{
		Issuer: iss.URL, Resource: testResource, ClientID: testClientID, ClientSecret: testSecret,
		Now: iss.clock.Now, HTTPClient: iss.srv.Client(),
	}
	for _, m := range mods {
		m(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		iss.t.Fatalf("New: %v", err)
	}
	return g
}

// serve runs one request through g.Require(scopes...) in front of a
// handler that answers "ok SUBJECT". It checks what every answer must
// satisfy: a refusal never echoes the token, and says no-store.
func serve(t *testing.T, g *Guard, r *http.Request, token string, scopes ...string) *httptest.ResponseRecorder {
	t.Helper()
	h := g.Require(scopes...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := FromContext(r.Context())
		if !ok {
			t.Error("handler reached without a token in the context")
			return
		}
		w.Write([]byte("ok " + tok.Subject))
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		if token != "" && (strings.Contains(w.Body.String(), token) || strings.Contains(w.Header().Get("WWW-Authenticate"), token)) {
			t.Errorf("the answer echoes the token: %q %q", w.Header(), w.Body)
		}
		if got := w.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control %q on a refusal, want no-store", got)
		}
	}
	return w
}

// bearer is a GET with the token in the Authorization header.
func bearer(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/notes", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// wantStatus serves r and checks the status and the challenge's error code
// ("" for none; "-" for no challenge at all).
func wantStatus(t *testing.T, g *Guard, r *http.Request, token string, status int, code string, scopes ...string) *httptest.ResponseRecorder {
	t.Helper()
	w := serve(t, g, r, token, scopes...)
	if w.Code != status {
		t.Errorf("status %d, want %d (WWW-Authenticate %q, body %q)", w.Code, status, w.Header().Get("WWW-Authenticate"), w.Body)
	}
	ch := w.Header().Get("WWW-Authenticate")
	switch {
	case code == "-":
		if ch != "" {
			t.Errorf("WWW-Authenticate %q, want none", ch)
		}
	case status == http.StatusOK:
	case code == "":
		if ch == "" || strings.Contains(ch, "error=") {
			t.Errorf("WWW-Authenticate %q, want a challenge without error", ch)
		}
	default:
		if !strings.Contains(ch, `error="`+code+`"`) {
			t.Errorf("WWW-Authenticate %q, want error=%q", ch, code)
		}
	}
	return w
}
