package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Signed request objects (RFC 9101), made here with go-jose as a client
// library would, sent to /authorize and pushed to /par.

// jarClient is a private_key_jwt client whose keys also sign its request
// objects, registered with the code grant.
type jarClient struct {
	keyedClient
	redirect string
}

func (e *env) newJARClient(t *testing.T, edit func(*store.Client)) jarClient {
	kc, jwks := newKeyedClient(t)
	jc := jarClient{keyedClient: kc, redirect: "https://printer.example/cb"}
	c := store.Client{ID: kc.id, Name: "Printer backend", RedirectURIs: []string{jc.redirect},
		GrantTypes: []string{oauth.GrantAuthorizationCode}, Scopes: []string{"openid", "notes.read", "photos.read"},
		TokenEndpointAuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jwks}
	if edit != nil {
		edit(&c)
	}
	e.mustCreateClient(c)
	return jc
}

// request is a code request of the client with PKCE (verifier), as the
// claims of a request object, with iss, aud and a five-minute exp at the
// server's clock.
func (jc jarClient) request(e *env, verifier string) map[string]any {
	now := e.clock.Now()
	return map[string]any{
		"iss": jc.id, "aud": e.issuer, "exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Unix(), "iat": now.Unix(),
		"jti": "r-" + verifier[:8], "client_id": jc.id, "response_type": "code", "redirect_uri": jc.redirect,
		"scope": "notes.read", "state": "xyz", "code_challenge": oauth2.S256ChallengeFromVerifier(verifier),
		"code_challenge_method": "S256",
	}
}

// sign signs claims as a request object with key (the client's when nil),
// alg ES256 and typ (none when "").
func (jc jarClient) sign(t *testing.T, claims map[string]any, key *ecdsa.PrivateKey, typ string) string {
	t.Helper()
	if key == nil {
		key = jc.key
	}
	return signObject(t, claims, jose.ES256, key, jc.kid, typ)
}

