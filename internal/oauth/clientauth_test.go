package oauth

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// basicHeader builds an RFC 6749 §2.3.1 Basic header: id and secret are each
// application/x-www-form-urlencoded, then joined by ":" and base64-encoded.
func basicHeader(id, sec string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(sec)))
}

func rawBasic(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }

// TestRFC6749_2_3_1_ParseBasic enforces SECURITY.md T5 on the header parser.
func TestRFC6749_2_3_1_ParseBasic(t *testing.T) {
	good := []struct {
		name, header, wantID, wantSecret string
	}{
		{"RFC6749_2.3.1/plain", basicHeader("client", "secret"), "client", "secret"},
		{"RFC6749_2.3.1/form_encoded_colon_percent_plus_space", basicHeader("my:client", "p%ss+w:rd x"), "my:client", "p%ss+w:rd x"},
		{"RFC6749_2.3.1/form_encoded_unicode", basicHeader("clïent", "sécret✓"), "clïent", "sécret✓"},
		{"RFC6749_2.3.1/empty_secret", basicHeader("client", ""), "client", ""},
		{"RFC6749_2.3.1/raw_plus_decodes_to_space", rawBasic("client:a+b"), "client", "a b"},
		{"RFC6749_2.3.1/extra_colons_stay_in_secret", rawBasic("client:a:b:c"), "client", "a:b:c"},
		{"RFC6749_2.3.1/encoded_colon_in_id", rawBasic("a%3Ab:s"), "a:b", "s"},
		{"RFC7617_2/scheme_case_insensitive", "basic " + base64.StdEncoding.EncodeToString([]byte("client:secret")), "client", "secret"},
		{"RFC7617_2/scheme_upper_case", "BASIC " + base64.StdEncoding.EncodeToString([]byte("client:secret")), "client", "secret"},
		{"RFC7617_2/trailing_space_after_payload", rawBasic("client:secret") + " ", "client", "secret"},
		{"RFC6749_2.3.1/real_secret", basicHeader("lk_abc", "lk_cs_"+strings.Repeat("A", 43)), "lk_abc", "lk_cs_" + strings.Repeat("A", 43)},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			id, sec, e := parseBasic(tc.header)
			if e != nil {
				t.Fatalf("parseBasic(%q) error = %v", tc.header, e)
			}
			if id != tc.wantID || sec != tc.wantSecret {
				t.Errorf("parseBasic(%q) = %q, %q; want %q, %q", tc.header, id, sec, tc.wantID, tc.wantSecret)
			}
		})
	}
	bad := []struct{ name, header string }{
		{"RFC7617_2/malformed_base64", "Basic !!!notbase64"},
		{"RFC7617_2/base64url_alphabet", "Basic " + base64.URLEncoding.EncodeToString([]byte("client>>>:secret???"))},
		{"RFC7617_2/unpadded_base64", "Basic " + base64.RawStdEncoding.EncodeToString([]byte("client:secr"))},
		{"RFC7617_2/missing_colon", rawBasic("clientsecret")},
		{"RFC7617_2/empty_id", rawBasic(":secret")},
		{"RFC7617_2/empty_payload", "Basic "},
		{"RFC7617_2/only_colon", rawBasic(":")},
		{"RFC7617_2/no_space", "Basic" + base64.StdEncoding.EncodeToString([]byte("client:secret"))},
		{"RFC7617_2/scheme_only", "Basic"},
		{"RFC7617_2/empty_header", ""},
		{"RFC6750_2.1/bearer_scheme", "Bearer " + base64.StdEncoding.EncodeToString([]byte("client:secret"))},
		{"RFC7617_2/scheme_prefix", "Basicx " + base64.StdEncoding.EncodeToString([]byte("client:secret"))},
		{"RFC6749_2.3.1/bad_escape_in_id", rawBasic("cl%zzient:secret")},
		{"RFC6749_2.3.1/bad_escape_in_secret", rawBasic("client:sec%2")},
		{"RFC7617_2/trailing_garbage_after_base64", rawBasic("client:secret") + "x"},
		{"SECURITY_c.6/oversized_payload", "Basic " + strings.Repeat("A", 4100)},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			id, sec, e := parseBasic(tc.header)
			if e == nil {
				t.Fatalf("parseBasic(%q) = %q, %q; want invalid_client", tc.header, id, sec)
			}
			checkBasicInvalidClient(t, e)
		})
	}
}

// checkBasicInvalidClient: RFC 6749 §5.2, a failed Basic authentication is
// invalid_client with 401 and WWW-Authenticate.
func checkBasicInvalidClient(t *testing.T, e *Error) {
	t.Helper()
	if e.Code != "invalid_client" || e.Status != http.StatusUnauthorized || !e.basicAuth {
		t.Fatalf("error = %s (status %d, basicAuth %v), want invalid_client (401, basicAuth)", e.Code, e.Status, e.basicAuth)
	}
	w := httptest.NewRecorder()
	WriteError(w, e)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("WriteError status = %d, want 401", w.Code)
	}
	if h := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(h, "Basic ") {
		t.Errorf("WriteError WWW-Authenticate = %q, want a Basic challenge", h)
	}
}

