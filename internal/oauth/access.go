package oauth

import (
	"net/http"
)

// Refusal is why AuthenticateAccess refused a request: Status (401,
// or 400 for a malformed Authorization header, or 5xx) and the RFC 6750
// §3 error code and description. The WWW-Authenticate challenge is
// already set on the response; the caller writes the body, in its own
// format.
type Refusal struct {
	Status            int
	Code, Description string
	server            *Error // a failure of the server, logged once
}

// AuthenticateAccess is the check of a protected resource of this server
// (the admin API): it reads the access token of r (Bearer, or DPoP with its
// proof, RFC 9449 §7), verifies it as introspection does (VerifyAccess) and
// returns what it says. On a refusal it sets the RFC 6750 §3 or RFC 9449
// §7.1 WWW-Authenticate challenge on w and returns why; the caller checks
// the scopes (403 insufficient_scope).
func (p *Provider) AuthenticateAccess(w http.ResponseWriter, r *http.Request) (Introspection, *Refusal) {
	raw, scheme, e := accessToken(w, r)
	if e != nil {
		return inactive, bearerDenied(w, e.Status, e.Code, e.Description)
	}
	if raw == "" {
		// RFC 6750 §3.1: no credentials, so no error code in the challenge.
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey"`)
		return inactive, &Refusal{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "no access token"}
	}
	in, e := p.VerifyAccess(r.Context(), raw)
	if e != nil {
		return inactive, &Refusal{Status: e.Status, Code: e.Code, Description: e.Description, server: e}
	}
	if !in.Active || in.TokenType == "refresh_token" {
		return inactive, bearerDenied(w, http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked")
	}
	jkt := ""
	if in.Cnf != nil {
		jkt = in.Cnf.JKT
	}
	if d := p.dpopCheck(w, r, raw, scheme, jkt); d != nil {
		return inactive, d
	}
	return in, nil
}

// bearerDenied sets RFC 6750 §3's challenge and returns the refusal.
func bearerDenied(w http.ResponseWriter, status int, code, desc string) *Refusal {
	w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey", error="`+code+`", error_description="`+desc+`"`)
	return &Refusal{Status: status, Code: code, Description: desc}
}
