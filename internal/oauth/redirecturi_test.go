package oauth

import (
	"net"
	"net/url"
	"strings"
	"testing"
)

const registeredCB = "https://app.example/cb"

// TestRFC9700_4_1_3_ExactRedirectMatch enforces SECURITY.md R1: the requested
// redirect_uri is compared with the registered one as a string, with no
// case folding, normalisation, prefix, suffix or wildcard rule.
// RFC 9700 §4.1.3: "authorization servers MUST utilize exact string matching".
func TestRFC9700_4_1_3_ExactRedirectMatch(t *testing.T) {
	registered := []string{registeredCB}
	mismatches := []struct {
		name, requested string
	}{
		{"case_differs_in_path", "https://app.example/CB"},
		{"case_differs_in_scheme", "HTTPS://app.example/cb"},
		{"case_differs_in_host", "https://APP.example/cb"},
		{"trailing_slash", "https://app.example/cb/"},
		{"added_query", "https://app.example/cb?x=1"},
		{"empty_query", "https://app.example/cb?"},
		{"fragment", "https://app.example/cb#f"},
		{"empty_fragment", "https://app.example/cb#"},
		{"dot_segments", "https://app.example/cb/../cb"},
		{"single_dot_segment", "https://app.example/./cb"},
		{"encoded_dot_segments", "https://app.example/cb/%2E%2E/"},
		{"double_encoded_dot_segments", "https://app.example/cb/%252E%252E/"},
		{"percent_encoded_path_char", "https://app.example/%63b"},
		{"tomcat_path_parameter", "https://app.example/cb/..;/x"},
		{"path_prefix_of_registered", "https://app.example/c"},
		{"registered_is_prefix", "https://app.example/cbx"},
		{"suffix_domain", "https://app.example.evil/cb"},
		{"prefix_domain", "https://evil-app.example/cb"},
		{"subdomain", "https://evil.app.example/cb"},
		{"trailing_dot_host", "https://app.example./cb"},
		{"userinfo_host_as_user", "https://app.example@evil/cb"},
		{"userinfo_encoded_percent", "https://app.example%25@evil/cb"},
		{"userinfo_double_at", "https://a@b@evil/cb"},
		{"userinfo_registered_host", "https://user@app.example/cb"},
		{"default_port", "https://app.example:443/cb"},
		{"empty_port", "https://app.example:/cb"},
		{"other_port", "https://app.example:8443/cb"},
		{"http_downgrade", "http://app.example/cb"},
		{"scheme_relative", "//evil/cb"},
		{"scheme_relative_registered_host", "//app.example/cb"},
		{"backslash_authority", `https:/\evil/cb`},
		{"backslash_in_path", `https://app.example\cb`},
		{"trailing_space", registeredCB + " "},
		{"trailing_tab", registeredCB + "\t"},
		{"trailing_encoded_nul", registeredCB + "%00"},
		{"trailing_nul", registeredCB + "\x00"},
		{"trailing_newline", registeredCB + "\n"},
		{"leading_space", " " + registeredCB},
		{"unicode_lookalike_host", "https://аpp.example/cb"}, // Cyrillic а
		{"punycode_host", "https://xn--pp-8kc.example/cb"},
		{"empty", ""},
	}
	for _, tc := range mismatches {
		t.Run("RFC9700_4.1.3/"+tc.name, func(t *testing.T) {
			if MatchRedirectURI(registered, tc.requested) {
				t.Errorf("MatchRedirectURI(%q, %q) = true, want false", registeredCB, tc.requested)
			}
		})
	}
	t.Run("RFC9700_4.1.3/exact_string_matches", func(t *testing.T) {
		if !MatchRedirectURI(registered, registeredCB) {
			t.Errorf("MatchRedirectURI(%q, %q) = false, want true", registeredCB, registeredCB)
		}
	})
	t.Run("RFC6749_3.1.2.3/any_registered_uri_matches", func(t *testing.T) {
		regs := []string{"https://a.example/one", registeredCB}
		if !MatchRedirectURI(regs, registeredCB) || !MatchRedirectURI(regs, "https://a.example/one") {
			t.Error("a URI equal to one of several registered URIs did not match")
		}
		if MatchRedirectURI(regs, "https://a.example/cb") {
			t.Error("mixing the host of one registered URI with the path of another matched")
		}
	})
	t.Run("RFC6749_3.1.2.3/nothing_registered", func(t *testing.T) {
		if MatchRedirectURI(nil, registeredCB) {
			t.Error("matched against an empty registration")
		}
	})
	t.Run("RFC9700_4.1.3/too_long_is_refused_even_if_equal", func(t *testing.T) {
		long := "https://app.example/" + strings.Repeat("a", maxRedirectURILen)
		if MatchRedirectURI([]string{long}, long) {
			t.Error("a redirect URI longer than the limit matched")
		}
	})
}

