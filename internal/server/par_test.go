package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Pushed authorization requests (RFC 9126), driven with plain net/http:
// golang.org/x/oauth2 has no PAR. noderp_test.go drives them with
// openid-client as well.

// push posts an authorization request to /par as client c: Basic when
// basic, else client_id (and client_secret, when c has one) in the body.
func (e *env) push(form url.Values, c *testClient, basic bool) tokenAnswer {
	e.t.Helper()
	return e.postAuthenticated("/par", form, c, basic)
}

// pushed checks a successful push (RFC 9126 §2.2) and returns its request_uri.
func pushed(t *testing.T, a tokenAnswer) string {
	t.Helper()
	if a.status != http.StatusCreated {
		t.Fatalf("push answered %d %v, want 201 Created", a.status, a.body)
	}
	uri := a.str("request_uri")
	if !strings.HasPrefix(uri, "urn:ietf:params:oauth:request_uri:lk_ru_") {
		t.Fatalf("request_uri %q", uri)
	}
	if exp, _ := a.body["expires_in"].(float64); exp != 60 {
		t.Fatalf("expires_in %v, want the default 60", a.body["expires_in"])
	}
	return uri
}

// webPush is an authorization request of the confidential web client, to
// push, with the PKCE challenge of verifier (a new one for each request:
// /authorize refuses a challenge another browser's request holds).
func (e *env) webPush(verifier string) url.Values {
	q := e.authorizeQuery()
	q.Del("client_id")
	q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(verifier))
	q.Set("code_challenge_method", "S256")
	return q
}

// parURL is the authorization URL that brings a request_uri to /authorize.
func (e *env) parURL(clientID, requestURI string) string {
	return e.issuer + "/authorize?" + url.Values{"client_id": {clientID}, "request_uri": {requestURI}}.Encode()
}

// codeOf returns the code of a redirect to the client, with state xyz and iss.
func (e *env) codeOf(t *testing.T, loc *url.URL, redirect string) string {
	t.Helper()
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirect || q.Get("code") == "" || q.Get("state") != "xyz" || q.Get("iss") != e.issuer {
		t.Fatalf("redirect %v, want a code, state xyz and iss at %s", loc, redirect)
	}
	return q.Get("code")
}

