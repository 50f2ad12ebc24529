package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/server"
)

// dpopKey is a client's DPoP key: it signs proofs (RFC 9449 §4.2).
type dpopKey struct {
	t   *testing.T
	key *ecdsa.PrivateKey
	jkt string
}

func newDPoPKey(t *testing.T) *dpopKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jkt, err := dpop.Thumbprint(&jose.JSONWebKey{Key: k.Public()})
	if err != nil {
		t.Fatal(err)
	}
	return &dpopKey{t: t, key: k, jkt: jkt}
}

// proof signs a proof for method and u at the server's clock; ath binds it
// to accessToken when not empty; nonce when not empty.
func (k *dpopKey) proof(e *env, method, u, accessToken, nonce string) string {
	k.t.Helper()
	return signProof(k.t, e, jose.ES256, k.key, method, u, accessToken, nonce)
}

// signProof is a proof signed with alg by key, its public key in the jwk
// header.
func signProof(t *testing.T, e *env, alg jose.SignatureAlgorithm, key any, method, u, accessToken, nonce string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	c := map[string]any{"jti": secret.RandomString(16), "htm": method, "htu": u, "iat": e.clock.Now().Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	payload, _ := json.Marshal(c)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// postTokenDPoP is postToken with a DPoP header (none when proof is "").
func (e *env) postTokenDPoP(form url.Values, c *testClient, proof string) tokenAnswer {
	e.t.Helper()
	if c != nil && c.secret == "" { // a public client names itself in the form
		form.Set("client_id", c.id)
		c = nil
	}
	req := e.formRequest("/token", form, c)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	return e.doToken(req)
}

// userinfoWith calls /userinfo with the Authorization scheme and proof.
func (e *env) userinfoWith(scheme, tok, proof string) (*http.Response, string) {
	e.t.Helper()
	return e.getWith(e.issuer+"/userinfo", scheme, tok, proof)
}

// getWith GETs u with tok under the Authorization scheme and the DPoP
// proof (none when proof is "").
func (e *env) getWith(u, scheme, tok, proof string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", scheme+" "+tok)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, readBody(e.t, resp)
}

// jwtClaims decodes a JWT's payload without verifying it.
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func cnfJKT(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["jkt"].(string)
	return s
}

// TestRFC9449_5_TokensAreBoundToTheProofKey: a token request with a proof
// gets token_type DPoP and tokens bound to the proof's key: cnf.jkt in a
// JWT access token and at introspection, opaque or JWT; without a proof,
// bearer tokens as before.
func TestRFC9449_5_TokensAreBoundToTheProofKey(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnvOn(t, backend, dbtest.Open(t, backend))
			k := newDPoPKey(t)
			cc := url.Values{"grant_type": {"client_credentials"}}
			for _, c := range []testClient{e.svc, e.opaque} {
				a := e.postTokenDPoP(cc, &c, k.proof(e, "POST", e.issuer+"/token", "", ""))
				if a.status != 200 || a.str("token_type") != "DPoP" {
					t.Fatalf("%s: %d %v", c.id, a.status, a.body)
				}
				at := a.str("access_token")
				if strings.Count(at, ".") == 2 {
					if got := cnfJKT(jwtClaims(t, at)["cnf"]); got != k.jkt {
						t.Fatalf("JWT cnf.jkt = %q, want %q", got, k.jkt)
					}
				}
				in := e.introspect(&e.api, at)
				if !active(in) || in.str("token_type") != "DPoP" || cnfJKT(in.body["cnf"]) != k.jkt {
					t.Fatalf("RFC 9449 §6.2: introspection of %s's token: %v", c.id, in.body)
				}
			}
			bearer := e.postToken(cc, &e.svc, true)
			if bearer.str("token_type") != "Bearer" || jwtClaims(t, bearer.str("access_token"))["cnf"] != nil {
				t.Fatalf("a request without a proof: %v", bearer.body)
			}
			if in := e.introspect(&e.api, bearer.str("access_token")); in.body["cnf"] != nil || in.str("token_type") != "Bearer" {
				t.Fatalf("a bearer token introspects as %v", in.body)
			}
		})
	}
}

