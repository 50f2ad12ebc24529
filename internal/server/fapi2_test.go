package server_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// The FAPI 2.0 Security Profile (final) as one client switch: each test
// takes one shortcut the profile forbids and checks it is refused, next to
// the same request done the profile's way. docs/fapi2.md maps the clauses
// to these tests.

// fapiClient is a FAPI 2.0 client: private_key_jwt with an EC key (k1)
// and an RSA key (r1), so that the algorithms the profile forbids can be
// tried with a key the client did register.
type fapiClient struct {
	jarClient
	rsa *rsa.PrivateKey
	dk  *dpopKey
}

const fapiRSAKid = "r1"

// newFAPIEnv starts Latchkey on SQLite with the server-wide settings the
// profile must override: five-minute codes and, when rs256, RS256 access
// tokens.
func newFAPIEnv(t *testing.T, backend string, edit func(*config.Config)) *env {
	return newEnvConfig(t, backend, dbtest.Open(t, backend), func(c *config.Config) {
		c.Tokens.CodeTTL = 5 * time.Minute
		if edit != nil {
			edit(c)
		}
	})
}

func (e *env) newFAPIClient(t *testing.T, edit func(*store.Client)) fapiClient {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var fc fapiClient
	fc.rsa, fc.dk = rk, newDPoPKey(t)
	fc.jarClient = e.newJARClient(t, func(c *store.Client) {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal([]byte(c.JWKS), &set); err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &rk.PublicKey, KeyID: fapiRSAKid, Use: "sig"})
		b, _ := json.Marshal(set)
		c.JWKS = string(b)
		c.ID, c.Name = "bank-app", "Bank"
		c.Profile = oauth.ProfileFAPI2
		c.GrantTypes = []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials}
		oauth.ApplyProfileDefaults(c)
		if edit != nil {
			edit(c)
		}
	})
	fc.id = "bank-app"
	return fc
}

