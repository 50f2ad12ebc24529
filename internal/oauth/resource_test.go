package oauth

import (
	"strings"
	"testing"
)

func TestRFC8707_2_ValidResourceURI(t *testing.T) {
	long := "https://api.example/" + strings.Repeat("a", maxResourceLen-len("https://api.example/"))
	for uri, want := range map[string]bool{
		"https://notes.example/api":      true,
		"urn:example:photos":             true,
		"https://notes.example/api?v=2":  true, // SHOULD NOT, but not MUST NOT
		long:                             true, // exactly maxResourceLen bytes
		long + "a":                       false,
		"/api":                           false, // not absolute
		"notes.example":                  false,
		"https://notes.example/#section": false, // MUST NOT include a fragment
		"https://notes.example/#":        false,
		"https://notes.example/\x7f":     false,
		"":                               false,
	} {
		if got := ValidResourceURI(uri); got != want {
			t.Errorf("ValidResourceURI(%.40q) = %v, want %v", uri, got, want)
		}
	}
}
