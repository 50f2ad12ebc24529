package oauth

import (
	"net/http"
)

// AuthenticateAccess is the check of a protected resource of this server
// (the admin API): it reads the access token of r (Bearer, or DPoP with its
// proof, RFC 9449 §7), verifies it as introspection does (VerifyAccess) and
// returns what it says. On failure it has answered 401 with the RFC 6750
// §3 or RFC 9449 §7.1 WWW-Authenticate challenge (or a server error) and
// returns false. The caller checks the scopes (403 insufficient_scope).
func (p *Provider) AuthenticateAccess(w http.ResponseWriter, r *http.Request) (Introspection, bool) {
	raw, scheme, e := accessToken(w, r)
	if e != nil {
		bearerError(w, e.Status, e.Code, e.Description)
		return inactive, false
	}
	if raw == "" {
		// RFC 6750 §3.1: no credentials, so no error code.
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey"`)
		writeJSON(w, http.StatusUnauthorized, struct {
			Error string `json:"error"`
		}{"invalid_token"})
		return inactive, false
	}
	in, e := p.VerifyAccess(r.Context(), raw)
	if e != nil {
		WriteError(w, e)
		return inactive, false
	}
	if !in.Active || in.TokenType == "refresh_token" {
		bearerError(w, http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked")
		return inactive, false
	}
	jkt := ""
	if in.Cnf != nil {
		jkt = in.Cnf.JKT
	}
	if !p.dpopAtResource(w, r, raw, scheme, jkt) {
		return inactive, false
	}
	return in, true
}