func TestRFC9126_2_PushThenCodeFlowWithEachClientAuthMethod(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			kc, jwks := newKeyedClient(t)
			keyedRedirect := "https://printer.example/cb"
			e.mustCreateClient(store.Client{ID: kc.id, Name: "Printer backend", RedirectURIs: []string{keyedRedirect},
				GrantTypes: []string{oauth.GrantAuthorizationCode}, Scopes: []string{"notes.read"},
				TokenEndpointAuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jwks})
			assertionForm := func() url.Values {
				return url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
					"client_assertion": {kc.assertion(t, e.issuer, nil)}}
			}

			for _, c := range []struct {
				name     string
				clientID string
				redirect string
				push     func(q url.Values) tokenAnswer
				redeem   func(code, verifier string) tokenAnswer
			}{
				{"client_secret_basic", e.web.id, e.web.redirect,
					func(q url.Values) tokenAnswer { return e.push(q, &e.web, true) },
					func(code, verifier string) tokenAnswer { return e.redeem(code, verifier) }},
				{"client_secret_post", e.web.id, e.web.redirect,
					func(q url.Values) tokenAnswer { return e.push(q, &e.web, false) },
					func(code, verifier string) tokenAnswer {
						form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.web.redirect}, "code_verifier": {verifier}}
						return e.postToken(form, &e.web, false)
					}},
				{"private_key_jwt", kc.id, keyedRedirect,
					func(q url.Values) tokenAnswer {
						q.Set("redirect_uri", keyedRedirect)
						for k, v := range assertionForm() {
							q[k] = v
						}
						return e.push(q, nil, false)
					},
					func(code, verifier string) tokenAnswer {
						form := assertionForm()
						form.Set("grant_type", "authorization_code")
						form.Set("code", code)
						form.Set("redirect_uri", keyedRedirect)
						form.Set("code_verifier", verifier)
						return e.postToken(form, nil, false)
					}},
				{"none_public_client_with_PKCE", e.native.id, e.native.redirect,
					func(q url.Values) tokenAnswer {
						q.Set("redirect_uri", e.native.redirect)
						return e.push(q, &e.native, false)
					},
					func(code, verifier string) tokenAnswer {
						form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.native.redirect}, "code_verifier": {verifier}}
						return e.postToken(form, &e.native, false)
					}},
			} {
				t.Run(c.name, func(t *testing.T) {
					v := oauth2.GenerateVerifier()
					uri := pushed(t, c.push(e.webPush(v)))
					loc := e.authorize(e.browser(), e.parURL(c.clientID, uri))
					a := c.redeem(e.codeOf(t, loc, c.redirect), v)
					if a.status != 200 || a.str("access_token") == "" || a.str("scope") != "notes.read" {
						t.Fatalf("token answer %d %v", a.status, a.body)
					}
				})
			}

			t.Run("RFC9126_2_3/errors_are_JSON_never_a_redirect", func(t *testing.T) {
				for _, c := range []struct {
					name, code string
					status     int
					edit       func(q url.Values)
					client     *testClient
				}{
					{"RFC9126_2_4/unregistered_redirect_uri", "invalid_request", 400, func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }, &e.web},
					{"RFC9126_2_1/request_uri_in_the_push", "invalid_request", 400, func(q url.Values) { q.Set("request_uri", "urn:ietf:params:oauth:request_uri:x") }, &e.web},
					{"RFC9700_2_1_1/public_client_without_PKCE", "invalid_request", 400, func(q url.Values) {
						q.Set("redirect_uri", e.native.redirect)
						q.Del("code_challenge")
						q.Del("code_challenge_method")
					}, &e.native},
					{"unknown_scope", "invalid_scope", 400, func(q url.Values) { q.Set("scope", "admin") }, &e.web},
					{"unsupported_response_type", "unsupported_response_type", 400, func(q url.Values) { q.Set("response_type", "magic") }, &e.web},
					{"plain_PKCE_method", "invalid_request", 400, func(q url.Values) { q.Set("code_challenge_method", "plain") }, &e.web},
					{"wrong_secret", "invalid_client", 401, func(url.Values) {}, &testClient{id: e.web.id, secret: "lk_cs_wrong"}},
					{"confidential_client_without_secret", "invalid_client", 401, func(url.Values) {}, &testClient{id: e.web.id}},
					{"no_client_at_all", "invalid_client", 401, func(url.Values) {}, nil},
					{"client_id_differs_from_basic", "invalid_request", 400, func(q url.Values) { q.Set("client_id", e.native.id) }, nil},
				} {
					t.Run(c.name, func(t *testing.T) {
						q := e.webPush(oauth2.GenerateVerifier())
						c.edit(q)
						var a tokenAnswer
						if c.name == "client_id_differs_from_basic" {
							a = e.push(q, &e.web, true)
						} else {
							a = e.push(q, c.client, false)
						}
						if a.header.Get("Location") != "" {
							t.Fatalf("the push answered with a redirect to %q", a.header.Get("Location"))
						}
						wantError(t, a, c.status, c.code)
						if a.str("request_uri") != "" {
							t.Fatal("an error answer carries a request_uri")
						}
					})
				}
			})

			t.Run("get_is_refused", func(t *testing.T) {
				resp, err := http.Get(e.issuer + "/par")
				if err != nil {
					t.Fatal(err)
				}
				readBody(t, resp)
				if resp.StatusCode != http.StatusMethodNotAllowed {
					t.Fatalf("GET /par: %d", resp.StatusCode)
				}
			})
		})
	}
}

