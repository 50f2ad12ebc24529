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

func TestRFC8707_2_RepeatedResourceParameters(t *testing.T) {
	many := func(n int) string {
		return strings.Repeat("resource=urn%3Ar&", n) + "scope=notes.read"
	}
	q, dup, e := parseParams(many(maxResources))
	if e != nil || dup != "" || len(q.list(paramResource)) != maxResources {
		t.Fatalf("%d resource parameters: %v, dup %q, %d values", maxResources, e, dup, len(q.list(paramResource)))
	}
	if _, _, e := parseParams(many(maxResources + 1)); e == nil || e.Code != "invalid_target" {
		t.Fatalf("%d resource parameters: %v, want invalid_target", maxResources+1, e)
	}
	// Empty values are omitted (RFC 6749 §3.1), and the order is kept.
	q, _, _ = parseParams("resource=urn%3Ab&resource=&resource=urn%3Aa")
	if got := q.list(paramResource); len(got) != 2 || got[0] != "urn:b" || got[1] != "urn:a" {
		t.Fatalf("list %q", got)
	}
	if q, _, _ := parseParams("scope=x"); q.list(paramResource) != nil {
		t.Fatal("no resource parameter must list nothing")
	}
}
