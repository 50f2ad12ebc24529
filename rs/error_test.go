package rs

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestChallenge(t *testing.T) {
	iss := newTestIssuer(t)
	expired := iss.mint(tokenSpec{claims: map[string]any{"exp": iss.clock.Now().Add(-DefaultLeeway).Unix()}})
	meta := `resource_metadata="https://api.example/.well-known/oauth-protected-resource/notes"`
	cases := []struct {
		name      string
		req       *http.Request
		scopes    []string
		status    int
		challenge string
		body      string
	}{
		{"RFC6750_3.1/no_token_has_no_error_attributes", httptest.NewRequest("GET", "/", nil), nil, 401,
			`Bearer realm="https://api.example/notes", ` + meta, ``},
		{"RFC6750_3/no_token_challenge_names_the_scopes_needed", httptest.NewRequest("GET", "/", nil), []string{"notes.read"}, 401,
			`Bearer realm="https://api.example/notes", scope="notes.read", ` + meta, ``},
		{"RFC6750_3/invalid_token_challenge_names_the_scopes_needed", bearer(expired), []string{"notes.read"}, 401,
			`Bearer realm="https://api.example/notes", error="invalid_token", error_description="the access token expired", scope="notes.read", ` + meta,
			`{"error":"invalid_token","error_description":"the access token expired","scope":"notes.read"}`},
		{"RFC6750_3.1/expired_token_is_invalid_token", bearer(expired), nil, 401,
			`Bearer realm="https://api.example/notes", error="invalid_token", error_description="the access token expired", ` + meta,
			`{"error":"invalid_token","error_description":"the access token expired"}`},
		{"RFC6750_3.1/missing_scope_is_403_insufficient_scope_naming_the_scopes", bearer(iss.token()), []string{"notes.read", "notes.admin"}, 403,
			`Bearer realm="https://api.example/notes", error="insufficient_scope", error_description="the access token lacks a scope this request needs", scope="notes.read notes.admin", ` + meta,
			`{"error":"insufficient_scope","error_description":"the access token lacks a scope this request needs","scope":"notes.read notes.admin"}`},
		{"RFC6750_3.1/malformed_request_is_400_invalid_request", bearer("a b"), nil, 400,
			`Bearer realm="https://api.example/notes", error="invalid_request", error_description="the access token is not a b64token", ` + meta,
			`{"error":"invalid_request","error_description":"the access token is not a b64token"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := serve(t, iss.guard(), c.req, "", c.scopes...)
			if w.Code != c.status {
				t.Errorf("status %d, want %d", w.Code, c.status)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != c.challenge {
				t.Errorf("WWW-Authenticate\n got %s\nwant %s", got, c.challenge)
			}
			if got := w.Body.String(); got != c.body {
				t.Errorf("body %s, want %s", got, c.body)
			}
			if c.body != "" && w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", w.Header().Get("Content-Type"))
			}
			if c.body != "" && !json.Valid(w.Body.Bytes()) {
				t.Error("body is not JSON")
			}
		})
	}
}

// RFC 9110 §5.6.4 quoted-strings: '"' and '\' escaped in the realm;
// RFC 6750 §3's narrower set in error_description (they are dropped);
// control characters never.
func TestQuote(t *testing.T) {
	for _, c := range []struct {
		name, in string
		strict   bool
		want     string
	}{
		{"RFC9110_5.6.4/quote_and_backslash_are_escaped", `a"b\c`, false, `"a\"b\\c"`},
		{"RFC9110_5.6.4/controls_are_dropped", "a\r\nb\x00c\td", false, "\"abc\td\""},
		{"RFC6750_3/description_drops_quote_backslash_and_controls", "a\"b\\c\td\xffe", true, `"abcde"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			quote(&b, c.in, c.strict)
			if b.String() != c.want {
				t.Errorf("got %s, want %s", b.String(), c.want)
			}
		})
	}
	iss := newTestIssuer(t)
	g := iss.guard(func(c *Config) { c.Realm = `notes "API"` })
	w := serve(t, g, httptest.NewRequest("GET", "/", nil), "")
	if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="notes \"API\"", resource_metadata=`) {
		t.Errorf("WWW-Authenticate %s", got)
	}
}

// WriteError answers a foreign error as unavailable, and Error's text
// names the code.
func TestWriteError(t *testing.T) {
	iss := newTestIssuer(t)
	w := httptest.NewRecorder()
	iss.guard().WriteError(w, errors.New("boom"))
	if w.Code != 503 || w.Header().Get("WWW-Authenticate") != "" || strings.Contains(w.Body.String(), "boom") {
		t.Errorf("%d %q %s", w.Code, w.Header(), w.Body)
	}
	for _, c := range []struct {
		e    *Error
		want string
	}{
		{noToken(), "rs: no access token: an access token is required"},
		{invalidToken("x"), "rs: invalid_token: x"},
		{unavailable("y", errors.New("z")), "rs: temporarily_unavailable: y: z"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
}