// TestRFC9126_4_RequestURIUse: the request_uri is used once, before it
// expires, by the client that pushed it; parameters sent beside it must
// equal the pushed ones.
func TestRFC9126_4_RequestURIUse(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			push := func(t *testing.T) string {
				t.Helper()
				return pushed(t, e.push(e.webPush(oauth2.GenerateVerifier()), &e.web, true))
			}
			refused := func(t *testing.T, authURL, wantCode string) {
				t.Helper()
				resp, err := noRedirects(nil).Get(authURL)
				if err != nil {
					t.Fatal(err)
				}
				body := readBody(t, resp)
				assertErrorPage(t, resp, body)
				if !strings.Contains(body, wantCode) {
					t.Fatalf("error page lacks %s:\n%s", wantCode, body)
				}
			}

			t.Run("single_use", func(t *testing.T) {
				uri := push(t)
				resp, _ := e.get(strings.TrimPrefix(e.parURL(e.web.id, uri), e.issuer+"/authorize?"))
				if loc, err := resp.Location(); err != nil || loc.Path != "/login" {
					t.Fatalf("first use: status %d location %v, want /login", resp.StatusCode, loc)
				}
				refused(t, e.parURL(e.web.id, uri), "invalid_request_uri")
			})
			t.Run("RFC9126_7_2/expired", func(t *testing.T) {
				uri := push(t)
				e.clock.Advance(61 * time.Second)
				refused(t, e.parURL(e.web.id, uri), "invalid_request_uri")
			})
			t.Run("client_id_mismatch_refused_and_request_left_usable", func(t *testing.T) {
				uri := push(t)
				refused(t, e.parURL(e.native.id, uri), "invalid_request_uri")
				refused(t, e.parURL("nobody", uri), "invalid_request_uri")
				refused(t, e.issuer+"/authorize?"+url.Values{"request_uri": {uri}}.Encode(), "invalid_request")
				loc := e.authorize(e.browser(), e.parURL(e.web.id, uri))
				e.codeOf(t, loc, e.web.redirect)
			})
			t.Run("conflicting_parameter_refused", func(t *testing.T) {
				for name, edit := range map[string]func(q url.Values){
					"redirect_uri":  func(q url.Values) { q.Set("redirect_uri", "https://print.example/other") },
					"scope":         func(q url.Values) { q.Set("scope", "photos.read") },
					"state":         func(q url.Values) { q.Set("state", "other") },
					"added_nonce":   func(q url.Values) { q.Set("nonce", "n") },
					"response_type": func(q url.Values) { q.Set("response_type", "token") },
				} {
					t.Run(name, func(t *testing.T) {
						uri := push(t)
						q := url.Values{"client_id": {e.web.id}, "request_uri": {uri}}
						edit(q)
						refused(t, e.issuer+"/authorize?"+q.Encode(), "invalid_request")
					})
				}
			})
			t.Run("equal_duplicates_accepted", func(t *testing.T) {
				v := oauth2.GenerateVerifier()
				q := e.webPush(v)
				uri := pushed(t, e.push(q, &e.web, true))
				q.Set("client_id", e.web.id)
				q.Set("request_uri", uri)
				loc := e.authorize(e.browser(), e.issuer+"/authorize?"+q.Encode())
				code := e.codeOf(t, loc, e.web.redirect)
				if a := e.redeem(code, v); a.status != 200 {
					t.Fatalf("token answer %d %v", a.status, a.body)
				}
			})
			t.Run("repeated_parameter_refused", func(t *testing.T) {
				uri := push(t)
				refused(t, e.parURL(e.web.id, uri)+"&state=xyz&state=xyz", "invalid_request")
			})
			t.Run("POST_authorize_with_request_uri", func(t *testing.T) {
				uri := push(t)
				b := e.browser()
				resp, err := b.PostForm(e.issuer+"/authorize", url.Values{"client_id": {e.web.id}, "request_uri": {uri}})
				if err != nil {
					t.Fatal(err)
				}
				readBody(t, resp)
				if resp.Request.URL.Path != "/login" {
					t.Fatalf("POST /authorize with a request_uri ended at %s (%d)", resp.Request.URL, resp.StatusCode)
				}
			})
		})
	}
}

// TestRFC9126_4_ConcurrentUseHasOneWinner: browsers bringing one
// request_uri at once; exactly one goes on to sign in.
func TestRFC9126_4_ConcurrentUseHasOneWinner(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			for range 3 {
				uri := pushed(t, e.push(e.webPush(oauth2.GenerateVerifier()), &e.web, true))
				const n = 8
				statuses := make([]int, n)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range n {
					wg.Go(func() {
						<-start
						resp, err := noRedirects(nil).Get(e.parURL(e.web.id, uri))
						if err != nil {
							t.Error(err)
							return
						}
						readBody(t, resp)
						statuses[i] = resp.StatusCode
						if resp.StatusCode == http.StatusFound {
							if loc, _ := resp.Location(); loc == nil || loc.Path != "/login" {
								t.Errorf("winner redirected to %v", loc)
							}
						}
					})
				}
				close(start)
				wg.Wait()
				won, lost := 0, 0
				for _, s := range statuses {
					switch s {
					case http.StatusFound:
						won++
					case http.StatusBadRequest:
						lost++
					}
				}
				if won != 1 || lost != n-1 {
					t.Fatalf("statuses %v: want exactly one 302 and %d error pages", statuses, n-1)
				}
			}
		})
	}
}