// signedAssertion is a client assertion signed with alg by key (kid).
func (fc fapiClient) signedAssertion(t *testing.T, e *env, alg jose.SignatureAlgorithm, key any, kid, aud string) url.Values {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	a, err := jwt.Signed(s).Claims(jwt.Claims{Issuer: fc.id, Subject: fc.id, Audience: jwt.Audience{aud},
		Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: secret.RandomString(16)}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
}

// pushForm is the profile's pushed request: PKCE S256, redirect_uri, the
// client's assertion.
func (fc fapiClient) pushForm(t *testing.T, e *env, verifier string) url.Values {
	form := fc.assertionForm(t, e)
	form.Set("client_id", fc.id)
	form.Set("response_type", "code")
	form.Set("redirect_uri", fc.redirect)
	form.Set("scope", "openid notes.read")
	form.Set("state", "xyz")
	form.Set("code_challenge", oauth2.S256ChallengeFromVerifier(verifier))
	form.Set("code_challenge_method", "S256")
	return form
}

// pushWithProof posts form to /par with a DPoP proof of the client's key.
func (fc fapiClient) pushWithProof(e *env, form url.Values) tokenAnswer {
	req := e.formRequest("/par", form, nil)
	req.Header.Set("DPoP", fc.dk.proof(e, http.MethodPost, e.issuer+"/par", "", ""))
	return e.doToken(req)
}

// code runs the profile's flow up to the code: push, then /authorize.
func (fc fapiClient) code(t *testing.T, e *env, verifier string) string {
	uri := pushed(t, fc.pushWithProof(e, fc.pushForm(t, e, verifier)))
	return e.codeOf(t, e.authorize(e.browser(), e.parURL(fc.id, uri)), fc.redirect)
}

// redeemForm redeems code with the client's assertion.
func (fc fapiClient) redeemForm(t *testing.T, e *env, code, verifier string) url.Values {
	form := fc.assertionForm(t, e)
	form.Set("grant_type", "authorization_code")
	form.Set("code", code)
	form.Set("redirect_uri", fc.redirect)
	form.Set("code_verifier", verifier)
	return form
}

// tokenProof is a DPoP proof of the client's key for the token endpoint.
func (fc fapiClient) tokenProof(e *env) string {
	return fc.dk.proof(e, http.MethodPost, e.issuer+"/token", "", "")
}

func TestFAPI2_5_3_2_TheProfilesFlow(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newFAPIEnv(t, backend, nil)
			fc := e.newFAPIClient(t, nil)
			v := oauth2.GenerateVerifier()
			a := e.postTokenDPoP(fc.redeemForm(t, e, fc.code(t, e, v), v), nil, fc.tokenProof(e))
			if a.status != 200 || a.str("token_type") != "DPoP" || a.str("refresh_token") == "" {
				t.Fatalf("redemption: %d %v", a.status, a.body)
			}
			if cnfJKT(jwtClaims(t, a.str("access_token"))["cnf"]) != fc.dk.jkt {
				t.Fatal("the access token is not bound to the proof's key")
			}
			idt, err := jose.ParseSigned(a.str("id_token"), []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.PS256})
			if err != nil {
				t.Fatalf("FAPI 2.0 §5.4.1: the ID token is not signed with ES256, PS256 or EdDSA: %v", err)
			}
			if alg := idt.Signatures[0].Header.Algorithm; alg != "ES256" {
				t.Fatalf("ID token alg %s, want the profile's default ES256", alg)
			}

			// §5.3.2.1: no refresh token rotation. The same refresh token
			// works again and again; the answers carry no new one.
			rt := a.str("refresh_token")
			refresh := func() tokenAnswer {
				form := fc.assertionForm(t, e)
				form.Set("grant_type", "refresh_token")
				form.Set("refresh_token", rt)
				return e.postTokenDPoP(form, nil, fc.tokenProof(e))
			}
			for i := range 3 {
				e.clock.Advance(10 * time.Second) // past any reuse grace
				r := refresh()
				if r.status != 200 || r.str("refresh_token") != "" || r.str("token_type") != "DPoP" || r.str("access_token") == a.str("access_token") {
					t.Fatalf("refresh %d with the same refresh token: %d %v", i, r.status, r.body)
				}
			}
			revoke := fc.assertionForm(t, e)
			revoke.Set("token", rt)
			resp, err := http.DefaultClient.Do(e.formRequest("/revoke", revoke, nil))
			if err != nil {
				t.Fatal(err)
			}
			if readBody(t, resp); resp.StatusCode != 200 {
				t.Fatalf("revocation: %d", resp.StatusCode)
			}
			wantError(t, refresh(), 400, "invalid_grant")
		})
	}
}