// TestRFC8252_7_3_LoopbackPortMayVary enforces SECURITY.md R2: for a
// registered http loopback IP literal only the port may differ.
// RFC 8252 §7.3: "The authorization server MUST allow any port to be
// specified at the time of the request for loopback IP redirect URIs".
func TestRFC8252_7_3_LoopbackPortMayVary(t *testing.T) {
	tests := []struct {
		name       string
		registered string
		requested  string
		want       bool
	}{
		{"RFC8252_7.3/ipv4_other_port", "http://127.0.0.1/cb", "http://127.0.0.1:51004/cb", true},
		{"RFC8252_7.3/ipv4_no_port", "http://127.0.0.1/cb", "http://127.0.0.1/cb", true},
		{"RFC8252_7.3/ipv4_registered_port_replaced", "http://127.0.0.1:8080/cb", "http://127.0.0.1:51004/cb", true},
		{"RFC8252_7.3/ipv4_registered_port_dropped", "http://127.0.0.1:8080/cb", "http://127.0.0.1/cb", true},
		{"RFC8252_7.3/ipv4_highest_port", "http://127.0.0.1/cb", "http://127.0.0.1:65535/cb", true},
		{"RFC8252_7.3/ipv6_other_port", "http://[::1]/cb", "http://[::1]:5000/cb", true},
		{"RFC8252_7.3/ipv4_root_path", "http://127.0.0.1/", "http://127.0.0.1:5000/", true},
		{"RFC8252_7.3/query_must_still_match", "http://127.0.0.1/cb?x=1", "http://127.0.0.1:5000/cb?x=1", true},

		{"RFC9700_4.1.3/loopback_added_query", "http://127.0.0.1/cb", "http://127.0.0.1:51004/cb?bar=foo", false},
		{"RFC9700_4.1.3/loopback_path_case", "http://127.0.0.1/cb", "http://127.0.0.1:51004/CB", false},
		{"RFC9700_4.1.3/loopback_trailing_slash", "http://127.0.0.1/cb", "http://127.0.0.1:51004/cb/", false},
		{"RFC9700_4.1.3/loopback_dot_segments", "http://127.0.0.1/cb", "http://127.0.0.1:51004/x/../cb", false},
		{"RFC9700_4.1.3/loopback_query_differs", "http://127.0.0.1/cb?x=1", "http://127.0.0.1:5000/cb?x=2", false},
		{"RFC9700_4.1.3/loopback_fragment", "http://127.0.0.1/cb", "http://127.0.0.1:51004/cb#f", false},
		{"RFC9700_4.1.3/loopback_empty_fragment", "http://127.0.0.1/cb", "http://127.0.0.1:51004/cb#", false},
		{"RFC9700_4.1.3/loopback_suffix_domain", "http://127.0.0.1/cb", "http://127.0.0.1.evil/cb", false},
		{"RFC9700_4.1.3/loopback_suffix_domain_with_port", "http://127.0.0.1/cb", "http://127.0.0.1.evil:51004/cb", false},
		{"RFC8252_8.3/localhost_is_not_the_registered_ip", "http://127.0.0.1/cb", "http://localhost:51004/cb", false},
		{"RFC8252_7.3/other_loopback_ip_is_another_host", "http://127.0.0.1/cb", "http://127.0.0.2/cb", false},
		{"RFC8252_7.3/other_loopback_ip_with_port", "http://127.0.0.1/cb", "http://127.0.0.2:51004/cb", false},
		{"RFC8252_7.3/ipv6_for_ipv4_registration", "http://127.0.0.1/cb", "http://[::1]:51004/cb", false},
		{"RFC8252_7.3/ipv4_mapped_ipv6", "http://127.0.0.1/cb", "http://[::ffff:127.0.0.1]:51004/cb", false},
		{"RFC8252_7.3/ipv6_long_form", "http://[::1]/cb", "http://[0:0:0:0:0:0:0:1]:5000/cb", false},
		{"RFC8252_7.3/ipv6_zone", "http://[::1]/cb", "http://[::1%25lo]:5000/cb", false},
		{"RFC8252_7.3/ipv4_shorthand", "http://127.0.0.1/cb", "http://127.1:51004/cb", false},
		{"RFC8252_7.3/ipv4_hex", "http://127.0.0.1/cb", "http://0x7f000001:51004/cb", false},
		{"RFC9700_4.1.3/loopback_userinfo", "http://127.0.0.1/cb", "http://evil@127.0.0.1:51004/cb", false},
		{"RFC9700_4.1.3/loopback_userinfo_no_port", "http://127.0.0.1/cb", "http://evil@127.0.0.1/cb", false},
		{"RFC9700_4.1.3/loopback_userinfo_redirect", "http://127.0.0.1/cb", "http://127.0.0.1:1@evil/cb", false},
		{"RFC9700_4.1.3/loopback_scheme_case", "http://127.0.0.1/cb", "HTTP://127.0.0.1:51004/cb", false},
		{"RFC9700_4.1.3/loopback_https_requested", "http://127.0.0.1/cb", "https://127.0.0.1:51004/cb", false},
		{"RFC8252_7.3/empty_port", "http://127.0.0.1/cb", "http://127.0.0.1:/cb", false},
		{"RFC8252_7.3/port_zero", "http://127.0.0.1/cb", "http://127.0.0.1:0/cb", false},
		{"RFC8252_7.3/port_too_big", "http://127.0.0.1/cb", "http://127.0.0.1:65536/cb", false},
		{"RFC8252_7.3/port_six_digits", "http://127.0.0.1/cb", "http://127.0.0.1:000080/cb", false},
		{"RFC8252_7.3/port_not_numeric", "http://127.0.0.1/cb", "http://127.0.0.1:80a/cb", false},
		{"RFC8252_7.3/port_negative", "http://127.0.0.1/cb", "http://127.0.0.1:-80/cb", false},
		{"RFC8252_7.3/backslash_after_port", "http://127.0.0.1/cb", `http://127.0.0.1:5\@evil/cb`, false},
		{"RFC8252_7.3/trailing_space", "http://127.0.0.1/cb", "http://127.0.0.1:5000/cb ", false},

		{"RFC8252_7.3/https_never_gets_the_port_exception", "https://127.0.0.1/cb", "https://127.0.0.1:51004/cb", false},
		{"RFC8252_7.3/https_app_never_gets_the_port_exception", "https://app.example/cb", "https://app.example:51004/cb", false},
		{"RFC8252_8.3/registered_localhost_gets_no_port_exception", "http://localhost/cb", "http://localhost:51004/cb", false},
		{"RFC8252_8.3/registered_localhost_exact", "http://localhost/cb", "http://localhost/cb", true},
		{"RFC8252_7.3/non_loopback_http_gets_no_port_exception", "http://10.0.0.1/cb", "http://10.0.0.1:51004/cb", false},
		{"RFC8252_7.3/private_use_scheme_exact_only", "com.example.app:/cb", "com.example.app:/cb", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MatchRedirectURI([]string{tc.registered}, tc.requested); got != tc.want {
				t.Errorf("MatchRedirectURI(%q, %q) = %v, want %v", tc.registered, tc.requested, got, tc.want)
			}
		})
	}
	t.Run("RFC8252_7.3/127.0.0.2_is_loopback_but_another_host", func(t *testing.T) {
		// The precondition of the case above: the rejection must come from the
		// host comparison, not from 127.0.0.2 failing a loopback check.
		if !net.ParseIP("127.0.0.2").IsLoopback() {
			t.Fatal("net.IP.IsLoopback(127.0.0.2) = false; the case above proves nothing")
		}
		if !isLoopbackHost("127.0.0.2") {
			t.Fatal("isLoopbackHost(127.0.0.2) = false")
		}
		if MatchRedirectURI([]string{"http://127.0.0.1/cb"}, "http://127.0.0.2:51004/cb") {
			t.Error("a different loopback address matched")
		}
		if !MatchRedirectURI([]string{"http://127.0.0.2/cb"}, "http://127.0.0.2:51004/cb") {
			t.Error("127.0.0.2 registered did not match itself with another port")
		}
	})
}

