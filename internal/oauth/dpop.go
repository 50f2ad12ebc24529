package oauth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/store"
)

// invalidDPoPProof is RFC 9449 §5's error for a proof that is missing,
// malformed or of the wrong key at the token endpoint.
func invalidDPoPProof(desc string) *Error {
	return &Error{Code: "invalid_dpop_proof", Status: http.StatusBadRequest, Description: desc}
}

// dpopAtToken verifies the DPoP proof of a token request, if it has one
// (RFC 9449 §5), and returns its key's thumbprint; "" when the request
// has none. With server nonces on, every answer carries the current nonce.
func (p *Provider) dpopAtToken(w http.ResponseWriter, r *http.Request, client store.Client) (string, *Error) {
	if p.DPoP == nil {
		if requiresDPoP(client) {
			return "", invalidDPoPProof("DPoP is not available on this server")
		}
		return "", nil
	}
	if p.DPoP.RequireNonce {
		w.Header().Set(dpop.NonceHeader, p.DPoP.Nonce(p.Now()))
	}
	jkt, e := p.postedProof(r, "/token", client)
	if e == nil && jkt == "" && requiresDPoP(client) {
		// §5.2: "the authorization server MUST reject token requests from
		// this client that do not contain the DPoP header".
		return "", invalidDPoPProof("this client's tokens must be DPoP-bound: send a DPoP proof")
	}
	return jkt, e
}

// requiresDPoP reports whether every token of the client must be
// DPoP-bound: it registered dpop_bound_access_tokens, or its profile
// requires sender-constrained tokens (FAPI 2.0 §5.3.2.1: "shall only issue
// sender-constrained access tokens"; DPoP is the one method here).
func requiresDPoP(c store.Client) bool { return c.DPoPBoundAccessTokens || isFAPI2(c) }

// postedProof verifies the DPoP proof of client's POST to this server's
// path (the token endpoint, /par) and returns its key's thumbprint; ""
// when the request carries none or DPoP is off.
func (p *Provider) postedProof(r *http.Request, path string, client store.Client) (string, *Error) {
	proofs := r.Header.Values(dpop.Header)
	switch {
	case p.DPoP == nil || len(proofs) == 0:
		return "", nil
	case len(proofs) > 1:
		return "", invalidDPoPProof("more than one DPoP header")
	}
	proof, err := p.DPoP.Verify(r.Context(), proofs[0], dpop.Request{Method: http.MethodPost, URL: p.Issuer + path})
	if e := p.dpopError(r.Context(), err); e != nil {
		return "", e
	}
	// FAPI 2.0 §5.4.1: PS256, ES256 or EdDSA, for DPoP proofs too.
	if !slices.Contains(allowedAlgs(client, dpop.Algs), proof.Alg) {
		return "", invalidDPoPProof("this client's DPoP proofs must be signed with one of " + strings.Join(allowedAlgs(client, dpop.Algs), ", "))
	}
	return proof.JKT, nil
}

// dpopError maps a verification failure to the token endpoint's answer:
// use_dpop_nonce with the current nonce, or invalid_dpop_proof; a store
// failure is the server's.
func (p *Provider) dpopError(ctx context.Context, err error) *Error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, dpop.ErrUseNonce):
		return &Error{Code: "use_dpop_nonce", Status: http.StatusBadRequest,
			Description: "send a DPoP proof with the nonce of the DPoP-Nonce header", dpopNonce: p.DPoP.Nonce(p.Now())}
	case errors.Is(err, dpop.ErrInvalid), errors.Is(err, dpop.ErrReplayed):
		return invalidDPoPProof(err.Error())
	}
	return p.storeError(ctx, "check DPoP proof", err)
}

// dpopAtResource checks how an access token bound to jkt ("" for a bearer
// token) was presented at a protected endpoint of this server (/userinfo),
// as RFC 9449 §7 says: a bound token needs the DPoP scheme and a proof of
// its key for this request, with ath; a bearer token, the Bearer scheme. It
// answers the error itself (401 with WWW-Authenticate) and reports false.
func (p *Provider) dpopAtResource(w http.ResponseWriter, r *http.Request, raw, scheme, jkt string) bool {
	d := p.dpopCheck(w, r, raw, scheme, jkt)
	switch {
	case d == nil:
		return true
	case d.server != nil:
		WriteError(w, d.server)
	default:
		WriteJSON(w, d.Status, struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}{d.Code, d.Description})
	}
	return false
}

// dpopCheck is dpopAtResource without the body: on a refusal it sets the
// RFC 9449 §7.1 challenge (and a DPoP-Nonce) on w and returns why.
func (p *Provider) dpopCheck(w http.ResponseWriter, r *http.Request, raw, scheme, jkt string) *Refusal {
	switch {
	case jkt == "" && scheme == "DPoP":
		return dpopDenied(w, "invalid_token", "the access token is not bound to a DPoP key: send it as a Bearer token")
	case jkt == "":
		return nil
	case scheme != "DPoP" || p.DPoP == nil:
		// §7.2: a bound token presented as a bearer token is refused.
		return dpopDenied(w, "invalid_token", "the access token is bound to a DPoP key: send it with the DPoP scheme and a proof")
	}
	proofs := r.Header.Values(dpop.Header)
	if len(proofs) != 1 {
		return dpopDenied(w, "invalid_dpop_proof", "send exactly one DPoP proof")
	}
	proof, err := p.DPoP.Verify(r.Context(), proofs[0], dpop.Request{Method: r.Method, URL: p.Issuer + r.URL.Path, AccessToken: raw})
	// The token endpoint's classification of the failure (dpopError),
	// answered in a resource's way: a 401 challenge, or the server's error.
	if e := p.dpopError(r.Context(), err); e != nil {
		if e.Status >= 500 {
			return &Refusal{Status: e.Status, Code: e.Code, Description: e.Description, server: e}
		}
		if e.dpopNonce != "" {
			w.Header().Set(dpop.NonceHeader, e.dpopNonce)
		}
		return dpopDenied(w, e.Code, e.Description)
	}
	if proof.JKT != jkt {
		return dpopDenied(w, "invalid_token", "the DPoP proof is not of the key the access token is bound to")
	}
	return nil
}

// dpopDenied sets RFC 9449 §7.1's WWW-Authenticate (the DPoP scheme, the
// error, the algorithms accepted) and returns the 401 refusal.
func dpopDenied(w http.ResponseWriter, code, desc string) *Refusal {
	desc = strings.ReplaceAll(desc, `"`, `'`)
	w.Header().Set("WWW-Authenticate", `DPoP error="`+code+`", error_description="`+desc+`", algs="`+strings.Join(dpop.Algs, " ")+`"`)
	return &Refusal{Status: http.StatusUnauthorized, Code: code, Description: desc}
}