// signObject signs claims as a JWS with alg, key and kid, typ when not "".
func signObject(t *testing.T, claims map[string]any, alg jose.SignatureAlgorithm, key any, kid, typ string) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader("kid", kid)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// unsigned is claims as an alg none JWT (RFC 7519 §6).
func unsigned(claims map[string]any) string {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"oauth-authz-req+jwt"}`))
	payload, _ := json.Marshal(claims)
	return header + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
}

// tampered replaces the payload of a signed object with claims, keeping
// its signature.
func tampered(signed string, claims map[string]any) string {
	parts := strings.Split(signed, ".")
	payload, _ := json.Marshal(claims)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
}

// assertionForm authenticates the client at the server's clock.
func (jc jarClient) assertionForm(t *testing.T, e *env) url.Values {
	now := e.clock.Now()
	a := jc.assertion(t, e.issuer, func(c *jwt.Claims) {
		c.Expiry, c.IssuedAt = jwt.NewNumericDate(now.Add(time.Minute)), jwt.NewNumericDate(now)
	})
	return url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
}

// redeemCode redeems code with the client's assertion.
func (jc jarClient) redeemCode(t *testing.T, e *env, code, verifier string) tokenAnswer {
	form := jc.assertionForm(t, e)
	form.Set("grant_type", "authorization_code")
	form.Set("code", code)
	form.Set("redirect_uri", jc.redirect)
	form.Set("code_verifier", verifier)
	return e.postToken(form, nil, false)
}

// requestObjectURL sends a request object to /authorize beside client_id and
// the extra parameters.
func (e *env) requestObjectURL(clientID, object string, extra url.Values) string {
	q := url.Values{"client_id": {clientID}, "request": {object}}
	for k, v := range extra {
		q[k] = v
	}
	return e.issuer + "/authorize?" + q.Encode()
}

// wantErrorPage checks that authURL answers an error page that says text
// (an error code, a reason).
func (e *env) wantErrorPage(t *testing.T, authURL, text string) {
	t.Helper()
	resp, err := e.browser().Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	assertErrorPage(t, resp, body)
	if !strings.Contains(body, text) {
		t.Fatalf("the error page does not say %q:\n%s", text, body)
	}
}

func TestRFC9101_5_RequestObjectAtAuthorize(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			jc := e.newJARClient(t, nil)

			t.Run("signed_with_the_clients_key_gets_a_code", func(t *testing.T) {
				v := oauth2.GenerateVerifier()
				loc := e.authorize(e.browser(), e.requestObjectURL(jc.id, jc.sign(t, jc.request(e, v), nil, "oauth-authz-req+jwt"), nil))
				if a := jc.redeemCode(t, e, e.codeOf(t, loc, jc.redirect), v); a.status != 200 || a.str("scope") != "notes.read" {
					t.Fatalf("redemption: %d %v", a.status, a.body)
				}
			})
			t.Run("RFC9101_5/only_the_objects_parameters_count", func(t *testing.T) {
				// Parameters beside the object (a changed scope, another
				// redirect URI, prompt=none) are ignored.
				v := oauth2.GenerateVerifier()
				outside := url.Values{"scope": {"photos.read"}, "redirect_uri": {"https://evil.example/cb"}, "prompt": {"none"}, "state": {"changed"}}
				loc := e.authorize(e.browser(), e.requestObjectURL(jc.id, jc.sign(t, jc.request(e, v), nil, ""), outside))
				if a := jc.redeemCode(t, e, e.codeOf(t, loc, jc.redirect), v); a.status != 200 || a.str("scope") != "notes.read" {
					t.Fatalf("redemption: %d %v", a.status, a.body)
				}
			})
			t.Run("claims_of_other_types_become_parameters", func(t *testing.T) {
				v := oauth2.GenerateVerifier()
				c := jc.request(e, v)
				c["scope"], c["max_age"] = "openid notes.read", 3600
				c["claims"] = map[string]any{"id_token": map[string]any{"email": map[string]any{"essential": true}}}
				c["nonce"] = "n-1"
				loc := e.authorize(e.browser(), e.requestObjectURL(jc.id, jc.sign(t, c, nil, "JWT"), nil))
				a := jc.redeemCode(t, e, e.codeOf(t, loc, jc.redirect), v)
				if a.status != 200 || a.str("id_token") == "" {
					t.Fatalf("redemption: %d %v", a.status, a.body)
				}
				if idt := jwtClaims(t, a.str("id_token")); idt["nonce"] != "n-1" {
					t.Fatalf("the ID token's nonce %v is not the object's", idt["nonce"])
				}
			})

			other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			edit := func(f func(map[string]any)) map[string]any {
				c := jc.request(e, oauth2.GenerateVerifier())
				f(c)
				return c
			}
			now := e.clock.Now()
			signedGood := jc.sign(t, jc.request(e, oauth2.GenerateVerifier()), nil, "")
			for name, object := range map[string]string{
				"RFC9101_6_3/alg_none":             unsigned(jc.request(e, oauth2.GenerateVerifier())),
				"RFC9101_6_3/tampered":             tampered(signedGood, edit(func(c map[string]any) { c["redirect_uri"] = "https://printer.example/cb2" })),
				"RFC9101_6_3/another_key":          jc.sign(t, jc.request(e, oauth2.GenerateVerifier()), other, ""),
				"RFC9101_6_3/iss_not_the_client":   jc.sign(t, edit(func(c map[string]any) { c["iss"] = "someone-else" }), nil, ""),
				"RFC9101_6_3/aud_another_server":   jc.sign(t, edit(func(c map[string]any) { c["aud"] = "https://other.example" }), nil, ""),
				"RFC9101_6_3/no_exp":               jc.sign(t, edit(func(c map[string]any) { delete(c, "exp") }), nil, ""),
				"RFC9101_6_3/expired":              jc.sign(t, edit(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() }), nil, ""),
				"RFC9101_6_3/lives_too_long":       jc.sign(t, edit(func(c map[string]any) { c["exp"] = now.Add(2 * time.Hour).Unix() }), nil, ""),
				"RFC9101_6_3/nbf_too_old":          jc.sign(t, edit(func(c map[string]any) { c["nbf"] = now.Add(-2 * time.Hour).Unix() }), nil, ""),
				"RFC9101_6_3/nbf_in_the_future":    jc.sign(t, edit(func(c map[string]any) { c["nbf"] = now.Add(10 * time.Minute).Unix() }), nil, ""),
				"RFC9101_10_8/typ_of_a_dpop_proof": jc.sign(t, jc.request(e, oauth2.GenerateVerifier()), nil, "dpop+jwt"),
				"RFC9101_5/client_id_differs":      jc.sign(t, edit(func(c map[string]any) { c["client_id"] = e.web.id }), nil, ""),
				"RFC9101_4/request_uri_inside":     jc.sign(t, edit(func(c map[string]any) { c["request_uri"] = "https://printer.example/r" }), nil, ""),
				"encrypted":                        "a.b.c.d.e",
				"not_a_jwt":                        "hello",
			} {
				t.Run(name, func(t *testing.T) {
					e.wantErrorPage(t, e.requestObjectURL(jc.id, object, nil), "invalid_request_object")
				})
			}
			t.Run("RFC9101_5/client_id_missing_beside_it", func(t *testing.T) {
				e.wantErrorPage(t, e.issuer+"/authorize?"+url.Values{"request": {signedGood}}.Encode(), "client_id")
			})
			t.Run("RFC9101_5/request_and_request_uri_together", func(t *testing.T) {
				e.wantErrorPage(t, e.requestObjectURL(jc.id, signedGood, url.Values{"request_uri": {"urn:ietf:params:oauth:request_uri:lk_ru_x"}}), "invalid_request")
			})
			t.Run("a_client_without_keys_cannot_send_one", func(t *testing.T) {
				e.wantErrorPage(t, e.requestObjectURL(e.web.id, signedGood, nil), "invalid_request_object")
			})
		})
	}
}

// TestRFC9101_RequestObjectPushedToPAR: a request object pushed with the
// client's authentication (RFC 9126 §3) is verified as at /authorize; its
// request_uri then brings its parameters to /authorize.
func TestRFC9101_RequestObjectPushedToPAR(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			jc := e.newJARClient(t, nil)
			push := func(object string) tokenAnswer {
				form := jc.assertionForm(t, e)
				form.Set("client_id", jc.id)
				form.Set("request", object)
				return e.push(form, nil, false)
			}
			v := oauth2.GenerateVerifier()
			uri := pushed(t, push(jc.sign(t, jc.request(e, v), nil, "oauth-authz-req+jwt")))
			loc := e.authorize(e.browser(), e.parURL(jc.id, uri))
			if a := jc.redeemCode(t, e, e.codeOf(t, loc, jc.redirect), v); a.status != 200 {
				t.Fatalf("redemption: %d %v", a.status, a.body)
			}
			signed := jc.sign(t, jc.request(e, oauth2.GenerateVerifier()), nil, "")
			other := jc.request(e, oauth2.GenerateVerifier())
			other["iss"], other["client_id"] = e.web.id, e.web.id
			for name, object := range map[string]string{
				"RFC9101_6_3/alg_none":                   unsigned(jc.request(e, oauth2.GenerateVerifier())),
				"RFC9101_6_3/tampered":                   tampered(signed, jc.request(e, oauth2.GenerateVerifier())),
				"RFC9126_3/another_clients_request_body": jc.sign(t, other, nil, ""),
			} {
				t.Run(name, func(t *testing.T) {
					a := push(object)
					wantError(t, a, 400, "invalid_request_object")
					if a.header.Get("Location") != "" {
						t.Fatal("a refused push redirects")
					}
				})
			}
		})
	}
}

// TestRFC9101_10_5_RequireSignedRequestObject: a client registered with
// require_signed_request_object gets nothing for plain parameters, at
// /authorize or /par; its signed objects work at both.
func TestRFC9101_10_5_RequireSignedRequestObject(t *testing.T) {
	e := newEnv(t, "sqlite")
	jc := e.newJARClient(t, func(c *store.Client) { c.RequireSignedRequestObject = true })
	v := oauth2.GenerateVerifier()
	plain := url.Values{}
	for k, val := range jc.request(e, v) {
		if s, ok := val.(string); ok && !slices.Contains([]string{"iss", "aud", "jti"}, k) {
			plain.Set(k, s)
		}
	}
	e.wantErrorPage(t, e.issuer+"/authorize?"+plain.Encode(), "signed request objects")
	form := jc.assertionForm(t, e)
	for k, vs := range plain {
		form[k] = vs
	}
	if a := e.push(form, nil, false); a.status != 400 || !strings.Contains(a.str("error_description"), "signed request objects") {
		t.Fatalf("a plain push: %d %v", a.status, a.body)
	}
	loc := e.authorize(e.browser(), e.requestObjectURL(jc.id, jc.sign(t, jc.request(e, v), nil, ""), nil))
	if a := jc.redeemCode(t, e, e.codeOf(t, loc, jc.redirect), v); a.status != 200 {
		t.Fatalf("redemption: %d %v", a.status, a.body)
	}
}

// TestRFC9101_10_1_MetadataAdvertisesRequestObjects: discovery says
// request objects are accepted and with which algorithms (never none).
func TestRFC9101_10_1_MetadataAdvertisesRequestObjects(t *testing.T) {
	e := newEnv(t, "sqlite")
	m := e.metadata(t)
	algs, _ := m["request_object_signing_alg_values_supported"].([]any)
	if m["request_parameter_supported"] != true || len(algs) == 0 || slices.Contains(algs, any("none")) || !slices.Contains(algs, any("ES256")) {
		t.Fatalf("request_parameter_supported %v, request_object_signing_alg_values_supported %v", m["request_parameter_supported"], algs)
	}
}
