package oauth

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestRFC6749_3_1_ParseParams enforces RFC 6749 §3.1 (SECURITY.md C13):
// "Parameters sent without a value MUST be treated as if they were omitted
// from the request" and "Request and response parameters MUST NOT be included
// more than once".
func TestRFC6749_3_1_ParseParams(t *testing.T) {
	manyParams := func(n int) string {
		kv := make([]string, n)
		for i := range kv {
			kv[i] = fmt.Sprintf("p%d=v", i)
		}
		return strings.Join(kv, "&")
	}
	tests := []struct {
		name    string
		raw     string
		want    params
		wantDup string
		wantErr bool
	}{
		{"RFC6749_3.1/empty", "", params{}, "", false},
		{"RFC6749_3.1/simple", "a=1&b=2", params{"a": "1", "b": "2"}, "", false},
		{"RFC6749_3.1/form_decoding", "a=x+y%2Bz&b=%E2%9C%93", params{"a": "x y+z", "b": "✓"}, "", false},
		{"RFC6749_3.1/empty_value_is_omitted", "a=&b=1", params{"b": "1"}, "", false},
		{"RFC6749_3.1/no_equals_is_omitted", "a&b=1", params{"b": "1"}, "", false},
		{"RFC6749_3.1/empty_segments_ignored", "&&a=1&&", params{"a": "1"}, "", false},
		{"RFC6749_3.1/value_with_equals", "a=b=c", params{"a": "b=c"}, "", false},
		{"RFC6749_3.1/duplicate", "a=1&a=2", params{"a": "1"}, "a", false},
		{"RFC6749_3.1/duplicate_same_value", "a=1&a=1", params{"a": "1"}, "a", false},
		{"RFC6749_3.1/duplicate_second_empty", "a=1&a=", params{"a": "1"}, "a", false},
		{"RFC6749_3.1/duplicate_first_empty", "a=&a=1", params{}, "a", false},
		{"RFC6749_3.1/duplicate_both_empty", "a=&a=", params{}, "a", false},
		{"RFC6749_3.1/duplicate_bare_names", "a&a", params{}, "a", false},
		{"RFC6749_3.1/duplicate_hidden_by_escape", "%61=1&a=2", params{"a": "1"}, "a", false},
		{"RFC6749_3.1/duplicate_hidden_by_plus", "a+b=1&a%20b=2", params{"a b": "1"}, "a b", false},
		{"RFC6749_3.1/smallest_duplicate_reported", "z=1&z=2&b=1&b=2", params{"z": "1", "b": "1"}, "b", false},
		{"RFC6749_4.1.2.1/repeated_redirect_uri_reported_first", "a=1&a=2&redirect_uri=x&redirect_uri=y", params{"a": "1", "redirect_uri": "x"}, "redirect_uri", false},
		{"RFC6749_4.1.2.1/repeated_client_id_reported_first", "a=1&a=2&redirect_uri=x&redirect_uri=y&client_id=c&client_id=d", params{"a": "1", "redirect_uri": "x", "client_id": "c"}, "client_id", false},
		{"RFC6749_3.1/redirect_uri_twice", "redirect_uri=https%3A%2F%2Fa&redirect_uri=https%3A%2F%2Fb", params{"redirect_uri": "https://a"}, "redirect_uri", false},
		{"RFC6749_3.1/repeated_empty_name_does_not_hide_duplicate", "=1&=2&a=1&a=2&b=1", params{"": "1", "a": "1", "b": "1"}, "a", false},
		{"RFC6749_3.1/names_are_case_sensitive", "a=1&A=2", params{"a": "1", "A": "2"}, "", false},
		{"RFC3986_2.1/malformed_escape_in_value", "a=%zz", nil, "", true},
		{"RFC3986_2.1/malformed_escape_in_name", "%zz=1", nil, "", true},
		{"RFC3986_2.1/truncated_escape", "a=%4", nil, "", true},
		{"RFC3986_2.1/lone_percent", "a=%", nil, "", true},
		{"RFC3986_2.1/bad_escape_after_good_pair", "a=1&b=%G0", nil, "", true},
		{"RFC6749_3.1/semicolon_separator", "a=1;b=2", nil, "", true},
		{"SECURITY_c.6/64_params_allowed", manyParams(64), nil, "", false},
		{"SECURITY_c.6/65_params_too_many", manyParams(65), nil, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, dup, e := parseParams(tc.raw)
			if tc.wantErr {
				if e == nil {
					t.Fatalf("parseParams(%q) = %v, %q, nil; want invalid_request", tc.raw, p, dup)
				}
				if e.Code != "invalid_request" || e.Status != http.StatusBadRequest {
					t.Errorf("parseParams(%q) error = %s (%d), want invalid_request (400)", tc.raw, e.Code, e.Status)
				}
				return
			}
			if e != nil {
				t.Fatalf("parseParams(%q) error = %v", tc.raw, e)
			}
			if dup != tc.wantDup {
				t.Errorf("parseParams(%q) dup = %q, want %q", tc.raw, dup, tc.wantDup)
			}
			if tc.want != nil && !maps.Equal(p, tc.want) {
				t.Errorf("parseParams(%q) = %v, want %v", tc.raw, p, tc.want)
			}
			for k, v := range p {
				if v == "" {
					t.Errorf("parseParams(%q) kept empty parameter %q", tc.raw, k)
				}
			}
		})
	}
}