// TestRFC6749_2_3_ReadClientCredentials enforces RFC 6749 §2.3 ("The client
// MUST NOT use more than one authentication method in each request") and
// §2.3.1 (SECURITY.md T5).
func TestRFC6749_2_3_ReadClientCredentials(t *testing.T) {
	tests := []struct {
		name       string
		auth       []string // Authorization header values
		body       params
		wantCode   string // "" for success
		wantStatus int
		wantBasic  bool
		want       clientCredentials
	}{
		{
			name: "RFC6749_2.3.1/basic", auth: []string{basicHeader("c1", "s:%+ x")}, body: params{"grant_type": "x"},
			want: clientCredentials{method: AuthSecretBasic, id: "c1", secret: "s:%+ x"},
		},
		{
			name: "RFC6749_2.3.1/basic_with_matching_body_client_id", auth: []string{basicHeader("c1", "s")}, body: params{"client_id": "c1"},
			want: clientCredentials{method: AuthSecretBasic, id: "c1", secret: "s"},
		},
		{
			name: "RFC6749_2.3.1/client_secret_post", body: params{"client_id": "c1", "client_secret": "s"},
			want: clientCredentials{method: AuthSecretPost, id: "c1", secret: "s"},
		},
		{
			name: "RFC6749_2.3.1/public_client_id_only", body: params{"client_id": "c1"},
			want: clientCredentials{method: AuthNone, id: "c1"},
		},
		{
			name: "RFC6749_2.3/basic_and_client_secret_in_body", auth: []string{basicHeader("c1", "s")}, body: params{"client_id": "c1", "client_secret": "s"},
			wantCode: "invalid_request", wantStatus: 400,
		},
		{
			name: "RFC6749_2.3/basic_and_client_secret_without_client_id", auth: []string{basicHeader("c1", "s")}, body: params{"client_secret": "s"},
			wantCode: "invalid_request", wantStatus: 400,
		},
		{
			name: "RFC6749_2.3/malformed_basic_and_client_secret_in_body", auth: []string{"Basic !!"}, body: params{"client_id": "c1", "client_secret": "s"},
			wantCode: "invalid_request", wantStatus: 400,
		},
		{
			name: "RFC6749_3.1/two_authorization_headers", auth: []string{basicHeader("c1", "s"), basicHeader("c2", "s")},
			wantCode: "invalid_request", wantStatus: 400,
		},
		{
			name: "RFC6749_3.1/two_identical_authorization_headers", auth: []string{basicHeader("c1", "s"), basicHeader("c1", "s")},
			wantCode: "invalid_request", wantStatus: 400,
		},
		{
			name: "RFC6749_2.3/basic_id_differs_from_body_client_id", auth: []string{basicHeader("c1", "s")}, body: params{"client_id": "c2"},
			wantCode: "invalid_request", wantStatus: 400,
		},
		{
			name: "RFC6749_2.3.1/malformed_base64", auth: []string{"Basic %%%"},
			wantCode: "invalid_client", wantStatus: 401, wantBasic: true,
		},
		{
			name: "RFC6749_2.3.1/missing_colon", auth: []string{rawBasic("c1")},
			wantCode: "invalid_client", wantStatus: 401, wantBasic: true,
		},
		{
			name: "RFC6749_2.3.1/empty_id", auth: []string{rawBasic(":s")}, body: params{"client_id": "c1"},
			wantCode: "invalid_client", wantStatus: 401, wantBasic: true,
		},
		{
			name: "RFC6749_2.3.1/empty_authorization_header", auth: []string{""},
			wantCode: "invalid_client", wantStatus: 401, wantBasic: true,
		},
		{
			name: "RFC6749_2.3.1/bearer_instead_of_basic", auth: []string{"Bearer abc"}, body: params{"client_id": "c1"},
			wantCode: "invalid_client", wantStatus: 401, wantBasic: true,
		},
		{
			name: "RFC6749_2.3.1/client_secret_without_client_id", body: params{"client_secret": "s"},
			wantCode: "invalid_request", wantStatus: 400,
		},
		{
			name:     "RFC6749_5.2/no_credentials",
			wantCode: "invalid_client", wantStatus: 401, wantBasic: true,
		},
		{
			name: "RFC6749_5.2/no_credentials_other_params", body: params{"grant_type": "client_credentials"},
			wantCode: "invalid_client", wantStatus: 401, wantBasic: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/token", nil)
			for _, a := range tc.auth {
				r.Header.Add("Authorization", a)
			}
			body := tc.body
			if body == nil {
				body = params{}
			}
			got, e := readClientCredentials(r, body)
			if tc.wantCode == "" {
				if e != nil {
					t.Fatalf("readClientCredentials error = %v", e)
				}
				if got != tc.want {
					t.Errorf("readClientCredentials = %+v, want %+v", got, tc.want)
				}
				return
			}
			if e == nil {
				t.Fatalf("readClientCredentials = %+v, want %s", got, tc.wantCode)
			}
			if e.Code != tc.wantCode || e.Status != tc.wantStatus || e.basicAuth != tc.wantBasic {
				t.Errorf("error = %s (status %d, basicAuth %v), want %s (status %d, basicAuth %v)",
					e.Code, e.Status, e.basicAuth, tc.wantCode, tc.wantStatus, tc.wantBasic)
			}
			if tc.wantBasic {
				checkBasicInvalidClient(t, e)
			}
			if got != (clientCredentials{}) {
				t.Errorf("credentials returned with an error: %+v", got)
			}
		})
	}
}

