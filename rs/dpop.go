package rs

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/latchkey/latchkey/dpop"
)

// maxFuture is how far ahead of ours a client's clock may be: a Guard
// keeps proof identifiers in memory only, so a proof dated ahead that it
// saw before a restart must not pass after it. In its first maxFuture it
// therefore asks every proof for a nonce of its own random key
// (use_dpop_nonce, RFC 9449 §9), which no earlier process handed out
// (dpop.Verifier.ProcessNonces); a client retries once and passes.
const maxFuture = 5 * time.Second

// memoryReplayMax bounds the proof identifiers a Guard remembers: a
// resource server has no database, so they are kept in memory, for as long
// as a proof is valid (dpop.MaxAge).
const memoryReplayMax = 1 << 20

// DPoPKey returns the thumbprint of the key the token is bound to (its
// cnf.jkt, RFC 9449 §6), or "" for a bearer token.
func (t *Token) DPoPKey() string {
	cnf, _ := t.Claims["cnf"].(map[string]any)
	jkt, _ := cnf["jkt"].(string)
	return jkt
}

// verifyRequest reads the request's access token, verifies it, and checks
// how it came (RFC 9449 §7): a token bound to a key needs the DPoP scheme
// and a proof of that key for this request (method, URL, ath); a bearer
// token, the Bearer scheme.
func (g *Guard) verifyRequest(r *http.Request) (*Token, *Error) {
	raw, scheme, e := g.accessToken(r)
	if e != nil {
		return nil, e
	}
	tok, e := g.verify(r.Context(), raw)
	if e != nil {
		if scheme == "DPoP" {
			e.dpop = true
		}
		return nil, e
	}
	jkt := tok.DPoPKey()
	switch {
	case jkt == "" && scheme == "DPoP":
		return nil, dpopError(ErrorInvalidToken, "the access token is not bound to a key: send it as a Bearer token")
	case jkt == "":
		return tok, nil
	case scheme != "DPoP":
		// §7.2: a bound token presented as a bearer token is refused.
		return nil, dpopError(ErrorInvalidToken, "the access token is bound to a key: send it with the DPoP scheme and a proof")
	}
	proofs := r.Header.Values(dpop.Header)
	if len(proofs) != 1 {
		return nil, dpopError(ErrorInvalidDPoPProof, "send exactly one DPoP proof")
	}
	proof, err := g.dpop.Verify(r.Context(), proofs[0], dpop.Request{Method: r.Method, URL: g.requestURL(r), AccessToken: raw})
	switch {
	case errors.Is(err, dpop.ErrUseNonce):
		e := dpopError(ErrorUseDPoPNonce, "send the DPoP proof again with the nonce of the DPoP-Nonce header")
		e.nonce = g.dpop.Nonce(g.cfg.Now())
		return nil, e
	case errors.Is(err, dpop.ErrInvalid), errors.Is(err, dpop.ErrReplayed):
		return nil, dpopError(ErrorInvalidDPoPProof, "the DPoP proof is not valid for this request")
	case err != nil:
		return nil, unavailable("the DPoP proof could not be checked", err)
	case proof.JKT != jkt:
		return nil, dpopError(ErrorInvalidToken, "the DPoP proof is not of the key the access token is bound to")
	}
	return tok, nil
}

// requestURL is the URL the client called, as its proof's htu names it
// ("the HTTP target URI ... of the request", RFC 9449 §4.2): the API's own
// origin (Config.Resource, not the Host a proxy may have rewritten) and
// the path of the request target as this server received it, not r.URL's,
// which a handler in front of the Guard (http.StripPrefix) may have cut.
func (g *Guard) requestURL(r *http.Request) string {
	u, err := url.Parse(g.cfg.Resource)
	if err != nil {
		return ""
	}
	path := r.URL.EscapedPath()
	if target, err := url.ParseRequestURI(r.RequestURI); err == nil {
		path = target.EscapedPath()
	}
	return u.Scheme + "://" + u.Host + path
}

func dpopError(code, desc string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: code, Description: desc, dpop: true}
}
