package rs

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBearerToken(t *testing.T) {
	iss := newTestIssuer(t)
	tok := iss.token()
	form := func(method, contentType, body string) *http.Request {
		r := httptest.NewRequest(method, "/notes", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		return r
	}
	withAuth := func(r *http.Request, v ...string) *http.Request {
		for _, a := range v {
			r.Header.Add("Authorization", a)
		}
		return r
	}
	const formType = "application/x-www-form-urlencoded"
	cases := []struct {
		name      string
		allowForm bool
		req       *http.Request
		status    int
		code      string
	}{
		{"RFC6750_2.1/bearer_header_is_accepted", false, bearer(tok), 200, ""},
		{"RFC6750_2.1/scheme_is_case_insensitive", false, withAuth(httptest.NewRequest("GET", "/", nil), "bEaReR "+tok), 200, ""},
		{"RFC6750_2.1/several_spaces_after_scheme_are_allowed", false, withAuth(httptest.NewRequest("GET", "/", nil), "Bearer   "+tok), 200, ""},
		{"RFC6750_2.1/space_inside_token_is_invalid_request", false, withAuth(httptest.NewRequest("GET", "/", nil), "Bearer "+tok+" x"), 400, ErrorInvalidRequest},
		{"RFC6750_2.1/comma_in_token_is_invalid_request", false, withAuth(httptest.NewRequest("GET", "/", nil), "Bearer a,b"), 400, ErrorInvalidRequest},
		{"RFC6750_2.1/padding_only_is_invalid_request", false, withAuth(httptest.NewRequest("GET", "/", nil), "Bearer =="), 400, ErrorInvalidRequest},
		{"RFC6750_2.1/padding_inside_is_invalid_request", false, withAuth(httptest.NewRequest("GET", "/", nil), "Bearer ab=c"), 400, ErrorInvalidRequest},
		{"RFC6750_2.1/bearer_without_token_is_invalid_request", false, withAuth(httptest.NewRequest("GET", "/", nil), "Bearer"), 400, ErrorInvalidRequest},
		{"RFC6750_2.1/b64token_with_trailing_padding_is_read", false, withAuth(httptest.NewRequest("GET", "/", nil), "Bearer abc-._~+/=="), 401, ErrorInvalidToken},
		{"RFC6750_2/two_authorization_headers_are_invalid_request", false, withAuth(httptest.NewRequest("GET", "/", nil), "Bearer "+tok, "Bearer "+tok), 400, ErrorInvalidRequest},
		{"RFC6750_3.1/no_token_is_401_without_error_code", false, httptest.NewRequest("GET", "/", nil), 401, ""},
		{"RFC6750_3.1/other_scheme_is_401_without_error_code", false, withAuth(httptest.NewRequest("GET", "/", nil), "Basic dXNlcjpwYXNz"), 401, ""},
		{"RFC6750_2.2/form_token_is_not_read_unless_allowed", false, form("POST", formType, "access_token="+tok), 401, ""},
		{"RFC6750_2.2/form_token_is_accepted_when_allowed", true, form("POST", formType, "a=1&access_token="+tok), 200, ""},
		{"RFC6750_2.2/form_token_with_charset_parameter_is_accepted", true, form("POST", formType+"; charset=UTF-8", "access_token="+tok), 200, ""},
		{"RFC6750_2.2/form_token_in_PUT_is_accepted", true, form("PUT", formType, "access_token="+tok), 200, ""},
		{"RFC6750_2.2/form_token_in_GET_is_not_read", true, form("GET", formType, "access_token="+tok), 401, ""},
		{"RFC6750_2.2/form_token_needs_the_form_content_type", true, form("POST", "application/json", "access_token="+tok), 401, ""},
		{"RFC6750_2.2/repeated_access_token_is_invalid_request", true, form("POST", formType, "access_token="+tok+"&access_token="+tok), 400, ErrorInvalidRequest},
		{"RFC6750_2.2/empty_access_token_is_invalid_request", true, form("POST", formType, "access_token="), 400, ErrorInvalidRequest},
		{"RFC6750_2.2/malformed_form_is_invalid_request", true, form("POST", formType, "access_token=%zz"), 400, ErrorInvalidRequest},
		{"RFC6750_2.2/oversized_form_is_invalid_request", true, form("POST", formType, "access_token="+tok+"&pad="+strings.Repeat("x", maxFormBody)), 400, ErrorInvalidRequest},
		{"RFC6750_2.1/header_token_with_a_large_form_body_is_accepted", true, withAuth(form("POST", formType, "pad="+strings.Repeat("x", maxFormBody)), "Bearer "+tok), 200, ""},
		{"RFC6750_2/header_and_form_token_is_invalid_request", true, withAuth(form("POST", formType, "access_token="+tok), "Bearer "+tok), 400, ErrorInvalidRequest},
		{"RFC6750_2.3/query_token_is_invalid_request", false, httptest.NewRequest("GET", "/notes?access_token="+tok, nil), 400, ErrorInvalidRequest},
		{"RFC6750_2.3/query_token_next_to_header_is_invalid_request", false, withAuth(httptest.NewRequest("GET", "/notes?access_token="+tok, nil), "Bearer "+tok), 400, ErrorInvalidRequest},
		{"RFC6750_2.3/query_parameter_merely_containing_the_name_is_fine", false, withAuth(httptest.NewRequest("GET", "/notes?q=access_token", nil), "Bearer "+tok), 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := iss.guard(func(cfg *Config) { cfg.AllowFormToken = c.allowForm })
			wantStatus(t, g, c.req, tok, c.status, c.code)
		})
	}
}

// The handler behind the middleware still reads the whole form body after
// the middleware looked in it for access_token.
func TestFormBodyIsKeptForTheHandler(t *testing.T) {
	iss := newTestIssuer(t)
	g := iss.guard(func(c *Config) { c.AllowFormToken = true })
	body := "title=hello&access_token=" + iss.token() + "&text=world"
	r := httptest.NewRequest("POST", "/notes", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var got string
	h := g.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 || got != body {
		t.Fatalf("status %d, handler read %q, want %q", w.Code, got, body)
	}
}

// The two masks of isB64Token are RFC 6750 §2.1's character set.
func TestB64TokenCharset(t *testing.T) {
	const set = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
	for c := range 256 {
		want := c != '=' && strings.IndexByte(set, byte(c)) >= 0
		if got := isB64Token(string([]byte{'a', byte(c), 'a'})); got != want {
			t.Errorf("byte %#x: %v, want %v", c, got, want)
		}
	}
}