// TestRFC9449_4_3_ProofsRefusedAtTheTokenEndpoint: a replayed proof, a
// proof for another URL or method, two proofs, and garbage are each
// invalid_dpop_proof, and issue nothing.
func TestRFC9449_4_3_ProofsRefusedAtTheTokenEndpoint(t *testing.T) {
	e := newEnv(t, "sqlite")
	k := newDPoPKey(t)
	cc := url.Values{"grant_type": {"client_credentials"}}
	p := k.proof(e, "POST", e.issuer+"/token", "", "")
	if a := e.postTokenDPoP(cc, &e.svc, p); a.status != 200 {
		t.Fatalf("%d %v", a.status, a.body)
	}
	wantError(t, e.postTokenDPoP(cc, &e.svc, p), 400, "invalid_dpop_proof") // §11.1 replay
	wantError(t, e.postTokenDPoP(cc, &e.svc, k.proof(e, "POST", e.issuer+"/introspect", "", "")), 400, "invalid_dpop_proof")
	wantError(t, e.postTokenDPoP(cc, &e.svc, k.proof(e, "GET", e.issuer+"/token", "", "")), 400, "invalid_dpop_proof")
	wantError(t, e.postTokenDPoP(cc, &e.svc, "not.a.proof"), 400, "invalid_dpop_proof")
	req := e.formRequest("/token", cc, &e.svc)
	req.Header.Add("DPoP", k.proof(e, "POST", e.issuer+"/token", "", ""))
	req.Header.Add("DPoP", k.proof(e, "POST", e.issuer+"/token", "", ""))
	wantError(t, e.doToken(req), 400, "invalid_dpop_proof")
}

// TestRFC9449_7_StolenTokenIsRefusedAtUserinfo: a DPoP-bound access token
// works at /userinfo only with the DPoP scheme and a fresh proof of its
// key for that request; presented as a bearer token, with another key's
// proof, a replayed proof, a proof for another URL, or one without ath,
// it is refused with WWW-Authenticate: DPoP.
func TestRFC9449_7_StolenTokenIsRefusedAtUserinfo(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnvOn(t, backend, dbtest.Open(t, backend))
			k := newDPoPKey(t)
			code := e.codeFor(e.browser(), "openid notes.read", "")
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.web.redirect}}
			a := e.postTokenDPoP(form, &e.web, k.proof(e, "POST", e.issuer+"/token", "", ""))
			if a.status != 200 || a.str("token_type") != "DPoP" {
				t.Fatalf("%d %v", a.status, a.body)
			}
			at := a.str("access_token")
			ui := e.issuer + "/userinfo"

			good := k.proof(e, "GET", ui, at, "")
			if resp, body := e.userinfoWith("DPoP", at, good); resp.StatusCode != 200 || !strings.Contains(body, `"sub"`) {
				t.Fatalf("the key's holder: %d %s", resp.StatusCode, body)
			}
			thief := newDPoPKey(t)
			for name, c := range map[string]struct{ scheme, proof, code string }{
				"RFC9449_7_2/as_bearer":        {"Bearer", "", "invalid_token"},
				"RFC9449_7_1/no_proof":         {"DPoP", "", "invalid_dpop_proof"},
				"RFC9449_7_1/another_key":      {"DPoP", thief.proof(e, "GET", ui, at, ""), "invalid_token"},
				"RFC9449_11_1/replayed_proof":  {"DPoP", good, "invalid_dpop_proof"},
				"RFC9449_4_3/wrong_htu":        {"DPoP", k.proof(e, "GET", e.issuer+"/token", at, ""), "invalid_dpop_proof"},
				"RFC9449_4_3/wrong_htm":        {"DPoP", k.proof(e, "POST", ui, at, ""), "invalid_dpop_proof"},
				"RFC9449_4_3/no_ath":           {"DPoP", k.proof(e, "GET", ui, "", ""), "invalid_dpop_proof"},
				"RFC9449_4_3/ath_of_other_tok": {"DPoP", k.proof(e, "GET", ui, "another-token", ""), "invalid_dpop_proof"},
			} {
				resp, body := e.userinfoWith(c.scheme, at, c.proof)
				challenge := resp.Header.Get("WWW-Authenticate")
				if resp.StatusCode != 401 || !strings.HasPrefix(challenge, "DPoP ") || !strings.Contains(challenge, `error="`+c.code+`"`) {
					t.Errorf("%s: %d %q %s, want 401 DPoP %s", name, resp.StatusCode, challenge, body, c.code)
				}
			}
			// A bearer token stays a bearer token.
			bearer := e.redeem(e.codeFor(e.browser(), "openid notes.read", ""), "")
			if resp, _ := e.userinfoWith("Bearer", bearer.str("access_token"), ""); resp.StatusCode != 200 {
				t.Fatalf("a bearer token: %d", resp.StatusCode)
			}
			if resp, _ := e.userinfoWith("DPoP", bearer.str("access_token"), k.proof(e, "GET", ui, bearer.str("access_token"), "")); resp.StatusCode != 401 {
				t.Fatalf("a bearer token with the DPoP scheme: %d", resp.StatusCode)
			}
		})
	}
}

