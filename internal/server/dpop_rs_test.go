package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/rs"
)

// The notes API's routes: one behind each of its Guards.
const (
	byJWT           = "/notes/by-jwt"
	byIntrospection = "/notes/by-introspection"
)

// protectedAPI is an API in front of the running Latchkey: a registered
// resource (RFC 8707) served over HTTP at its own URL, where two rs Guards
// find Latchkey by its issuer URL. One verifies JWT access tokens against
// the issuer's JWKS; the other also introspects opaque tokens at
// /introspect with the resource's own credentials (RFC 7662 §2.1).
type protectedAPI struct {
	base string // the API's origin
	uri  string // its resource indicator
}

// protectedAPI registers the notes API for notes.read and notes.write and
// starts it.
func (e *env) protectedAPI() *protectedAPI {
	e.t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	a := &protectedAPI{base: "http://" + srv.Listener.Addr().String()}
	a.uri = a.base + "/notes"
	creds := e.resource(a.uri, "notes.read", "notes.write")
	e.clock.Advance(6 * time.Second) // past the registry's cache
	notes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := rs.FromContext(r.Context())
		fmt.Fprintf(w, "notes of %s", tok.Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("GET "+byJWT, e.guard(rs.Config{Resource: a.uri}).Require("notes.read")(notes))
	mux.Handle("GET "+byIntrospection, e.guard(rs.Config{Resource: a.uri, ClientID: creds.id, ClientSecret: creds.secret}).Require("notes.read")(notes))
	srv.Config.Handler = mux
	srv.Start()
	e.t.Cleanup(srv.Close)
	e.clock.Advance(6 * time.Second) // past the guards' first seconds, which refuse DPoP proofs (rs/dpop.go)
	return a
}

// guard is an rs Guard of cfg that reads Latchkey's metadata, keys and
// introspection endpoint over HTTP, on Latchkey's clock.
func (e *env) guard(cfg rs.Config) *rs.Guard {
	e.t.Helper()
	cfg.Issuer, cfg.Now = e.issuer, e.clock.Now
	g, err := rs.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

// dpopCC asks a client-credentials token of c for notes.read at resource,
// with a proof of k carrying nonce (none when "").
func (e *env) dpopCC(c testClient, resource string, k *dpopKey, nonce string) tokenAnswer {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}, "scope": {"notes.read"}}
	return e.postTokenDPoP(form, &c, k.proof(e, "POST", e.issuer+"/token", "", nonce))
}

// dpopCode runs the browser part of the web client's code flow for openid
// and notes.read with dpop_jkt (RFC 9449 §10) and returns the code.
func (e *env) dpopCode(jkt string) string {
	e.t.Helper()
	q := e.authorizeQuery()
	q.Set("scope", "openid notes.read")
	q.Set("dpop_jkt", jkt)
	loc := e.authorize(e.browser(), e.issuer+"/authorize?"+q.Encode())
	code := loc.Query().Get("code")
	if code == "" {
		e.t.Fatalf("no code in %v", loc)
	}
	return code
}

// redeemDPoP redeems the web client's code with a proof of k carrying
// nonce (none when "").
func (e *env) redeemDPoP(code string, k *dpopKey, nonce string) tokenAnswer {
	e.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.web.redirect}}
	return e.postTokenDPoP(form, &e.web, k.proof(e, "POST", e.issuer+"/token", "", nonce))
}

// boundToken returns the access token of a DPoP token answer.
func boundToken(t *testing.T, a tokenAnswer) string {
	t.Helper()
	if a.status != 200 || a.str("token_type") != "DPoP" || a.str("access_token") == "" {
		t.Fatalf("want a DPoP-bound token: %d %v", a.status, a.body)
	}
	return a.str("access_token")
}

// wantDPoPChallenge checks a resource's refusal of a DPoP-bound token
// (RFC 9449 §7.1): 401 with WWW-Authenticate naming the DPoP scheme, the
// algorithms accepted and the error, and the error in the body.
func wantDPoPChallenge(t *testing.T, resp *http.Response, body, code string) {
	t.Helper()
	challenge := resp.Header.Get("WWW-Authenticate")
	var b struct {
		Error string `json:"error"`
	}
	json.Unmarshal([]byte(body), &b)
	if resp.StatusCode != 401 || !strings.HasPrefix(challenge, "DPoP ") || !strings.Contains(challenge, `algs="`) ||
		!strings.Contains(challenge, `error="`+code+`"`) || b.Error != code {
		t.Errorf("got %d %q %s, want 401 with a DPoP challenge and error %s", resp.StatusCode, challenge, body, code)
	}
}

