package oauth

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/store"
)

// Cross-origin access to the back-channel endpoints (RFC 9700 §2.6,
// SECURITY.md R12). A browser application (a public client: it has no
// secret to keep) calls /token, /revoke, /par and /device_authorization from
// its own origin; the answer is readable by it only when that origin is
// the origin of one of its registered redirect URIs. The authorization
// endpoint never gets CORS: it is navigated to, not fetched.
//
// The preflight cannot name a client (its body is not sent), so it allows
// any origin to send the POST. That grants nothing a plain form POST could
// not already do: what a preflight guards is reading the answer, and the
// answer carries Access-Control-Allow-Origin only for the client's own
// origins. No cookies are involved (no Allow-Credentials).

// HandlePreflight answers a CORS preflight (OPTIONS) for a back-channel
// endpoint that takes POST.
func (p *Provider) HandlePreflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" || r.Header.Get("Access-Control-Request-Method") != http.MethodPost {
		h.Set("Allow", "POST, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", "POST")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// varyByOrigin marks a back-channel answer as depending on the request's
// Origin, whoever the client turns out to be, so that no cache serves one
// origin's answer to another.
func varyByOrigin(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") != "" {
		w.Header().Add("Vary", "Origin")
	}
}

// allowOrigin lets the page at the request's Origin read this answer when
// it is a public client's own origin.
func allowOrigin(w http.ResponseWriter, r *http.Request, c store.Client) {
	origin := r.Header.Get("Origin")
	if origin == "" || !c.Public || !slices.Contains(redirectOrigins(c), origin) {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	// A DPoP client must read the nonce and the challenge to retry (RFC
	// 9449 §8).
	h.Set("Access-Control-Expose-Headers", "DPoP-Nonce, WWW-Authenticate")
}

var defaultPorts = map[string]string{"http": "80", "https": "443"}

// redirectOrigins are the origins (RFC 6454 §6.1 serialization) of c's
// registered redirect URIs that a browser page can have: http and https.
func redirectOrigins(c store.Client) []string {
	var out []string
	for _, raw := range c.RedirectURIs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			continue
		}
		host := strings.ToLower(u.Hostname())
		if port := u.Port(); port != "" && port != defaultPorts[u.Scheme] {
			host = net.JoinHostPort(host, port)
		} else if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		out = append(out, u.Scheme+"://"+host)
	}
	return out
}