// TestRFC8252_8_3_LoopbackHost: "localhost" is a name, not a loopback IP literal.
func TestRFC8252_8_3_LoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1":          true,
		"127.255.255.254":    true,
		"::1":                true,
		"localhost":          false,
		"127.0.0.1.evil":     false,
		"10.0.0.1":           false,
		"":                   false,
		"::1%lo":             false,
		"0:0:0:0:0:0:0:1":    true,
		"::ffff:127.0.0.1":   true,
		"app.example":        false,
		"[::1]":              false,
		"127.0.0.1:80":       false,
		"2130706433":         false,
		"0177.0.0.1":         false,
		"127.000.000.001":    false,
		"::ffff:7f00:1":      true,
		"fe80::1":            false,
		"0.0.0.0":            false,
		"::":                 false,
		"255.255.255.255":    false,
		"127.0.0.1\x00":      false,
		"127.0.0.1 ":         false,
		" 127.0.0.1":         false,
		"1.127.0.0.1":        false,
		"127.0.0.1/8":        false,
		"::1/128":            false,
		"0:0:0:0:0:0:0:0001": true,
	} {
		t.Run("RFC8252_8.3/"+host, func(t *testing.T) {
			if got := isLoopbackHost(host); got != want {
				t.Errorf("isLoopbackHost(%q) = %v, want %v", host, got, want)
			}
		})
	}
}