// TestRFC9449_5_PublicClientRefreshTokenIsBound: a public client's refresh
// token is bound to its proof key: a refresh without a proof, or with
// another key's, is refused and changes nothing; with the key it rotates,
// and the new tokens are bound to it too.
func TestRFC9449_5_PublicClientRefreshTokenIsBound(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnvOn(t, backend, dbtest.Open(t, backend))
			k := newDPoPKey(t)
			conf := e.oauth2Config(e.native, "notes.read", "offline_access")
			verifier := oauth2.GenerateVerifier()
			loc := e.authorize(e.browser(), conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
			form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
				"redirect_uri": {e.native.redirect}, "code_verifier": {verifier}}
			a := e.postTokenDPoP(form, &e.native, k.proof(e, "POST", e.issuer+"/token", "", ""))
			if a.status != 200 || a.str("refresh_token") == "" {
				t.Fatalf("%d %v", a.status, a.body)
			}
			rt := a.str("refresh_token")
			if row, err := e.store.GetToken(t.Context(), secret.Hash(rt)); err != nil || row.JKT != k.jkt {
				t.Fatalf("the refresh token's row: %v, jkt %q, want %q", err, row.JKT, k.jkt)
			}
			refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			wantError(t, e.postTokenDPoP(refresh, &e.native, ""), 400, "invalid_dpop_proof")
			wantError(t, e.postTokenDPoP(refresh, &e.native, newDPoPKey(t).proof(e, "POST", e.issuer+"/token", "", "")), 400, "invalid_dpop_proof")
			b := e.postTokenDPoP(refresh, &e.native, k.proof(e, "POST", e.issuer+"/token", "", ""))
			if b.status != 200 || b.str("token_type") != "DPoP" || b.str("refresh_token") == rt {
				t.Fatalf("the key's refresh: %d %v", b.status, b.body)
			}
			wantError(t, e.postTokenDPoP(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {b.str("refresh_token")}}, &e.native, ""),
				400, "invalid_dpop_proof")
		})
	}
}

// TestRFC9449_8_NonceChallengeThenRetry: with dpop.require_nonce, a first
// proof is answered use_dpop_nonce with a DPoP-Nonce header; the retry
// with that nonce gets its token; a nonce from a server with another
// secret is refused.
func TestRFC9449_8_NonceChallengeThenRetry(t *testing.T) {
	e := newEnvConfig(t, "sqlite", dbtest.Open(t, "sqlite"), func(c *config.Config) { c.DPoP.RequireNonce = true })
	k := newDPoPKey(t)
	cc := url.Values{"grant_type": {"client_credentials"}}
	first := e.postTokenDPoP(cc, &e.svc, k.proof(e, "POST", e.issuer+"/token", "", ""))
	wantError(t, first, 400, "use_dpop_nonce")
	nonce := first.header.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("RFC 9449 §8: no DPoP-Nonce header with use_dpop_nonce")
	}
	retry := e.postTokenDPoP(cc, &e.svc, k.proof(e, "POST", e.issuer+"/token", "", nonce))
	if retry.status != 200 || retry.str("token_type") != "DPoP" {
		t.Fatalf("retry with the nonce: %d %v", retry.status, retry.body)
	}
	if retry.header.Get("DPoP-Nonce") == "" {
		t.Error("a successful answer carries no DPoP-Nonce for the next request")
	}
	wantError(t, e.postTokenDPoP(cc, &e.svc, k.proof(e, "POST", e.issuer+"/token", "", "a-nonce-this-server-never-gave")), 400, "use_dpop_nonce")
}

