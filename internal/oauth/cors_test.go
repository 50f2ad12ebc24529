package oauth

import (
	"slices"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// TestRFC6454_6_1_RedirectOrigins: an origin is serialized as the browser
// sends it in Origin: scheme, lower-case host, and a port only when it is
// not the scheme's default.
func TestRFC6454_6_1_RedirectOrigins(t *testing.T) {
	c := store.Client{RedirectURIs: []string{
		"https://SPA.example:443/cb", "http://127.0.0.1:8080/cb", "http://localhost:80/x",
		"https://[::1]:8443/cb", "https://[::1]/cb", "com.example.app:/cb", "https://spa.example/other",
	}}
	want := []string{"https://spa.example", "http://127.0.0.1:8080", "http://localhost", "https://[::1]:8443", "https://[::1]", "https://spa.example"}
	if got := redirectOrigins(c); !slices.Equal(got, want) {
		t.Fatalf("origins %q, want %q", got, want)
	}
}