// TestRFC9700_2_6_RegisteredRedirectURI enforces SECURITY.md R3: what may be
// registered as a redirect URI.
func TestRFC9700_2_6_RegisteredRedirectURI(t *testing.T) {
	bad := []struct{ name, uri string }{
		{"RFC8252_8.3/http_non_loopback", "http://app.example/cb"},
		{"RFC8252_8.3/http_non_loopback_ip", "http://10.0.0.1/cb"},
		{"RFC8252_8.3/http_loopback_lookalike", "http://127.0.0.1.evil/cb"},
		{"RFC8252_8.3/http_localhost_lookalike", "http://localhost.evil/cb"},
		{"RFC9700_2.6/javascript_mixed_case", "JaVaScRiPt:alert(1)"},
		{"RFC9700_2.6/javascript", "javascript:alert(1)"},
		{"RFC9700_2.6/javascript_slashes", "javascript://app.example/%0aalert(1)"},
		{"RFC9700_2.6/data_upper_case", "DATA:text/html,x"},
		{"RFC9700_2.6/data", "data:text/html,<script>alert(1)</script>"},
		{"RFC9700_2.6/vbscript", "vbscript:x"},
		{"RFC9700_2.6/vbscript_upper", "VBScript:x"},
		{"RFC9700_2.6/file", "file:///etc/passwd"},
		{"RFC9700_2.6/file_upper", "FILE:///etc/passwd"},
		{"RFC9700_2.6/blob", "blob:https://app.example/x"},
		{"RFC9700_2.6/about", "about:blank"},
		{"RFC6749_3.1.2/fragment", "https://a/cb#x"},
		{"RFC6749_3.1.2/empty_fragment", "https://a/cb#"},
		{"RFC9700_4.1.3/carries_code", "https://a/cb?code=1"},
		{"RFC9700_4.1.3/carries_state", "https://a/cb?state=1"},
		{"RFC9700_4.1.3/carries_code_later", "https://a/cb?x=1&code=1"},
		{"RFC9700_4.1.3/carries_code_without_value", "https://a/cb?code"},
		{"RFC9700_4.1.3/carries_encoded_code", "https://a/cb?%63ode=1"},
		{"RFC9700_4.1.3/carries_error", "https://a/cb?error=x"},
		{"RFC9207_2/carries_iss", "https://a/cb?iss=x"},
		{"RFC9700_4.1.3/carries_code_with_bad_escape", "https://a/cb?code=%zz"},
		{"RFC9700_4.1.3/carries_state_after_semicolon", "https://a/cb?x=1;state=1"},
		{"RFC6749_3.1.2/relative_path", "/cb"},
		{"RFC6749_3.1.2/relative_name", "cb"},
		{"RFC6749_3.1.2/scheme_relative", "//app.example/cb"},
		{"RFC6749_3.1.2/empty", ""},
		{"RFC6749_3.1.2/https_without_host", "https:/cb"},
		{"RFC6749_3.1.2/https_empty_host", "https:///cb"},
		{"RFC6749_3.1.2/too_long", "https://app.example/" + strings.Repeat("a", 3000)},
		{"RFC3986_2/space", "https://app.example/c b"},
		{"RFC3986_2/tab", "https://app.example/cb\t"},
		{"RFC3986_2/newline", "https://app.example/cb\n"},
		{"RFC3986_2/carriage_return", "https://app.example/\rcb"},
		{"RFC3986_2/nul", "https://app.example/cb\x00"},
		{"RFC3986_2/del", "https://app.example/cb\x7f"},
		{"RFC3986_2/backslash", `https:/\evil/cb`},
		{"RFC3986_3.2.1/userinfo", "https://app.example@evil/cb"},
		{"RFC3986_3.2.1/userinfo_password", "https://u:p@app.example/cb"},
		{"RFC9700_2.6/upper_case_https_scheme", "HTTPS://app.example/cb"},
		{"RFC8252_7.1/private_use_scheme_without_dot", "myapp:/cb"},
		{"RFC8252_7.1/private_use_scheme_upper_case", "Com.Example.App:/cb"},
		{"RFC3986_3.1/no_scheme_only_colon", ":/cb"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if err := ValidateRegisteredRedirectURI(tc.uri); err == nil {
				t.Errorf("ValidateRegisteredRedirectURI(%q) = nil, want an error", tc.uri)
			}
		})
	}
	good := []struct{ name, uri string }{
		{"RFC9700_2.6/https", "https://app.example/cb"},
		{"RFC9700_2.6/https_with_port", "https://app.example:8443/cb"},
		{"RFC9700_2.6/https_with_query", "https://app.example/cb?tenant=1"},
		{"RFC8252_7.3/http_loopback_ipv4", "http://127.0.0.1/cb"},
		{"RFC8252_7.3/http_loopback_ipv6_with_port", "http://[::1]:8080/cb"},
		{"RFC8252_7.3/http_loopback_no_path", "http://127.0.0.1"},
		{"RFC8252_7.1/private_use_scheme", "com.example.app:/oauth2redirect"},
		{"RFC8252_7.1/private_use_scheme_two_slashes", "com.example.app://oauth2redirect"},
		{"RFC9700_2.6/longest_allowed", "https://app.example/" + strings.Repeat("a", maxRedirectURILen-len("https://app.example/"))},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			if err := ValidateRegisteredRedirectURI(tc.uri); err != nil {
				t.Errorf("ValidateRegisteredRedirectURI(%q) = %v, want nil", tc.uri, err)
			}
		})
	}
}

