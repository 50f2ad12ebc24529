package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/dbtest"
)

const testChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" // RFC 7636 Appendix B

// authorizeQuery is a valid request of the confidential client, to mutate.
func (e *env) authorizeQuery() url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {e.web.id}, "redirect_uri": {e.web.redirect},
		"scope": {"notes.read"}, "state": {"xyz"},
	}
}

func (e *env) get(rawQuery string) (*http.Response, string) {
	e.t.Helper()
	resp, err := noRedirects(nil).Get(e.issuer + "/authorize?" + rawQuery)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, readBody(e.t, resp)
}

// assertErrorPage checks RFC 6749 §4.1.2.1: "the authorization server SHOULD
// inform the resource owner of the error and MUST NOT automatically redirect
// the user-agent to the invalid redirection URI."
func assertErrorPage(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("status %d, want a 4xx error page", resp.StatusCode)
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		t.Fatalf("error page redirects to %q", loc)
	}
	if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	if strings.Contains(body, "evil") && strings.Contains(body, "href=") {
		t.Fatal("error page links to the attacker's URI")
	}
}

// assertErrorRedirect checks an error sent back to the client's registered
// URI with error, error_description, the exact state and iss.
func assertErrorRedirect(t *testing.T, e *env, resp *http.Response, wantCode, wantState string) {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302 to the client", resp.StatusCode)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != e.web.redirect {
		t.Fatalf("redirect to %s, want the registered %s", got, e.web.redirect)
	}
	q := loc.Query()
	if q.Get("error") != wantCode || q.Get("error_description") == "" {
		t.Fatalf("error %q (%q), want %q", q.Get("error"), q.Get("error_description"), wantCode)
	}
	if q.Get("state") != wantState {
		t.Fatalf("state %q, want %q exactly as received", q.Get("state"), wantState)
	}
	if q.Get("iss") != e.issuer {
		t.Fatalf("RFC 9207 §2: error responses carry iss; got %q", q.Get("iss"))
	}
	if q.Has("code") {
		t.Fatal("an error response carries a code")
	}
}