// TestRFC6749_3_1_DuplicatedError: the answer to a repeated parameter names
// it only when the name is safe to echo.
func TestRFC6749_3_1_DuplicatedError(t *testing.T) {
	tests := []struct {
		name, param, wantIn, wantNotIn string
	}{
		{"RFC6749_3.1/plain_name_echoed", "redirect_uri", "redirect_uri", ""},
		{"RFC6749_5.2/markup_not_echoed", "<script>", "unusual characters", "<script>"},
		{"RFC6749_5.2/quote_not_echoed", `a"b`, "unusual characters", `"`},
		{"RFC6749_5.2/long_name_not_echoed", strings.Repeat("a", 41), "a long name", strings.Repeat("a", 41)},
		{"RFC6749_5.2/40_chars_echoed", strings.Repeat("a", 40), strings.Repeat("a", 40), ""},
		{"RFC6749_5.2/newline_not_echoed", "a\nb", "unusual characters", "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := duplicated(tc.param)
			if e.Code != "invalid_request" || e.Status != http.StatusBadRequest {
				t.Errorf("duplicated(%q) = %s (%d), want invalid_request (400)", tc.param, e.Code, e.Status)
			}
			if !strings.Contains(e.Description, tc.wantIn) {
				t.Errorf("duplicated(%q).Description = %q, want it to contain %q", tc.param, e.Description, tc.wantIn)
			}
			if tc.wantNotIn != "" && strings.Contains(e.Description, tc.wantNotIn) {
				t.Errorf("duplicated(%q).Description = %q echoes %q", tc.param, e.Description, tc.wantNotIn)
			}
		})
	}
}

// TestRFC6749_3_2_ReadFormBody: the token endpoint takes an
// application/x-www-form-urlencoded body (RFC 6749 §3.2, §4.1.3), at most 64 KiB
// (SECURITY.md c.6).
func TestRFC6749_3_2_ReadFormBody(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name        string
		contentType string // "-" means no header
		target      string
		body        string
		wantStatus  int // 0: success
		want        params
		wantDup     string
	}{
		{"RFC6749_4.1.3/form", form, "/token", "grant_type=authorization_code&code=x", 0, params{"grant_type": "authorization_code", "code": "x"}, ""},
		{"RFC6749_4.1.3/charset_parameter", form + "; charset=UTF-8", "/token", "a=1", 0, params{"a": "1"}, ""},
		{"RFC2045_5.1/media_type_case_insensitive", "Application/X-WWW-Form-URLEncoded", "/token", "a=1", 0, params{"a": "1"}, ""},
		{"RFC6749_3.2/query_string_ignored", form, "/token?code=fromquery&b=2", "a=1", 0, params{"a": "1"}, ""},
		{"RFC6749_3.1/duplicate_in_body", form, "/token", "code=1&code=2", 0, params{"code": "1"}, "code"},
		{"RFC6749_3.1/empty_body", form, "/token", "", 0, params{}, ""},
		{"SECURITY_c.6/exactly_64KiB", form, "/token", "a=" + strings.Repeat("x", maxBodyBytes-2), 0, params{"a": strings.Repeat("x", maxBodyBytes-2)}, ""},
		{"SECURITY_c.6/over_64KiB_is_413", form, "/token", "a=" + strings.Repeat("x", maxBodyBytes-1), http.StatusRequestEntityTooLarge, nil, ""},
		{"SECURITY_c.6/far_over_64KiB_is_413", form, "/token", strings.Repeat("x", 1<<20), http.StatusRequestEntityTooLarge, nil, ""},
		{"RFC6749_3.2/json_refused", "application/json", "/token", `{"grant_type":"x"}`, http.StatusBadRequest, nil, ""},
		{"RFC6749_3.2/text_plain_refused", "text/plain", "/token", "a=1", http.StatusBadRequest, nil, ""},
		{"RFC6749_3.2/multipart_refused", "multipart/form-data; boundary=x", "/token", "--x--", http.StatusBadRequest, nil, ""},
		{"RFC6749_3.2/missing_content_type_refused", "-", "/token", "a=1", http.StatusBadRequest, nil, ""},
		{"RFC6749_3.2/malformed_content_type_refused", form + "; charset", "/token", "a=1", http.StatusBadRequest, nil, ""},
		{"RFC6749_3.2/prefix_content_type_refused", form + "x", "/token", "a=1", http.StatusBadRequest, nil, ""},
		{"RFC3986_2.1/malformed_body", form, "/token", "a=%zz", http.StatusBadRequest, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tc.target, strings.NewReader(tc.body))
			if tc.contentType != "-" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			w := httptest.NewRecorder()
			p, dup, e := readFormBody(w, r)
			if tc.wantStatus != 0 {
				if e == nil {
					t.Fatalf("readFormBody succeeded, want status %d", tc.wantStatus)
				}
				if e.Status != tc.wantStatus || e.Code != "invalid_request" {
					t.Errorf("readFormBody error = %s (%d), want invalid_request (%d)", e.Code, e.Status, tc.wantStatus)
				}
				return
			}
			if e != nil {
				t.Fatalf("readFormBody error = %v", e)
			}
			if dup != tc.wantDup {
				t.Errorf("dup = %q, want %q", dup, tc.wantDup)
			}
			if !maps.Equal(p, tc.want) {
				t.Errorf("params = %v, want %v", p, tc.want)
			}
		})
	}
}

