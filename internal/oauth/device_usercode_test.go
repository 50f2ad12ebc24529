package oauth

import (
	"strings"
	"testing"
)

func TestRFC8628_6_1_UserCodes(t *testing.T) {
	t.Run("RFC8628_6.1/new_codes_are_8_letters_of_the_alphabet_each_letter_used", func(t *testing.T) {
		seen := map[rune]int{}
		codes := map[string]bool{}
		for range 2000 {
			c := newUserCode()
			if len(c) != userCodeLength || strings.Trim(c, userCodeAlphabet) != "" {
				t.Fatalf("newUserCode() = %q", c)
			}
			codes[c] = true
			for _, r := range c {
				seen[r]++
			}
		}
		if len(codes) != 2000 {
			t.Fatalf("%d distinct codes of 2000", len(codes))
		}
		// 16,000 letters: each of the 20 expected 800 times.
		for _, r := range userCodeAlphabet {
			if n := seen[r]; n < 600 || n > 1000 {
				t.Errorf("letter %c drawn %d times of 16000, want about 800", r, n)
			}
		}
	})
	t.Run("RFC8628_6.1/the_alphabet_has_no_vowels_digits_or_look-alikes", func(t *testing.T) {
		if len(userCodeAlphabet) != 20 || strings.ContainsAny(userCodeAlphabet, "AEIOUY0123456789") {
			t.Fatalf("alphabet %q", userCodeAlphabet)
		}
	})
	t.Run("RFC8628_6.1/typed_codes_are_case_dash_and_space_insensitive", func(t *testing.T) {
		for typed, want := range map[string]string{
			"WDJB-MJHT":          "WDJBMJHT",
			"wdjb-mjht":          "WDJBMJHT",
			"wdjbmjht":           "WDJBMJHT",
			" WdJb MjHt ":        "WDJBMJHT",
			"WDJB\u2013MJHT":     "WDJBMJHT", // an en dash, as phones type it
			"W-D-J-B-M-J-H-T":    "WDJBMJHT",
			"wdjb\u00a0mjht\t\n": "WDJBMJHT",
		} {
			got, ok := NormalizeUserCode(typed)
			if !ok || got != want {
				t.Errorf("NormalizeUserCode(%q) = %q, %v; want %q", typed, got, ok, want)
			}
		}
	})
	t.Run("RFC8628_6.1/anything_else_names_no_code", func(t *testing.T) {
		for _, typed := range []string{
			"", "WDJB-MJH", "WDJB-MJHTX", "WDJB-MJH0", "AEIO-UWDJ", "WDJB_MJHT", "WDJB.MJHT",
			"ＷDJB-MJHT",      // a fullwidth letter is not folded
			"\u017fDJB-MJHT", // nor the long s, whose upper case is S
			"WDJB-MJHT" + "\x00", strings.Repeat("W", 100), strings.Repeat(" ", 60) + "WDJBMJHT",
		} {
			if got, ok := NormalizeUserCode(typed); ok {
				t.Errorf("NormalizeUserCode(%q) = %q, want none", typed, got)
			}
		}
	})
	t.Run("RFC8628_6.1/shown_as_XXXX-XXXX", func(t *testing.T) {
		if got := FormatUserCode("WDJBMJHT"); got != "WDJB-MJHT" {
			t.Fatalf("FormatUserCode = %q", got)
		}
	})
	t.Run("user_code_hashes_are_keyed", func(t *testing.T) {
		a, b := &Provider{UserCodeKey: []byte("one")}, &Provider{UserCodeKey: []byte("two")}
		if a.userCodeHash("WDJBMJHT") == b.userCodeHash("WDJBMJHT") || a.userCodeHash("WDJBMJHT") == a.userCodeHash("WDJBMJHB") {
			t.Fatal("user code hashes must depend on the key and the code")
		}
		if a.userCodeHash("WDJBMJHT") != a.userCodeHash("WDJBMJHT") {
			t.Fatal("user code hashes must be stable")
		}
	})
}

// FuzzUserCodeNormalize (SECURITY.md F15): whatever is typed, a code that
// normalizes is 8 letters of the alphabet; normalizing is idempotent and
// survives formatting; and the input holds the code's letters in order,
// each either as is or in lower case, with nothing but spaces and dashes
// besides.
func FuzzUserCodeNormalize(f *testing.F) {
	for _, s := range []string{"WDJB-MJHT", "wdjb mjht", "WDJB\u2013MJHT", "", "ＷDJB-MJHT", "\u017fDJB-MJHT", "WDJB-MJH0", " - - "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		code, ok := NormalizeUserCode(typed)
		if !ok {
			return
		}
		if len(code) != userCodeLength || strings.Trim(code, userCodeAlphabet) != "" {
			t.Fatalf("NormalizeUserCode(%q) = %q: not 8 letters of the alphabet", typed, code)
		}
		for _, again := range []string{code, FormatUserCode(code), strings.ToLower(FormatUserCode(code))} {
			if c, ok := NormalizeUserCode(again); !ok || c != code {
				t.Fatalf("NormalizeUserCode(%q) = %q, %v; want %q", again, c, ok, code)
			}
		}
		letters := strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
				return r
			}
			return -1
		}, typed)
		if strings.ToUpper(letters) != code {
			t.Fatalf("NormalizeUserCode(%q) = %q, but the letters typed are %q", typed, code, letters)
		}
	})
}