// TestRFC6749_5_2_WriteError checks the single back-channel error writer.
func TestRFC6749_5_2_WriteError(t *testing.T) {
	tests := []struct {
		name          string
		e             *Error
		wantStatus    int
		wantChallenge bool
		wantRetry     string
	}{
		{"RFC6749_5.2/invalid_request", InvalidRequest("bad %s", "x"), 400, false, ""},
		{"RFC6749_5.2/invalid_client_without_basic", InvalidClient("no"), 401, false, ""},
		{"RFC6749_5.2/invalid_client_with_basic", &Error{Code: "invalid_client", Status: 401, Description: "x", basicAuth: true}, 401, true, ""},
		{"RFC6749_5.2/invalid_grant", InvalidGrant("used"), 400, false, ""},
		{"RFC6749_5.2/invalid_scope", InvalidScope("wide"), 400, false, ""},
		{"RFC6749_5.2/unauthorized_client", UnauthorizedClient("no"), 400, false, ""},
		{"RFC6749_5.2/unsupported_grant_type", UnsupportedGrantType("no"), 400, false, ""},
		{"RFC6749_4.1.2.1/server_error", ServerError(), 500, false, ""},
		{"RFC6749_4.1.2.1/temporarily_unavailable", TemporarilyUnavailable(), 503, false, "5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, tc.e)
			if w.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tc.wantStatus)
			}
			h := w.Header()
			if got := h.Get("WWW-Authenticate") != ""; got != tc.wantChallenge {
				t.Errorf("WWW-Authenticate present = %v, want %v", got, tc.wantChallenge)
			}
			if got := h.Get("Retry-After"); got != tc.wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, tc.wantRetry)
			}
			if h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" {
				t.Errorf("Cache-Control %q, Pragma %q; want no-store, no-cache (RFC 6749 §5.1)", h.Get("Cache-Control"), h.Get("Pragma"))
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q is not JSON: %v", w.Body.String(), err)
			}
			if body.Error != tc.e.Code || body.Description != tc.e.Description {
				t.Errorf("body = %+v, want %s / %s", body, tc.e.Code, tc.e.Description)
			}
		})
	}
	t.Run("RFC6749_5.2/server_error_description_is_fixed", func(t *testing.T) {
		if ServerError().Description != ServerError().Description || ServerError() == ServerError() {
			t.Error("ServerError must return a fresh value with a fixed description")
		}
	})
	t.Run("RFC6749_5.2/error_string", func(t *testing.T) {
		if got := InvalidGrant("code %s", "used").Error(); got != "invalid_grant: code used" {
			t.Errorf("Error() = %q", got)
		}
	})
}

// FuzzParseBasic: parseBasic never panics, success means a non-empty id, and
// any id and secret form-encoded into a Basic header come back unchanged.
func FuzzParseBasic(f *testing.F) {
	f.Add(basicHeader("client", "secret"), "client", "secret")
	f.Add(basicHeader("my:client", "p%ss+w:rd x"), "my:client", "p%ss+w:rd x")
	f.Add(rawBasic("client:a:b"), "a%b", "+:+")
	f.Add(rawBasic(":secret"), "", "")
	f.Add(rawBasic("clientsecret"), "x", "")
	f.Add("Basic !!!", "é", "\x00")
	f.Add("Bearer abc", "id", "s")
	f.Add("basic Y2xpZW50OnNlY3JldA==", "c", "s")
	f.Fuzz(func(t *testing.T, header, id, sec string) {
		gotID, gotSec, e := parseBasic(header)
		if e == nil && gotID == "" {
			t.Fatalf("parseBasic(%q) succeeded with an empty id", header)
		}
		if e != nil {
			if e.Code != "invalid_client" || e.Status != http.StatusUnauthorized || !e.basicAuth {
				t.Fatalf("parseBasic(%q) error = %s (%d, basicAuth %v)", header, e.Code, e.Status, e.basicAuth)
			}
			if gotID != "" || gotSec != "" {
				t.Fatalf("parseBasic(%q) returned credentials with an error", header)
			}
		}
		h := basicHeader(id, sec)
		gotID, gotSec, e = parseBasic(h)
		switch {
		case id == "" || len(h)-len("Basic ") > 4096:
			if e == nil {
				t.Fatalf("parseBasic(%q) accepted id %q (len %d)", h, id, len(h))
			}
		case e != nil:
			t.Fatalf("parseBasic(basicHeader(%q, %q)) = %v", id, sec, e)
		case gotID != id || gotSec != sec:
			t.Fatalf("parseBasic(basicHeader(%q, %q)) = %q, %q", id, sec, gotID, gotSec)
		}
	})
}
