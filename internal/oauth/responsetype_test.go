package oauth

import (
	"net/url"
	"strings"
	"testing"
)

func TestMultipleResponseTypes_3_ParseResponseType(t *testing.T) {
	for _, tc := range []struct {
		in, canonical, code string
		fragment            bool
	}{
		{"code", "code", "", false},
		{"token", "token", "", true},
		{"id_token", "id_token", "", true},
		{"token id_token", "id_token token", "", true},
		{"id_token code", "code id_token", "", true},
		{"code token id_token", "code id_token token", "", true},
		{"", "", "invalid_request", false},
		{"code code", "", "unsupported_response_type", false},
		{"code_and_token", "", "unsupported_response_type", false},
		{"none", "", "unsupported_response_type", false},
		{"code  token", "", "unsupported_response_type", false},
		{"CODE", "", "unsupported_response_type", false},
	} {
		rt, e := parseResponseType(tc.in)
		switch {
		case tc.code != "" && (e == nil || e.Code != tc.code):
			t.Errorf("%q: error %v, want %s", tc.in, e, tc.code)
		case tc.code == "" && (e != nil || rt.String() != tc.canonical || rt.fragmentDefault() != tc.fragment):
			t.Errorf("%q: %q fragment %v, %v", tc.in, rt.String(), rt.fragmentDefault(), e)
		}
	}
}

func TestFormPost_2_ResponseModes(t *testing.T) {
	code, _ := parseResponseType("code")
	idt, _ := parseResponseType("id_token")
	for _, tc := range []struct {
		rt       responseType
		mode     string
		wantMode string
		ok       bool
	}{
		{code, "", "", true},
		{code, "query", "query", true},
		{code, "fragment", "fragment", true},
		{code, "form_post", "form_post", true},
		{idt, "query", "", false},
		{idt, "form_post", "form_post", true},
		{code, "web_message", "", false},
		{code, "QUERY", "", false},
	} {
		to := &Redirect{}
		e := setResponseMode(to, tc.rt, tc.mode)
		if (e == nil) != tc.ok || e == nil && to.Mode != tc.wantMode {
			t.Errorf("%v %q: mode %q, %v", tc.rt, tc.mode, to.Mode, e)
		}
	}
}

func TestRFC9207_2_ResponseLocation(t *testing.T) {
	r := Response{To: Redirect{URI: "https://c.example/cb?keep=1", State: "a&code=evil"}, Params: url.Values{"code": {"lk_ac_x"}}}
	loc, _ := url.Parse(r.Location("https://as.example"))
	q := loc.Query()
	if q.Get("keep") != "1" || q.Get("state") != "a&code=evil" || q["code"][0] != "lk_ac_x" || len(q["code"]) != 1 || q.Get("iss") != "https://as.example" {
		t.Fatalf("query %v", q)
	}
	r.To.Mode = ModeFragment
	if l := r.Location("https://as.example"); !strings.HasPrefix(l, "https://c.example/cb?keep=1#") {
		t.Fatalf("fragment response %q", l)
	}
}

func TestRFC8252_8_6_IsNativeRedirectURI(t *testing.T) {
	for uri, want := range map[string]bool{
		"http://127.0.0.1/cb": true, "http://[::1]:8080/cb": true, "com.example.app:/cb": true,
		"https://app.example/cb": false, "http://app.example/cb": false,
	} {
		if got := IsNativeRedirectURI(uri); got != want {
			t.Errorf("IsNativeRedirectURI(%q) = %v", uri, got)
		}
	}
}

func TestOIDCCore_3_1_2_1_OpenIDParams(t *testing.T) {
	p := &Provider{}
	for _, tc := range []struct {
		q      params
		maxAge int64
		ok     bool
	}{
		{params{}, -1, true},
		{params{"max_age": "0"}, 0, true},
		{params{"max_age": "2147483648"}, 1 << 31, true},
		{params{"max_age": "2147483649"}, 0, false},
		{params{"max_age": "-1"}, 0, false},
		{params{"max_age": "1h"}, 0, false},
		{params{"display": "popup"}, -1, true},
		{params{"display": "fullscreen"}, 0, false},
		{params{"prompt": "none consent"}, 0, false},
		{params{"login_hint": strings.Repeat("a", maxHintLen)}, -1, true},
		{params{"login_hint": strings.Repeat("a", maxHintLen+1)}, 0, false},
		{params{"ui_locales": strings.Repeat("a", maxHintLen+1)}, 0, false},
		{params{"claims": `{"id_token":{"email":null}}`}, -1, true},
		{params{"claims": `{"id_token":5}`}, 0, false},
		{params{"id_token_hint": "a.b.c"}, 0, false},
	} {
		oi, e := p.openIDParams(tc.q)
		if (e == nil) != tc.ok || tc.ok && oi.maxAge != tc.maxAge {
			t.Errorf("%v: max_age %d, %v", tc.q, oi.maxAge, e)
		}
	}
}