// redirectSeeds are the vectors of SECURITY.md R1 to R3, used as seeds.
var redirectSeeds = []string{
	"https://app.example/cb", "https://app.example/CB", "HTTPS://app.example/cb", "https://APP.example/cb",
	"https://app.example/cb/", "https://app.example/cb?x=1", "https://app.example/cb#f",
	"https://app.example/cb/../cb", "https://app.example/cb/%2E%2E/", "https://app.example/cb/%252E%252E/",
	"https://app.example/cb/..;/x", "https://app.example.evil/cb", "https://evil-app.example/cb",
	"https://app.example@evil/cb", "https://app.example%25@evil/cb", "https://a@b@evil/cb",
	"https://app.example:443/cb", "//evil/cb", `https:/\evil/cb`, "https://app.example/cb ",
	"https://app.example/cb\t", "https://app.example/cb%00",
	"http://127.0.0.1/cb", "http://127.0.0.1:51004/cb", "http://127.0.0.1:51004/cb?bar=foo",
	"http://127.0.0.1:51004/CB", "http://127.0.0.1.evil/cb", "http://localhost:51004/cb", "http://127.0.0.2/cb",
	"http://[::1]/cb", "http://[::1]:5000/cb", "http://evil@127.0.0.1:5/cb", "http://127.0.0.1:/cb",
	"http://app.example/cb", "JaVaScRiPt:alert(1)", "DATA:text/html,x", "https://a/cb#x", "https://a/cb?code=1",
	"https://a/cb?state=1", "file:///etc/passwd", "vbscript:x", "com.example.app:/oauth2redirect",
}

