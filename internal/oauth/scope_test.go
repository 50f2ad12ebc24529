package oauth

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
)

// TestRFC6749_3_3_ParseScope enforces RFC 6749 §3.3:
// scope = scope-token *( SP scope-token ), scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func TestRFC6749_3_3_ParseScope(t *testing.T) {
	many := func(n int) string {
		toks := make([]string, n)
		for i := range toks {
			toks[i] = fmt.Sprintf("s%d", i)
		}
		return strings.Join(toks, " ")
	}
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{"RFC6749_3.3/empty", "", nil, false},
		{"RFC6749_3.3/only_spaces", "   ", nil, false},
		{"RFC6749_3.3/one", "openid", []string{"openid"}, false},
		{"RFC6749_3.3/order_kept", "profile openid email", []string{"profile", "openid", "email"}, false},
		{"RFC6749_3.3/repeated_spaces", "  openid   profile  ", []string{"openid", "profile"}, false},
		{"RFC6749_3.3/duplicates_collapsed", "openid profile openid email profile", []string{"openid", "profile", "email"}, false},
		{"RFC6749_3.3/case_sensitive", "Read read", []string{"Read", "read"}, false},
		{"RFC6749_3.3/every_allowed_punctuation", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~", []string{"!#$%&'()*+,-./:;<=>?@[]^_`{|}~"}, false},
		{"RFC6749_3.3/url_like_scope", "https://api.example/read", []string{"https://api.example/read"}, false},
		{"RFC6749_3.3/lowest_char_0x21", "!", []string{"!"}, false},
		{"RFC6749_3.3/highest_char_0x7e", "~", []string{"~"}, false},
		{"RFC6749_3.3/quote_0x22", `open"id`, nil, true},
		{"RFC6749_3.3/backslash_0x5c", `open\id`, nil, true},
		{"RFC6749_3.3/del_0x7f", "open\x7fid", nil, true},
		{"RFC6749_3.3/non_ascii", "öffnen", nil, true},
		{"RFC6749_3.3/invalid_utf8", "open\xffid", nil, true},
		{"RFC6749_3.3/tab_separator", "openid\tprofile", nil, true},
		{"RFC6749_3.3/newline", "openid\nprofile", nil, true},
		{"RFC6749_3.3/nul", "openid\x00", nil, true},
		{"RFC6749_3.3/control_0x01", "\x01", nil, true},
		{"RFC6749_3.3/control_0x1f", "a\x1f", nil, true},
		{"RFC6749_3.3/nbsp", "openid\u00a0profile", nil, true},
		{"RFC6749_3.3/bad_token_after_good", "openid pro\"file", nil, true},
		{"SECURITY_c.6/64_scopes_allowed", many(64), strings.Fields(many(64)), false},
		{"SECURITY_c.6/65_scopes_too_many", many(65), nil, true},
		{"SECURITY_c.6/duplicates_do_not_count", strings.Repeat("a ", 1000), []string{"a"}, false},
		{"SECURITY_c.6/token_of_128_allowed", strings.Repeat("x", 128), []string{strings.Repeat("x", 128)}, false},
		{"SECURITY_c.6/token_of_129_too_long", strings.Repeat("x", 129), nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, e := ParseScope(tc.in)
			if tc.wantErr {
				if e == nil {
					t.Fatalf("ParseScope(%q) = %q, want invalid_scope", tc.in, got)
				}
				if e.Code != "invalid_scope" || e.Status != 400 {
					t.Errorf("ParseScope(%q) error = %s (status %d), want invalid_scope (400)", tc.in, e.Code, e.Status)
				}
				return
			}
			if e != nil {
				t.Fatalf("ParseScope(%q) error = %v", tc.in, e)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ParseScope(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestRFC6749_3_3_ScopeCharset walks every byte value through the token
// grammar.
func TestRFC6749_3_3_ScopeCharset(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c == 0x21 || c >= 0x23 && c <= 0x5b || c >= 0x5d && c <= 0x7e
		if got := validScopeToken(string([]byte{'a', byte(c)})); got != want {
			t.Errorf("RFC6749_3.3/byte_%#02x: validScopeToken = %v, want %v", c, got, want)
		}
	}
	if validScopeToken(strings.Repeat("a", 129)) {
		t.Error("SECURITY_c.6/long_token accepted")
	}
}

func TestRFC6749_3_3_FormatScope(t *testing.T) {
	t.Run("RFC6749_3.3/space_delimited", func(t *testing.T) {
		if got := FormatScope([]string{"openid", "profile"}); got != "openid profile" {
			t.Errorf("FormatScope = %q", got)
		}
	})
	t.Run("RFC6749_3.3/empty", func(t *testing.T) {
		if got := FormatScope(nil); got != "" {
			t.Errorf("FormatScope(nil) = %q", got)
		}
	})
	t.Run("RFC6749_3.3/round_trip", func(t *testing.T) {
		in := []string{"b", "a", "c"}
		got, e := ParseScope(FormatScope(in))
		if e != nil || !slices.Equal(got, in) {
			t.Errorf("ParseScope(FormatScope(%q)) = %q, %v", in, got, e)
		}
	})
}

// TestRFC6749_3_3_Subset: granted scope must be within what is allowed
// (RFC 6749 §3.3, §6: refresh may not widen the scope).
func TestRFC6749_3_3_Subset(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
		want bool
	}{
		{"RFC6749_3.3/empty_is_subset_of_empty", nil, nil, true},
		{"RFC6749_3.3/empty_is_subset", nil, []string{"a"}, true},
		{"RFC6749_3.3/equal", []string{"a", "b"}, []string{"a", "b"}, true},
		{"RFC6749_3.3/order_insensitive", []string{"b", "a"}, []string{"a", "b"}, true},
		{"RFC6749_3.3/proper_subset", []string{"a"}, []string{"a", "b"}, true},
		{"RFC6749_6/wider_is_not_subset", []string{"a", "c"}, []string{"a", "b"}, false},
		{"RFC6749_6/nonempty_not_subset_of_empty", []string{"a"}, nil, false},
		{"RFC6749_3.3/case_sensitive", []string{"A"}, []string{"a"}, false},
		{"RFC6749_3.3/no_prefix_match", []string{"read"}, []string{"read:all"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Subset(tc.a, tc.b); got != tc.want {
				t.Errorf("Subset(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestScopesRegistry(t *testing.T) {
	s := NewScopes([]config.Scope{
		{Name: "openid", Description: "Sign you in"},
		{Name: "profile", Description: "Read your profile"},
		{Name: "email", Description: ""},
	})
	t.Run("known", func(t *testing.T) {
		for _, n := range []string{"openid", "profile", "email"} {
			if !s.Known(n) {
				t.Errorf("Known(%q) = false", n)
			}
		}
	})
	t.Run("unknown", func(t *testing.T) {
		for _, n := range []string{"", "OPENID", "admin", "openid "} {
			if s.Known(n) {
				t.Errorf("Known(%q) = true", n)
			}
		}
	})
	t.Run("description", func(t *testing.T) {
		if got := s.Description("profile"); got != "Read your profile" {
			t.Errorf("Description(profile) = %q", got)
		}
		if got := s.Description("admin"); got != "" {
			t.Errorf("Description(admin) = %q, want empty", got)
		}
	})
	t.Run("names_in_registry_order", func(t *testing.T) {
		if got, want := s.Names(), []string{"openid", "profile", "email"}; !slices.Equal(got, want) {
			t.Errorf("Names() = %q, want %q", got, want)
		}
	})
	t.Run("empty_registry", func(t *testing.T) {
		e := NewScopes(nil)
		if e.Known("openid") || len(e.Names()) != 0 {
			t.Error("an empty registry knows a scope")
		}
	})
}

// scopeTokenOK is the RFC 6749 §3.3 scope-token grammar, written independently.
func scopeTokenOK(tok string) bool {
	if tok == "" {
		return false
	}
	for _, c := range []byte(tok) {
		if !(c == 0x21 || c >= 0x23 && c <= 0x5b || c >= 0x5d && c <= 0x7e) {
			return false
		}
	}
	return true
}

// FuzzParseScope checks SECURITY.md F5: tokens satisfy the grammar, no empty
// or repeated tokens, first-occurrence order, parse∘format∘parse == parse,
// and an error exactly when a token breaks the grammar or a limit.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{
		"", "openid", "openid profile email", "  openid   profile  ", "openid openid", `open"id`, `open\id`,
		"open\x7fid", "öffnen", "openid\tprofile", "a\x00", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~",
		strings.Repeat("x", 129), strings.Repeat("a ", 70),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, e := ParseScope(s)
		// Independent expectation.
		var want []string
		valid := true
		for _, tok := range strings.Split(s, " ") {
			if tok == "" {
				continue
			}
			if !scopeTokenOK(tok) || len(tok) > 128 {
				valid = false
				break
			}
			if !slices.Contains(want, tok) {
				want = append(want, tok)
			}
			if len(want) > maxScopes {
				valid = false
				break
			}
		}
		if !valid {
			if e == nil {
				t.Fatalf("ParseScope(%q) = %q, want invalid_scope", s, got)
			}
			if e.Code != "invalid_scope" {
				t.Fatalf("ParseScope(%q) error code %q, want invalid_scope", s, e.Code)
			}
			return
		}
		if e != nil {
			t.Fatalf("ParseScope(%q) = %v, want %q", s, e, want)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("ParseScope(%q) = %q, want %q", s, got, want)
		}
		for _, tok := range got {
			if !scopeTokenOK(tok) {
				t.Fatalf("ParseScope(%q) returned token %q outside RFC 6749 §3.3", s, tok)
			}
		}
		again, e2 := ParseScope(FormatScope(got))
		if e2 != nil || !slices.Equal(again, got) {
			t.Fatalf("parse(format(parse(%q))) = %q, %v; want %q", s, again, e2, got)
		}
		if !Subset(got, want) || !Subset(want, got) {
			t.Fatalf("Subset disagrees with equal sets %q and %q", got, want)
		}
	})
}