func TestFAPI2_5_3_2_ShortcutsAreRefused(t *testing.T) {
	e := newFAPIEnv(t, "sqlite", func(c *config.Config) { c.Server.AssertionEndpointAudience = true })
	fc := e.newFAPIClient(t, nil)
	t.Run("FAPI2_5_3_2_2/authorization_request_without_PAR", func(t *testing.T) {
		q := fc.pushForm(t, e, oauth2.GenerateVerifier())
		for _, k := range []string{"client_assertion", "client_assertion_type"} {
			q.Del(k)
		}
		e.wantErrorPage(t, e.issuer+"/authorize?"+q.Encode(), "pushed authorization request")
		// A signed request object is no way around it.
		object := fc.sign(t, fc.request(e, oauth2.GenerateVerifier()), nil, "")
		e.wantErrorPage(t, e.requestObjectURL(fc.id, object, nil), "pushed authorization request")
	})
	for name, c := range map[string]struct {
		edit func(url.Values)
		code string
	}{
		"FAPI2_5_3_2_2/no_PKCE": {func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request"},
		// Without openid, whose rules require redirect_uri anyway, and with
		// one registered URI, which RFC 6749 §3.1.2.3 lets a request omit.
		"FAPI2_5_3_2_2/no_redirect_uri":      {func(q url.Values) { q.Del("redirect_uri"); q.Set("scope", "notes.read") }, "invalid_request"},
		"FAPI2_5_3_2_2/implicit_token":       {func(q url.Values) { q.Set("response_type", "token") }, "unauthorized_client"},
		"FAPI2_5_3_2_2/hybrid_code_id_token": {func(q url.Values) { q.Set("response_type", "code id_token"); q.Set("nonce", "n") }, "unauthorized_client"},
		"FAPI2_5_3_2_1/assertion_aud_is_the_endpoint": {func(q url.Values) {
			for k, v := range fc.signedAssertion(t, e, jose.ES256, fc.key, fc.kid, e.issuer+"/par") {
				q[k] = v
			}
		}, "invalid_client"},
		"FAPI2_5_4_1/assertion_signed_RS256": {func(q url.Values) {
			for k, v := range fc.signedAssertion(t, e, jose.RS256, fc.rsa, fapiRSAKid, e.issuer) {
				q[k] = v
			}
		}, "invalid_client"},
	} {
		t.Run(name, func(t *testing.T) {
			q := fc.pushForm(t, e, oauth2.GenerateVerifier())
			c.edit(q)
			wantError(t, fc.pushWithProof(e, q), statusOf(c.code), c.code)
		})
	}
	t.Run("the_endpoint_as_aud_is_accepted_from_other_clients_under_the_switch", func(t *testing.T) {
		jc := e.newJARClient(t, nil)
		form := jc.assertionForm(t, e)
		now := e.clock.Now()
		form.Set("client_assertion", jc.assertion(t, e.issuer+"/par", func(c *jwt.Claims) {
			c.Expiry, c.IssuedAt = jwt.NewNumericDate(now.Add(time.Minute)), jwt.NewNumericDate(now)
		}))
		for k, v := range jc.request(e, oauth2.GenerateVerifier()) {
			if s, ok := v.(string); ok && k != "iss" && k != "aud" && k != "jti" {
				form.Set(k, s)
			}
		}
		pushed(t, e.push(form, nil, false))
	})
	t.Run("FAPI2_5_3_2_2/push_without_client_authentication", func(t *testing.T) {
		q := fc.pushForm(t, e, oauth2.GenerateVerifier())
		q.Del("client_assertion")
		q.Del("client_assertion_type")
		wantError(t, fc.pushWithProof(e, q), 401, "invalid_client")
	})
	t.Run("FAPI2_5_4_1/assertion_signed_PS256_with_the_same_key_is_accepted", func(t *testing.T) {
		q := fc.pushForm(t, e, oauth2.GenerateVerifier())
		for k, v := range fc.signedAssertion(t, e, jose.PS256, fc.rsa, fapiRSAKid, e.issuer) {
			q[k] = v
		}
		pushed(t, fc.pushWithProof(e, q))
	})
	t.Run("FAPI2_5_4_1/request_object_signed_RS256", func(t *testing.T) {
		object := signObject(t, fc.request(e, oauth2.GenerateVerifier()), jose.RS256, fc.rsa, fapiRSAKid, "")
		form := fc.assertionForm(t, e)
		form.Set("client_id", fc.id)
		form.Set("request", object)
		wantError(t, fc.pushWithProof(e, form), 400, "invalid_request_object")
	})
	t.Run("FAPI2_5_4_1/dpop_proof_signed_RS256", func(t *testing.T) {
		// The client's own 2048-bit RSA key: only the algorithm is wrong,
		// at the token endpoint and at /par alike.
		cc := fc.assertionForm(t, e)
		cc.Set("grant_type", "client_credentials")
		rs256 := func(path string) string {
			return signProof(t, e, jose.RS256, fc.rsa, http.MethodPost, e.issuer+path, "", "")
		}
		wantError(t, e.postTokenDPoP(cc, nil, rs256("/token")), 400, "invalid_dpop_proof")
		req := e.formRequest("/par", fc.pushForm(t, e, oauth2.GenerateVerifier()), nil)
		req.Header.Set("DPoP", rs256("/par"))
		wantError(t, e.doToken(req), 400, "invalid_dpop_proof")
		// PS256 with the same key is the profile's.
		cc = fc.assertionForm(t, e)
		cc.Set("grant_type", "client_credentials")
		ps256 := signProof(t, e, jose.PS256, fc.rsa, http.MethodPost, e.issuer+"/token", "", "")
		if a := e.postTokenDPoP(cc, nil, ps256); a.status != 200 || a.str("token_type") != "DPoP" {
			t.Fatalf("client credentials with a PS256 proof: %d %v", a.status, a.body)
		}
	})
	t.Run("FAPI2_5_3_2_1/token_request_without_DPoP", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := fc.code(t, e, v)
		wantError(t, e.postTokenDPoP(fc.redeemForm(t, e, code, v), nil, ""), 400, "invalid_dpop_proof")
		cc := fc.assertionForm(t, e)
		cc.Set("grant_type", "client_credentials")
		wantError(t, e.postTokenDPoP(cc, nil, ""), 400, "invalid_dpop_proof")
		cc = fc.assertionForm(t, e)
		cc.Set("grant_type", "client_credentials")
		if a := e.postTokenDPoP(cc, nil, fc.tokenProof(e)); a.status != 200 || a.str("token_type") != "DPoP" {
			t.Fatalf("client credentials with a proof: %d %v", a.status, a.body)
		}
	})
	t.Run("FAPI2_5_3_2_1/code_lives_at_most_60s", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := fc.code(t, e, v)
		e.clock.Advance(61 * time.Second)
		wantError(t, e.postTokenDPoP(fc.redeemForm(t, e, code, v), nil, fc.tokenProof(e)), 400, "invalid_grant")
		// The server's five minutes still hold for other clients.
		v = oauth2.GenerateVerifier()
		q := e.webPush(v)
		loc := e.authorize(e.browser(), e.parURL(e.web.id, pushed(t, e.push(q, &e.web, true))))
		webCode := e.codeOf(t, loc, e.web.redirect)
		e.clock.Advance(61 * time.Second)
		if a := e.redeem(webCode, v); a.status != 200 {
			t.Fatalf("another client's code after 61s: %d %v", a.status, a.body)
		}
	})
}