// FuzzRedirectURIMatch checks SECURITY.md F1: a match is either the exact
// registered string or the RFC 8252 §7.3 loopback rule, which lets only the
// port differ.
func FuzzRedirectURIMatch(f *testing.F) {
	for _, reg := range []string{"https://app.example/cb", "http://127.0.0.1/cb", "http://[::1]/cb", "http://127.0.0.1:8080/cb?x=1"} {
		for _, req := range redirectSeeds {
			f.Add(reg, req)
		}
	}
	f.Fuzz(func(t *testing.T, registered, requested string) {
		if !MatchRedirectURI([]string{registered}, requested) {
			return
		}
		if requested == registered {
			return
		}
		// Otherwise only the loopback rule may have matched.
		if !strings.HasPrefix(registered, "http://") || !strings.HasPrefix(requested, "http://") {
			t.Fatalf("non-exact match outside http: %q ~ %q", registered, requested)
		}
		if strings.Contains(requested, "#") {
			t.Fatalf("match with a fragment: %q ~ %q", registered, requested)
		}
		ru, err := url.Parse(registered)
		if err != nil {
			t.Fatalf("match against an unparseable registration %q: %v", registered, err)
		}
		qu, err := url.Parse(requested)
		if err != nil {
			t.Fatalf("match of an unparseable URI %q: %v", requested, err)
		}
		if qu.User != nil || qu.Fragment != "" {
			t.Fatalf("match with userinfo or fragment: %q", requested)
		}
		host := ru.Hostname()
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			t.Fatalf("port exception for a non-loopback host %q: %q ~ %q", host, registered, requested)
		}
		if qu.Hostname() != host {
			t.Fatalf("hostnames differ: %q ~ %q", registered, requested)
		}
		// Independently of the code under test: the requested authority is the
		// registered host literal with an optional decimal port, and what
		// follows the authority is byte-equal.
		hostText := host
		if strings.Contains(host, ":") {
			hostText = "[" + host + "]"
		}
		regAuth, regRest := splitAuthority(registered[len("http://"):])
		reqAuth, reqRest := splitAuthority(requested[len("http://"):])
		if regRest != reqRest {
			t.Fatalf("path or query differ: %q ~ %q", registered, requested)
		}
		if !strings.HasPrefix(regAuth, hostText) && !strings.Contains(regAuth, "@") {
			t.Fatalf("registered authority %q does not start with host %q", regAuth, hostText)
		}
		port, ok := strings.CutPrefix(reqAuth, hostText)
		if !ok {
			t.Fatalf("requested authority %q is not host %q with a port", reqAuth, hostText)
		}
		if port != "" {
			digits := strings.TrimPrefix(port, ":")
			if len(digits) == 0 || len(digits) == len(port) || strings.Trim(digits, "0123456789") != "" {
				t.Fatalf("requested authority %q has more than a port after the host", reqAuth)
			}
		}
	})
}

