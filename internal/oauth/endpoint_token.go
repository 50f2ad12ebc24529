package oauth

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/store"
)

// tokenRequest is a token request whose client is authenticated.
type tokenRequest struct {
	client    store.Client
	q         params
	address   string // the client's network address, for throttling and the device list
	userAgent string // describes a device the password grant starts
	// jkt is the thumbprint of the key of the request's DPoP proof (RFC
	// 9449): the tokens issued are bound to it. Empty: bearer tokens.
	jkt string
}

// grantHandler runs one grant type.
type grantHandler func(ctx context.Context, req tokenRequest) (TokenResponse, *Error)

// HandleToken is the token endpoint (RFC 6749 §3.2): POST only, parameters
// in a url-encoded body, the client authenticated, then the grant_type's
// handler from the dispatch table.
func (p *Provider) HandleToken(w http.ResponseWriter, r *http.Request) {
	resp, e := p.token(w, r)
	if e != nil {
		if e.Status >= 500 {
			p.Logger.WarnContext(r.Context(), "token request failed", "error", e.Code)
		}
		WriteError(w, e)
		return
	}
	WriteJSON(w, http.StatusOK, resp)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) (TokenResponse, *Error) {
	client, q, e := p.backChannel(w, r, false)
	if e != nil {
		return TokenResponse{}, e
	}
	gt := q["grant_type"]
	if gt == "" {
		return TokenResponse{}, InvalidRequest("grant_type is missing")
	}
	handler, ok := p.grants[gt]
	if !ok {
		return TokenResponse{}, UnsupportedGrantType("unsupported grant_type")
	}
	if !AllowsGrant(client, gt) {
		return TokenResponse{}, UnauthorizedClient("this client may not use this grant type")
	}
	jkt, e := p.dpopAtToken(w, r, client)
	if e != nil {
		return TokenResponse{}, e
	}
	resp, e := handler(r.Context(), tokenRequest{client: client, q: q, address: clientip.Of(r), userAgent: r.UserAgent(), jkt: jkt})
	if e == nil {
		p.Metrics.TokenIssued(grantName(gt), p.accessFormat(client), client.ID)
	}
	return resp, e
}

// WriteError writes a back-channel error (RFC 6749 §5.2): JSON, no-store,
// 401 with WWW-Authenticate for invalid_client under Basic.
func WriteError(w http.ResponseWriter, e *Error) {
	if e.basicAuth {
		w.Header().Set("WWW-Authenticate", `Basic realm="latchkey", charset="UTF-8"`)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if e.dpopNonce != "" {
		w.Header().Set(dpop.NonceHeader, e.dpopNonce)
	}
	WriteJSON(w, e.Status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.Code, e.Description})
}

// WriteJSON writes v with the headers every token-endpoint answer carries
// (RFC 6749 §5.1: Cache-Control: no-store, Pragma: no-cache), as the other
// back-channel answers that hand out credentials do (the registration
// endpoint's too, RFC 7591 §3.2.1).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	w.Write(body)
}