// dpopPlace is a protected endpoint and a token bound to the key meant
// for it; the key's holder gets an answer containing want.
type dpopPlace struct {
	name, url, token, want string
}

// boundEverywhere starts Latchkey on backend with the notes API, and gets
// tokens bound to one key: a user's by the code flow with dpop_jkt, a
// client's JWT and a client's opaque token by client credentials. It
// returns the key and where each token is checked: /userinfo, the JWT
// Guard, the introspecting Guard.
func boundEverywhere(t *testing.T, backend string) (*env, *dpopKey, []dpopPlace) {
	t.Helper()
	e := newEnv(t, backend)
	api := e.protectedAPI()
	k := newDPoPKey(t)
	user := boundToken(t, e.redeemDPoP(e.dpopCode(k.jkt), k, ""))
	jwt := boundToken(t, e.dpopCC(e.svc, api.uri, k, ""))
	opaque := boundToken(t, e.dpopCC(e.opaque, api.uri, k, ""))
	if strings.Count(jwt, ".") != 2 || strings.Count(opaque, ".") == 2 {
		t.Fatalf("want a JWT from %s and an opaque token from %s", e.svc.id, e.opaque.id)
	}
	return e, k, []dpopPlace{
		{"userinfo", e.issuer + "/userinfo", user, `"sub":"u1"`},
		{"rs_jwt/user", api.base + byJWT, user, "notes of u1"},
		{"rs_jwt/client", api.base + byJWT, jwt, "notes of " + e.svc.id},
		{"rs_introspection/client", api.base + byIntrospection, opaque, "notes of " + e.opaque.id},
	}
}

// TestRFC9449_7_1_OnlyTheKeyHolderUsesABoundToken: against the real
// server, at /userinfo, at an rs Guard verifying JWTs and at an rs Guard
// introspecting opaque tokens, a DPoP-bound token works for the holder of
// its key; a thief who has the token but not the key, presenting it as a
// bearer token, without a proof, or with a proof of another key, is
// refused with a DPoP challenge.
func TestRFC9449_7_1_OnlyTheKeyHolderUsesABoundToken(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e, k, places := boundEverywhere(t, backend)
			thief := newDPoPKey(t)
			for _, p := range places {
				t.Run(p.name, func(t *testing.T) {
					if resp, body := e.getWith(p.url, "DPoP", p.token, k.proof(e, "GET", p.url, p.token, "")); resp.StatusCode != 200 || !strings.Contains(body, p.want) {
						t.Fatalf("the key's holder: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
					}
					for name, c := range map[string]struct{ scheme, proof, code string }{
						// §7.2: a bound token presented as a bearer token
						// is refused.
						"RFC9449_7_2/as_a_bearer_token": {"Bearer", "", "invalid_token"},
						"RFC9449_7_1/without_a_proof":   {"DPoP", "", "invalid_dpop_proof"},
						// §4.3: at a protected resource, "confirm that the
						// public key to which the access token is bound
						// matches the public key from the DPoP proof".
						"RFC9449_7_1/with_another_keys_proof": {"DPoP", thief.proof(e, "GET", p.url, p.token, ""), "invalid_token"},
					} {
						t.Run(name, func(t *testing.T) {
							resp, body := e.getWith(p.url, c.scheme, p.token, c.proof)
							wantDPoPChallenge(t, resp, body, c.code)
						})
					}
				})
			}
		})
	}
}