// TestRFC9126_5_RequirePAR: a client registered with
// require_pushed_authorization_requests, or every client under
// server.require_par, is refused a plain authorization request (an error
// page) and accepted through /par; discovery says which.
func TestRFC9126_5_RequirePAR(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			t.Run("per_client", func(t *testing.T) {
				e := newEnv(t, backend)
				c, err := e.store.GetClient(t.Context(), e.web.id)
				if err != nil {
					t.Fatal(err)
				}
				c.RequirePushedAuthorizationRequests = true
				if err := e.store.UpdateClient(t.Context(), c); err != nil {
					t.Fatal(err)
				}
				e.clock.Advance(time.Minute) // past the client cache
				resp, body := e.get(e.authorizeQuery().Encode())
				assertErrorPage(t, resp, body)
				loc := e.authorize(e.browser(), e.parURL(e.web.id, pushed(t, e.push(e.webPush(oauth2.GenerateVerifier()), &e.web, true))))
				e.codeOf(t, loc, e.web.redirect)
				// Other clients are not concerned.
				q := url.Values{"response_type": {"code"}, "client_id": {e.native.id}, "redirect_uri": {e.native.redirect},
					"scope": {"notes.read"}, "code_challenge": {testChallenge}, "code_challenge_method": {"S256"}}
				if resp, _ := e.get(q.Encode()); resp.StatusCode != http.StatusFound {
					t.Fatalf("another client's plain request: %d", resp.StatusCode)
				}
				if m := e.metadata(t); m["require_pushed_authorization_requests"] != false {
					t.Fatalf("discovery: require_pushed_authorization_requests %v, want false (only one client requires it)", m["require_pushed_authorization_requests"])
				}
			})
			t.Run("server_wide", func(t *testing.T) {
				e := newEnvConfig(t, backend, dbtest.Open(t, backend), func(c *config.Config) { c.Server.RequirePAR = true })
				resp, body := e.get(e.authorizeQuery().Encode())
				assertErrorPage(t, resp, body)
				if !strings.Contains(body, "invalid_request") {
					t.Fatalf("error page:\n%s", body)
				}
				loc := e.authorize(e.browser(), e.parURL(e.web.id, pushed(t, e.push(e.webPush(oauth2.GenerateVerifier()), &e.web, true))))
				e.codeOf(t, loc, e.web.redirect)
				if m := e.metadata(t); m["require_pushed_authorization_requests"] != true {
					t.Fatalf("discovery: require_pushed_authorization_requests %v", m["require_pushed_authorization_requests"])
				}
			})
		})
	}
}

// metadata fetches the discovery document.
func (e *env) metadata(t *testing.T) map[string]any {
	t.Helper()
	m := map[string]any{}
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		resp, err := http.Get(e.issuer + path)
		if err != nil {
			t.Fatal(err)
		}
		if err := jsonUnmarshal(readBody(t, resp), &m); err != nil {
			t.Fatal(err)
		}
		if m["pushed_authorization_request_endpoint"] != e.issuer+"/par" {
			t.Fatalf("%s: pushed_authorization_request_endpoint %v", path, m["pushed_authorization_request_endpoint"])
		}
	}
	return m
}

// TestSECURITY_C10_RequestURIAndOtherArtifactsAreNotInterchangeable: a
// code or refresh token presented as a request_uri, and a request_uri
// presented as a code or refresh token, are refused.
func TestSECURITY_C10_RequestURIAndOtherArtifactsAreNotInterchangeable(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			q := e.authorizeQuery()
			q.Set("scope", "notes.read offline_access")
			code := e.codeOf(t, e.authorize(e.browser(), e.issuer+"/authorize?"+q.Encode()), e.web.redirect)
			unused := e.codeOf(t, e.authorize(e.browser(), e.issuer+"/authorize?"+q.Encode()), e.web.redirect)
			tok := e.redeem(code, "")
			rt := tok.str("refresh_token")
			if rt == "" {
				t.Fatalf("no refresh token: %v", tok.body)
			}
			for name, v := range map[string]string{
				"code":                    oauth.RequestURIPrefix + unused,
				"refresh_token":           oauth.RequestURIPrefix + rt,
				"access_token":            oauth.RequestURIPrefix + tok.str("access_token"),
				"bare_code":               unused,
				"https_request_uri":       "https://evil.example/request.jwt",
				"request_uri_without_urn": strings.TrimPrefix(pushed(t, e.push(e.webPush(oauth2.GenerateVerifier()), &e.web, true)), oauth.RequestURIPrefix),
			} {
				t.Run("as_request_uri/"+name, func(t *testing.T) {
					resp, err := noRedirects(nil).Get(e.parURL(e.web.id, v))
					if err != nil {
						t.Fatal(err)
					}
					body := readBody(t, resp)
					assertErrorPage(t, resp, body)
				})
			}
			// The unused code still works: refusing it as a request_uri
			// touched nothing.
			if a := e.redeem(unused, ""); a.status != 200 {
				t.Fatalf("the code was spent by its use as a request_uri: %v", a.body)
			}

			uri := pushed(t, e.push(e.webPush(oauth2.GenerateVerifier()), &e.web, true))
			random := strings.TrimPrefix(uri, oauth.RequestURIPrefix)
			for _, v := range []string{uri, random} {
				wantError(t, e.redeem(v, oauth2.GenerateVerifier()), 400, "invalid_grant")
				a := e.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {v}}, &e.web, true)
				wantError(t, a, 400, "invalid_grant")
			}
			// And the request_uri is still usable after those attempts.
			e.codeOf(t, e.authorize(e.browser(), e.parURL(e.web.id, uri)), e.web.redirect)
		})
	}
}