// FuzzParseParams checks: never panics; no kept value is empty; a repeated
// key is reported exactly when some key (after unescaping) repeats; every
// non-empty value is the first one sent.
func FuzzParseParams(f *testing.F) {
	for _, s := range []string{
		"", "a=1", "a=1&a=2", "a=1&a=", "a=&a=1", "%61=1&a=2", "a+b=1&a%20b=2", "a=%zz", "%zz", "a=1;b=2",
		"&&a=1&&", "a", "a&a", "=1&=2", "grant_type=authorization_code&code=x&redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
		"redirect_uri=a&redirect_uri=b", "z=1&z=2&b=1&b=2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, dup, e := parseParams(raw)

		// Independent model of application/x-www-form-urlencoded parsing.
		type kv struct{ k, v string }
		var pairs []kv
		malformed := strings.Count(raw, "&")+1 > 10000
		for seg := range strings.SplitSeq(raw, "&") {
			if seg == "" {
				continue
			}
			if strings.Contains(seg, ";") {
				malformed = true
				continue
			}
			k, v, _ := strings.Cut(seg, "=")
			uk, err1 := url.QueryUnescape(k)
			uv, err2 := url.QueryUnescape(v)
			if err1 != nil || err2 != nil {
				malformed = true
				continue
			}
			pairs = append(pairs, kv{uk, uv})
		}
		count := map[string]int{}
		first := map[string]string{}
		for _, pr := range pairs {
			if count[pr.k] == 0 {
				first[pr.k] = pr.v
			}
			count[pr.k]++
		}
		if malformed || len(count) > maxParamCount {
			if e == nil {
				t.Fatalf("parseParams(%q) succeeded, want invalid_request", raw)
			}
			if e.Code != "invalid_request" {
				t.Fatalf("parseParams(%q) code %q", raw, e.Code)
			}
			return
		}
		if e != nil {
			t.Fatalf("parseParams(%q) = %v, want success", raw, e)
		}
		// The smallest repeated name is reported. A repeated empty name
		// ("=1&=2") cannot be told apart from "no duplicate" by dup == "",
		// and names no parameter, so it is left out of the model.
		wantDup := ""
		for k, n := range count {
			if k != "" && n > 1 && (wantDup == "" || k < wantDup) {
				wantDup = k
			}
		}
		if dup != wantDup {
			t.Fatalf("parseParams(%q) dup = %q, want %q", raw, dup, wantDup)
		}
		for k, v := range p {
			if v == "" {
				t.Fatalf("parseParams(%q) kept empty value for %q", raw, k)
			}
			if first[k] != v {
				t.Fatalf("parseParams(%q)[%q] = %q, want the first value %q", raw, k, v, first[k])
			}
		}
		for k, v := range first {
			if _, ok := p[k]; ok != (v != "") {
				t.Fatalf("parseParams(%q): key %q present=%v with first value %q", raw, k, ok, v)
			}
		}
	})
}