// splitAuthority splits what follows "scheme://" into the authority and the
// rest (path, query, fragment), per RFC 3986 §3.2.
func splitAuthority(s string) (authority, rest string) {
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// FuzzRedirectURIRegistration checks SECURITY.md F2: an accepted URI is
// absolute, https, loopback http or a reverse-domain private-use scheme, has
// no fragment, no script/data/file scheme in any case, no code or state
// parameter, no userinfo, no control characters and is at most 2 KiB.
func FuzzRedirectURIRegistration(f *testing.F) {
	for _, s := range redirectSeeds {
		f.Add(s)
	}
	for _, s := range []string{"https://a/cb?code=%zz", "https://a/cb?x=1;state=1", "https://a/cb?%73tate=1", "http://[::1]:8080/cb", "com.example.app://cb", "java.script:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if ValidateRegisteredRedirectURI(raw) != nil {
			return
		}
		if len(raw) == 0 || len(raw) > 2048 {
			t.Fatalf("accepted a URI of %d bytes", len(raw))
		}
		if strings.Contains(raw, "#") {
			t.Fatalf("accepted a fragment: %q", raw)
		}
		for i := 0; i < len(raw); i++ {
			if raw[i] <= ' ' || raw[i] == 0x7f || raw[i] == '\\' {
				t.Fatalf("accepted a control character, space or backslash: %q", raw)
			}
		}
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() {
			t.Fatalf("accepted a relative or unparseable URI: %q", raw)
		}
		if u.User != nil {
			t.Fatalf("accepted userinfo: %q", raw)
		}
		scheme, _, _ := strings.Cut(raw, ":")
		for _, s := range []string{"javascript", "data", "vbscript", "file", "blob", "about"} {
			if strings.EqualFold(scheme, s) {
				t.Fatalf("accepted scheme %q: %q", scheme, raw)
			}
		}
		switch {
		case scheme == "https":
			if u.Host == "" {
				t.Fatalf("accepted https without a host: %q", raw)
			}
		case scheme == "http":
			h := u.Hostname()
			if ip := net.ParseIP(h); (ip == nil || !ip.IsLoopback()) && h != "localhost" {
				t.Fatalf("accepted http for a non-loopback host: %q", raw)
			}
		case strings.Contains(scheme, "."):
			if scheme != strings.ToLower(scheme) {
				t.Fatalf("accepted a private-use scheme in upper case: %q", raw)
			}
		default:
			t.Fatalf("accepted scheme %q: %q", scheme, raw)
		}
		// No code or state parameter, however the query is spelled: each
		// &- or ;-separated key, raw and (when decodable) unescaped.
		for _, kv := range strings.FieldsFunc(u.RawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
			k, _, _ := strings.Cut(kv, "=")
			keys := []string{k}
			if uk, err := url.QueryUnescape(k); err == nil {
				keys = append(keys, uk)
			}
			for _, k := range keys {
				if k == "code" || k == "state" {
					t.Fatalf("accepted a %s parameter: %q", k, raw)
				}
			}
		}
	})
}