// statusOf is the status of an error code at /par.
func statusOf(code string) int {
	if code == "invalid_client" {
		return http.StatusUnauthorized
	}
	return http.StatusBadRequest
}

// TestFAPI2_5_3_2_1_RowsEditedAroundTheRulesStillHold: a client row that
// names the profile but was written around registration's checks (a
// password grant, a secret) is still held to it on every request.
func TestFAPI2_5_3_2_1_RowsEditedAroundTheRulesStillHold(t *testing.T) {
	e := newFAPIEnv(t, "sqlite", nil)
	scopes := oauth.NewScopes(config.DefaultScopes)
	write := func(c store.Client) {
		t.Helper()
		c.Name, c.Scopes, c.Profile, c.IDTokenAlg = c.ID, []string{"notes.read"}, oauth.ProfileFAPI2, "ES256"
		c.CreatedAt, c.UpdatedAt = e.clock.Now(), e.clock.Now()
		if oauth.ValidateClient(c, scopes) == nil {
			t.Fatalf("registration accepted %+v", c)
		}
		if err := e.store.CreateClient(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	k := newDPoPKey(t)
	proof := func() string { return k.proof(e, http.MethodPost, e.issuer+"/token", "", "") }

	t.Run("FAPI2_5_3_2_1/password_grant", func(t *testing.T) {
		kc, jwks := newKeyedClient(t)
		write(store.Client{ID: kc.id, TokenEndpointAuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jwks,
			GrantTypes: []string{oauth.GrantPassword, oauth.GrantClientCredentials}})
		jc := jarClient{keyedClient: kc}
		form := jc.assertionForm(t, e)
		form.Set("grant_type", "password")
		form.Set("username", e.user)
		form.Set("password", e.pass)
		wantError(t, e.postTokenDPoP(form, nil, proof()), 400, "unauthorized_client")
		form = jc.assertionForm(t, e)
		form.Set("grant_type", "client_credentials")
		if a := e.postTokenDPoP(form, nil, proof()); a.status != 200 {
			t.Fatalf("the grant it may use: %d %v", a.status, a.body)
		}
	})
	t.Run("FAPI2_5_3_2_1/client_secret", func(t *testing.T) {
		sec, hash := oauth.NewClientSecret()
		write(store.Client{ID: "edited-bank", SecretHash: hash, TokenEndpointAuthMethod: oauth.AuthSecretBasic,
			GrantTypes: []string{oauth.GrantClientCredentials}})
		c := testClient{id: "edited-bank", secret: sec.String()}
		wantError(t, e.postTokenDPoP(url.Values{"grant_type": {"client_credentials"}}, &c, proof()), 401, "invalid_client")
	})
}

// TestFAPI2_5_4_1_AccessTokensAreNeverRS256: on a server that signs access
// tokens with RS256, a FAPI 2.0 client's are opaque (introspected) while
// other clients keep their JWTs.
func TestFAPI2_5_4_1_AccessTokensAreNeverRS256(t *testing.T) {
	e := newFAPIEnv(t, "sqlite", func(c *config.Config) { c.Tokens.Algorithm = "RS256" })
	fc := e.newFAPIClient(t, nil)
	cc := fc.assertionForm(t, e)
	cc.Set("grant_type", "client_credentials")
	a := e.postTokenDPoP(cc, nil, fc.tokenProof(e))
	if a.status != 200 || !strings.HasPrefix(a.str("access_token"), "lk_at_") {
		t.Fatalf("the FAPI client's token: %d %v, want an opaque lk_at_ token", a.status, a.body)
	}
	other := e.confidential("indexer", oauth.GrantClientCredentials)
	if b := e.postToken(url.Values{"grant_type": {"client_credentials"}}, &other, true); strings.Count(b.str("access_token"), ".") != 2 {
		t.Fatalf("another client's token %v is not a JWT", b.body)
	}
}

// TestFAPI2_RegistrationRefusesWhatTheProfileForbids: every setting the
// profile rules out is named at once.
func TestFAPI2_RegistrationRefusesWhatTheProfileForbids(t *testing.T) {
	c := store.Client{ID: "bank", Name: "Bank", Public: true, RedirectURIs: []string{"https://bank.example/cb"},
		GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantImplicit, oauth.GrantPassword, oauth.GrantDeviceCode},
		Scopes:     []string{"notes.read"}, CodeTTL: 2 * time.Minute, IDTokenAlg: "RS256", Profile: oauth.ProfileFAPI2}
	err := oauth.ValidateClient(c, oauth.NewScopes(config.DefaultScopes))
	if err == nil {
		t.Fatal("registered")
	}
	for _, want := range []string{"confidential", "private_key_jwt", `"implicit"`, `"password"`, `"urn:ietf:params:oauth:grant-type:device_code"`, "code_ttl", "ID tokens"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not mention %s:\n%v", want, err)
		}
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &small.PublicKey, KeyID: "small", Use: "sig"}}})
	c.Public, c.TokenEndpointAuthMethod, c.JWKS = false, oauth.AuthPrivateKeyJWT, string(set)
	if err := oauth.ValidateClient(c, oauth.NewScopes(config.DefaultScopes)); err == nil || !strings.Contains(err.Error(), `RSA key "small" has 1024 bits`) {
		t.Errorf("a 1024-bit RSA key: %v", err)
	}
	c.Profile = "fapi1"
	if err := oauth.ValidateClient(c, oauth.NewScopes(config.DefaultScopes)); err == nil || !strings.Contains(err.Error(), "unknown profile") {
		t.Fatalf("an unknown profile: %v", err)
	}
}