// TestRFC9449_4_3_ProofForAnotherRequestIsRefused: against the real
// server, at both rs Guards and at /userinfo, the key's own proof works
// once for the request it was made for: replayed, or made for another
// URL, method or token, it is invalid_dpop_proof.
func TestRFC9449_4_3_ProofForAnotherRequestIsRefused(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e, k, places := boundEverywhere(t, backend)
			for i, p := range places {
				t.Run(p.name, func(t *testing.T) {
					u, _ := url.Parse(p.url)
					good := k.proof(e, "GET", p.url, p.token, "")
					if resp, body := e.getWith(p.url, "DPoP", p.token, good); resp.StatusCode != 200 || !strings.Contains(body, p.want) {
						t.Fatalf("the key's holder: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
					}
					// The next place at another URL, and the next with
					// another token.
					var otherURL, otherToken string
					for j := range places {
						q := places[(i+1+j)%len(places)]
						if otherURL == "" && q.url != p.url {
							otherURL = q.url
						}
						if otherToken == "" && q.token != p.token {
							otherToken = q.token
						}
					}
					for name, proof := range map[string]string{
						// §11.1: "the server MUST ensure that the same
						// proof is not used more than once".
						"RFC9449_11_1/replayed":               good,
						"RFC9449_4_3/htu_of_another_path":     k.proof(e, "GET", u.Scheme+"://"+u.Host+"/elsewhere", p.token, ""),
						"RFC9449_4_3/htu_of_another_origin":   k.proof(e, "GET", "https://elsewhere.example"+u.Path, p.token, ""),
						"RFC9449_4_3/htu_of_another_resource": k.proof(e, "GET", otherURL, p.token, ""),
						"RFC9449_4_3/htm_of_another_method":   k.proof(e, "POST", p.url, p.token, ""),
						"RFC9449_4_3/ath_of_another_token":    k.proof(e, "GET", p.url, otherToken, ""),
						"RFC9449_4_3/no_ath":                  k.proof(e, "GET", p.url, "", ""),
					} {
						t.Run(name, func(t *testing.T) {
							resp, body := e.getWith(p.url, "DPoP", p.token, proof)
							wantDPoPChallenge(t, resp, body, "invalid_dpop_proof")
						})
					}
				})
			}
		})
	}
}

// TestRFC9449_8_NonceChallengeThenRetryThenTheResources: with
// dpop.require_nonce, a first token request, by client credentials or
// redeeming a code bound with dpop_jkt, is answered use_dpop_nonce with a
// DPoP-Nonce header (§8); the retry with the nonce gets a bound token.
// /userinfo, Latchkey's own resource, asks its nonce the same way with a
// 401 (§9). The rs Guards provide no nonces (rs has no server nonce
// support), so the tokens work there with proofs that carry none.
func TestRFC9449_8_NonceChallengeThenRetryThenTheResources(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnvConfig(t, backend, dbtest.Open(t, backend), func(c *config.Config) { c.DPoP.RequireNonce = true })
			api := e.protectedAPI()
			k := newDPoPKey(t)

			first := e.dpopCC(e.opaque, api.uri, k, "")
			wantError(t, first, 400, "use_dpop_nonce")
			nonce := first.header.Get("DPoP-Nonce")
			if nonce == "" {
				t.Fatal("RFC 9449 §8: use_dpop_nonce without a DPoP-Nonce header")
			}
			opaque := boundToken(t, e.dpopCC(e.opaque, api.uri, k, nonce))

			// The code waits, bound to its key, while the client fetches
			// the nonce.
			code := e.dpopCode(k.jkt)
			wantError(t, e.redeemDPoP(code, k, ""), 400, "use_dpop_nonce")
			user := boundToken(t, e.redeemDPoP(code, k, nonce))

			ui := e.issuer + "/userinfo"
			resp, body := e.userinfoWith("DPoP", user, k.proof(e, "GET", ui, user, ""))
			wantDPoPChallenge(t, resp, body, "use_dpop_nonce")
			uiNonce := resp.Header.Get("DPoP-Nonce")
			if uiNonce == "" {
				t.Fatal("RFC 9449 §9: use_dpop_nonce at /userinfo without a DPoP-Nonce header")
			}
			if resp, body := e.userinfoWith("DPoP", user, k.proof(e, "GET", ui, user, uiNonce)); resp.StatusCode != 200 || !strings.Contains(body, `"sub":"u1"`) {
				t.Fatalf("/userinfo retried with the nonce: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
			}

			for _, p := range []dpopPlace{
				{"rs_jwt/user", api.base + byJWT, user, "notes of u1"},
				{"rs_introspection/client", api.base + byIntrospection, opaque, "notes of " + e.opaque.id},
			} {
				resp, body := e.getWith(p.url, "DPoP", p.token, k.proof(e, "GET", p.url, p.token, ""))
				if resp.StatusCode != 200 || !strings.Contains(body, p.want) || resp.Header.Get("DPoP-Nonce") != "" {
					t.Errorf("%s: %d %q %s, want 200 without a nonce", p.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
				}
			}
		})
	}
}