// TestRFC9449_5_1_MetadataAdvertisesProofAlgorithms.
func TestRFC9449_5_1_MetadataAdvertisesProofAlgorithms(t *testing.T) {
	e := newEnv(t, "sqlite")
	var m struct {
		Algs []string `json:"dpop_signing_alg_values_supported"`
	}
	if err := json.Unmarshal([]byte(readURL(t, e.issuer+"/.well-known/oauth-authorization-server")), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Algs) == 0 || m.Algs[0] != "ES256" {
		t.Fatalf("dpop_signing_alg_values_supported = %v", m.Algs)
	}
}

// TestRFC9449_5_2_ClientRequiringDPoPGetsNoBearerToken: a client
// registered with dpop_bound_access_tokens is refused a token without a
// proof, and gets a bound one with it.
func TestRFC9449_5_2_ClientRequiringDPoPGetsNoBearerToken(t *testing.T) {
	e := newEnv(t, "sqlite")
	c, err := e.store.GetClient(t.Context(), e.svc.id)
	if err != nil {
		t.Fatal(err)
	}
	c.DPoPBoundAccessTokens = true
	if err := e.store.UpdateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(clientCacheTTL + time.Second) // past the client cache
	cc := url.Values{"grant_type": {"client_credentials"}}
	wantError(t, e.postTokenDPoP(cc, &e.svc, ""), 400, "invalid_dpop_proof")
	k := newDPoPKey(t)
	if a := e.postTokenDPoP(cc, &e.svc, k.proof(e, "POST", e.issuer+"/token", "", "")); a.status != 200 || a.str("token_type") != "DPoP" {
		t.Fatalf("with a proof: %d %v", a.status, a.body)
	}
}

// TestRFC9449_10_CodeBoundWithDPoPJKT: an authorization request with
// dpop_jkt binds its code to that key: redeemed without a proof or with
// another key's it is refused and stays usable; with the key's proof it
// gives DPoP-bound tokens. A malformed dpop_jkt is invalid_request.
func TestRFC9449_10_CodeBoundWithDPoPJKT(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnvOn(t, backend, dbtest.Open(t, backend))
			k := newDPoPKey(t)
			q := e.authorizeQuery()
			q.Set("dpop_jkt", k.jkt)
			loc := e.authorize(e.browser(), e.issuer+"/authorize?"+q.Encode())
			code := loc.Query().Get("code")
			if code == "" {
				t.Fatalf("no code: %v", loc)
			}
			form := func() url.Values {
				return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.web.redirect}}
			}
			wantError(t, e.postTokenDPoP(form(), &e.web, ""), 400, "invalid_dpop_proof")
			wantError(t, e.postTokenDPoP(form(), &e.web, newDPoPKey(t).proof(e, "POST", e.issuer+"/token", "", "")), 400, "invalid_dpop_proof")
			a := e.postTokenDPoP(form(), &e.web, k.proof(e, "POST", e.issuer+"/token", "", ""))
			if a.status != 200 || a.str("token_type") != "DPoP" || cnfJKT(jwtClaims(t, a.str("access_token"))["cnf"]) != k.jkt {
				t.Fatalf("the key's redemption: %d %v", a.status, a.body)
			}

			bad := e.authorizeQuery()
			bad.Set("dpop_jkt", "not-a-thumbprint")
			resp, _ := e.get(bad.Encode())
			if got := resp.Header.Get("Location"); !strings.Contains(got, "error=invalid_request") {
				t.Fatalf("a malformed dpop_jkt: %d %s", resp.StatusCode, got)
			}
		})
	}
}

// TestRFC9449_10_1_ProofAtPARBindsTheCode: a push with a DPoP proof binds
// the code of its request_uri to the proof's key (a dpop_jkt naming
// another key is refused); the code then needs a proof of that key.
func TestRFC9449_10_1_ProofAtPARBindsTheCode(t *testing.T) {
	e := newEnv(t, "sqlite")
	k := newDPoPKey(t)
	pushWith := func(form url.Values, proof string) tokenAnswer {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/par", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(e.web.id, e.web.secret)
		req.Header.Set("DPoP", proof)
		return e.doToken(req)
	}
	verifier := oauth2.GenerateVerifier()
	mismatch := e.webPush(verifier)
	mismatch.Set("dpop_jkt", newDPoPKey(t).jkt)
	wantError(t, pushWith(mismatch, k.proof(e, "POST", e.issuer+"/par", "", "")), 400, "invalid_request")

	uri := pushed(t, pushWith(e.webPush(verifier), k.proof(e, "POST", e.issuer+"/par", "", "")))
	code := e.codeOf(t, e.authorize(e.browser(), e.parURL(e.web.id, uri)), e.web.redirect)
	form := func() url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.web.redirect}, "code_verifier": {verifier}}
	}
	wantError(t, e.postTokenDPoP(form(), &e.web, newDPoPKey(t).proof(e, "POST", e.issuer+"/token", "", "")), 400, "invalid_dpop_proof")
	if a := e.postTokenDPoP(form(), &e.web, k.proof(e, "POST", e.issuer+"/token", "", "")); a.status != 200 || a.str("token_type") != "DPoP" {
		t.Fatalf("the key's redemption: %d %v", a.status, a.body)
	}
}

