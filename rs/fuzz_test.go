package rs

import (
	"strings"
	"testing"
)

// FuzzVerify (SECURITY.md F6): whatever the input, Verify does not panic,
// and what it accepts carries the claims the issuer signed: a mutated
// token passes only as another spelling of a signed one.
func FuzzVerify(f *testing.F) {
	iss := newTestIssuer(f)
	g := iss.guard(func(c *Config) { c.ClientID, c.ClientSecret = "", "" })
	for _, raw := range []string{
		iss.token(),
		iss.mint(tokenSpec{header: map[string]any{"typ": "JWT"}}),
		iss.mint(tokenSpec{header: map[string]any{"jku": "https://evil.example"}}),
	} {
		f.Add(raw)
		f.Add(raw + "." + raw)
	}
	f.Add(strings.Repeat(".", 100))
	f.Add("lk_at_opaque")
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := g.Verify(t.Context(), raw)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T", err)
			}
			return
		}
		if tok.Subject != "user-1" || tok.Issuer != iss.URL {
			t.Fatalf("accepted %q as %+v", raw, tok)
		}
	})
}