func TestRFC6749_4_1_2_1_AuthorizeErrors(t *testing.T) {
	for _, backend := range dbtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			pageCases := []struct {
				name  string
				query func(q url.Values) string
			}{
				{"unknown_client_id", func(q url.Values) string {
					q.Set("client_id", "nope")
					q.Set("redirect_uri", "https://evil.example/cb")
					return q.Encode()
				}},
				{"missing_client_id", func(q url.Values) string { q.Del("client_id"); return q.Encode() }},
				{"empty_client_id_is_missing", func(q url.Values) string { q.Set("client_id", ""); return q.Encode() }},
				{"duplicated_client_id", func(q url.Values) string { q.Add("client_id", e.web.id); return q.Encode() }},
				{"unregistered_redirect_uri", func(q url.Values) string { q.Set("redirect_uri", "https://evil.example/cb"); return q.Encode() }},
				{"redirect_uri_prefix_of_registered", func(q url.Values) string {
					q.Set("redirect_uri", "https://print.example/callback/x")
					return q.Encode()
				}},
				{"duplicated_redirect_uri", func(q url.Values) string { q.Add("redirect_uri", "https://evil.example/cb"); return q.Encode() }},
				{"RFC6749_3_1/duplicated_redirect_uri_beside_another_duplicate", func(q url.Values) string {
					q.Add("redirect_uri", "https://print.example/other")
					q.Add("a", "1")
					q.Add("a", "2")
					return q.Encode()
				}},
				{"RFC6749_3_1_2_3/missing_redirect_uri_with_two_registered", func(q url.Values) string { q.Del("redirect_uri"); return q.Encode() }},
				{"sql_metacharacters_in_client_id", func(q url.Values) string { q.Set("client_id", "x' OR '1'='1"); return q.Encode() }},
				{"nul_in_client_id", func(q url.Values) string { q.Set("client_id", "cloud-print\x00"); return q.Encode() }},
				{"html_in_client_id", func(q url.Values) string { q.Set("client_id", "<script>alert(1)</script>"); return q.Encode() }},
				{"crlf_in_redirect_uri", func(q url.Values) string {
					q.Set("redirect_uri", e.web.redirect+"\r\nLocation: https://evil.example")
					return q.Encode()
				}},
				{"malformed_escape", func(q url.Values) string { return q.Encode() + "&x=%zz" }},
				{"oversized_query", func(q url.Values) string { q.Set("state", strings.Repeat("a", 9000)); return q.Encode() }},
			}
			for _, c := range pageCases {
				t.Run("error_page/"+c.name, func(t *testing.T) {
					resp, body := e.get(c.query(e.authorizeQuery()))
					assertErrorPage(t, resp, body)
					if strings.Contains(body, "<script>alert") {
						t.Fatal("the page echoes unescaped input")
					}
				})
			}

			redirectCases := []struct {
				name, code string
				query      func(q url.Values)
			}{
				{"missing_response_type", "invalid_request", func(q url.Values) { q.Del("response_type") }},
				{"unsupported_response_type", "unsupported_response_type", func(q url.Values) { q.Set("response_type", "code_and_token") }},
				{"duplicated_scope", "invalid_request", func(q url.Values) { q.Add("scope", "photos.read") }},
				{"duplicated_state", "invalid_request", func(q url.Values) { q.Add("state", "other") }},
				{"unknown_scope", "invalid_scope", func(q url.Values) { q.Set("scope", "notes.read admin") }},
				{"scope_not_allowed_for_client", "invalid_scope", func(q url.Values) { q.Set("scope", "notes.write") }},
				{"scope_with_forbidden_character", "invalid_scope", func(q url.Values) { q.Set("scope", "notes.read \"x\"") }},
				{"RFC7636_4_2/plain_method_refused", "invalid_request", func(q url.Values) {
					q.Set("code_challenge", testChallenge)
					q.Set("code_challenge_method", "plain")
				}},
				{"RFC7636_4_3/challenge_without_method_refused", "invalid_request", func(q url.Values) { q.Set("code_challenge", testChallenge) }},
				{"method_without_challenge", "invalid_request", func(q url.Values) { q.Set("code_challenge_method", "S256") }},
				{"malformed_challenge", "invalid_request", func(q url.Values) {
					q.Set("code_challenge", "short")
					q.Set("code_challenge_method", "S256")
				}},
			}
			for _, c := range redirectCases {
				t.Run("redirect/"+c.name, func(t *testing.T) {
					q := e.authorizeQuery()
					c.query(q)
					resp, _ := e.get(q.Encode())
					assertErrorRedirect(t, e, resp, c.code, "xyz")
				})
			}

			t.Run("redirect/state_echoed_exactly", func(t *testing.T) {
				for _, state := range []string{"a b&c=d#e", "<script>\"'", "状态✓", "x\r\nSet-Cookie: a=b", "'; DROP TABLE users; --"} {
					q := e.authorizeQuery()
					q.Set("state", state)
					q.Set("scope", "unknown")
					resp, _ := e.get(q.Encode())
					assertErrorRedirect(t, e, resp, "invalid_scope", state)
				}
			})

			t.Run("RFC9700_2_1_1/public_client_without_PKCE", func(t *testing.T) {
				q := url.Values{"response_type": {"code"}, "client_id": {e.native.id}, "redirect_uri": {"http://127.0.0.1:5000/cb"}, "scope": {"notes.read"}, "state": {"s"}}
				resp, _ := e.get(q.Encode())
				loc, err := resp.Location()
				if err != nil || loc.Query().Get("error") != "invalid_request" || loc.Host != "127.0.0.1:5000" || loc.Query().Get("state") != "s" {
					t.Fatalf("status %d location %v: want invalid_request at the loopback URI", resp.StatusCode, loc)
				}
			})

			t.Run("valid_request_goes_to_login", func(t *testing.T) {
				resp, _ := e.get(e.authorizeQuery().Encode())
				loc, err := resp.Location()
				if resp.StatusCode != http.StatusFound || err != nil || loc.Path != "/login" {
					t.Fatalf("status %d location %v, want 302 to /login", resp.StatusCode, loc)
				}
			})
		})
	}
}