// TestRFC9449_9_BrowserClientsCanReadTheNonceAtUserinfo: /userinfo is
// called from browsers (CORS), and a DPoP client there must read the
// DPoP-Nonce and WWW-Authenticate of a refusal to retry (RFC 9449 §8,
// §9): both are exposed to scripts, and the preflight allows the DPoP
// header.
func TestRFC9449_9_BrowserClientsCanReadTheNonceAtUserinfo(t *testing.T) {
	e := newEnv(t, "sqlite")
	req, _ := http.NewRequest(http.MethodOptions, e.issuer+"/userinfo", nil)
	req.Header.Set("Origin", "https://spa.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "authorization, dpop")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "DPoP") {
		t.Fatalf("preflight allows headers %q", resp.Header.Get("Access-Control-Allow-Headers"))
	}
	resp, _ = e.userinfoWith("DPoP", "lk_at_unknown", "")
	exposed := resp.Header.Get("Access-Control-Expose-Headers")
	if resp.StatusCode != 401 || !strings.Contains(exposed, "DPoP-Nonce") || !strings.Contains(exposed, "WWW-Authenticate") {
		t.Fatalf("%d, exposed headers %q", resp.StatusCode, exposed)
	}
}

// TestRFC9449_11_1_NoProofPassesTwiceAcrossARestart: a proof accepted
// before a restart is refused after it, on SQLite (whose server keeps
// proof jtis in memory and refuses proofs from before its start) as on
// PostgreSQL (whose nodes share the store's); so is one dated ahead of
// the server's clock, once its time has come.
func TestRFC9449_11_1_NoProofPassesTwiceAcrossARestart(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			e.clock.Advance(2 * time.Minute) // past the start's window, in which proofs are written on SQLite too
			k := newDPoPKey(t)
			cc := url.Values{"grant_type": {"client_credentials"}}
			token := e.issuer + "/token"
			before := k.proof(e, "POST", token, "", "")
			e.clock.Advance(30 * time.Second)
			ahead := k.proof(e, "POST", token, "", "")
			e.clock.Advance(-30 * time.Second)
			for _, p := range []string{before, ahead} {
				if a := e.postTokenDPoP(cc, &e.svc, p); a.status != 200 {
					t.Fatalf("before the restart: %d %v", a.status, a.body)
				}
			}

			e.clock.Advance(time.Second)
			cfg := config.Default()
			cfg.SystemSecret = strings.Repeat("k", 32)
			cfg.Issuer = e.issuer
			cfg.Tokens.Audience = []string{e.issuer, "notes-api"}
			restarted, err := server.New(server.Options{Config: cfg, Store: e.store, Logger: slog.New(slog.DiscardHandler), Now: e.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(restarted.Handler())
			t.Cleanup(srv.Close)
			after := func(proof string) tokenAnswer {
				req := e.formRequest("/token", cc, &e.svc)
				req.URL, _ = url.Parse(srv.URL + "/token")
				req.Header.Set("DPoP", proof)
				return e.doToken(req)
			}
			wantError(t, after(before), 400, "invalid_dpop_proof")
			e.clock.Advance(40 * time.Second) // the ahead proof's iat has passed
			wantError(t, after(ahead), 400, "invalid_dpop_proof")
			fresh := k.proof(e, "POST", token, "", "")
			if a := after(fresh); a.status != 200 {
				t.Fatalf("a fresh proof after the restart: %d %v", a.status, a.body)
			}
			wantError(t, after(fresh), 400, "invalid_dpop_proof")
		})
	}
}
