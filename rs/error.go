package rs

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/dpop"
)

// Error codes of RFC 6750 §3.1, and the one this package adds for an
// authorization server it cannot reach.
const (
	ErrorInvalidRequest = "invalid_request"
	ErrorInvalidToken   = "invalid_token"
	// ErrorInvalidDPoPProof: the DPoP proof of a key-bound token is
	// missing or wrong (RFC 9449 §7.1).
	ErrorInvalidDPoPProof = "invalid_dpop_proof"
	// ErrorUseDPoPNonce: send the proof again with the nonce of the
	// DPoP-Nonce header (RFC 9449 §9). A Guard asks for one only in its
	// first seconds after a start, when a proof without it could be one
	// seen before the restart.
	ErrorUseDPoPNonce      = "use_dpop_nonce"
	ErrorInsufficientScope = "insufficient_scope"
	// ErrorUnavailable (status 503): the token could not be checked
	// because the authorization server's metadata, keys or introspection
	// endpoint could not be reached. It says nothing about the token.
	ErrorUnavailable = "temporarily_unavailable"
)

// Error is why a request was refused: what Verify returns and what the
// middleware answers. Code is empty when the request carried no access
// token at all (RFC 6750 §3.1: then the challenge "SHOULD NOT include an
// error code or other error information"). Description is fixed text,
// never the token.
type Error struct {
	Status      int    // 400, 401, 403 or 503
	Code        string // ErrorInvalidRequest, ErrorInvalidToken, ErrorInsufficientScope, ErrorUnavailable or ""
	Description string
	Scope       string // insufficient_scope: the scopes the request needs, space-separated
	cause       error  // for logs: why the authorization server could not be used
	// dpop: answered with the DPoP scheme (RFC 9449 §7.1), for a token
	// bound to a key; nonce, sent in DPoP-Nonce (§9).
	dpop  bool
	nonce string
}

func (e *Error) Error() string {
	code := e.Code
	if code == "" {
		code = "no access token"
	}
	msg := "rs: " + code
	if e.Description != "" {
		msg += ": " + e.Description
	}
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

// Unwrap returns the cause of an ErrorUnavailable, for logs.
func (e *Error) Unwrap() error { return e.cause }

func noToken() *Error {
	return &Error{Status: http.StatusUnauthorized, Description: "an access token is required"}
}

func invalidRequest(desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: ErrorInvalidRequest, Description: desc}
}

func invalidToken(desc string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: ErrorInvalidToken, Description: desc}
}

func insufficientScope(scope string) *Error {
	return &Error{Status: http.StatusForbidden, Code: ErrorInsufficientScope,
		Description: "the access token lacks a scope this request needs", Scope: scope}
}

func unavailable(desc string, cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: ErrorUnavailable, Description: desc, cause: cause}
}

// WriteError answers err (an *Error; anything else is answered as
// ErrorUnavailable) the way the middleware does: the status, a Bearer
// challenge in WWW-Authenticate (RFC 6750 §3) carrying resource_metadata
// (RFC 9728 §5.1), and a small JSON body that is never cached.
func (g *Guard) WriteError(w http.ResponseWriter, err error) {
	e, ok := err.(*Error)
	if !ok {
		e = unavailable("the access token could not be checked", err)
	}
	h := w.Header()
	if e.Status != http.StatusServiceUnavailable {
		h.Set("WWW-Authenticate", g.challenge(e))
	}
	if e.nonce != "" {
		h.Set(dpop.NonceHeader, e.nonce)
	}
	h.Set("Cache-Control", "no-store")
	if e.Code == "" {
		w.WriteHeader(e.Status)
		return
	}
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
		Scope       string `json:"scope,omitempty"`
	}{e.Code, e.Description, e.Scope})
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	w.Write(body)
}

// challenge is the WWW-Authenticate value for e (RFC 6750 §3): realm, the
// error attributes unless the request had no token (§3.1), the scope a
// token needs (§3), and the metadata URL (RFC 9728 §5.1).
func (g *Guard) challenge(e *Error) string {
	var b strings.Builder
	if e.dpop {
		b.WriteString(`DPoP algs="` + strings.Join(dpop.Algs, " ") + `", realm=`)
	} else {
		b.WriteString(`Bearer realm=`)
	}
	quote(&b, g.cfg.Realm, false)
	if e.Code != "" {
		b.WriteString(`, error=`)
		quote(&b, e.Code, true)
		if e.Description != "" {
			b.WriteString(`, error_description=`)
			quote(&b, e.Description, true)
		}
	}
	if e.Scope != "" {
		b.WriteString(`, scope=`)
		quote(&b, e.Scope, true)
	}
	b.WriteString(`, resource_metadata=`)
	quote(&b, g.metadataURL, false)
	return b.String()
}

// quote writes s as a quoted-string (RFC 9110 §5.6.4). strict applies RFC
// 6750 §3's narrower set for error, error_description and scope ("MUST NOT
// include characters outside the set %x20-21 / %x23-5B / %x5D-7E"): '"'
// and '\' are dropped rather than escaped. Control characters, which no
// quoted-string may hold, are dropped in both.
func quote(b *strings.Builder, s string, strict bool) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			if !strict {
				b.WriteByte('\\')
				b.WriteByte(c)
			}
		case c == '\t' && !strict, c >= 0x20 && c <= 0x7e:
			b.WriteByte(c)
		case c >= 0x80 && !strict:
			b.WriteByte(c) // obs-text
		}
	}
	b.WriteByte('"')
}
