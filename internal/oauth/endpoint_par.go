package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// PARPath is the pushed authorization request endpoint's path.
const PARPath = "/par"

// RequestURIPrefix starts every request_uri this server hands out (RFC 9126
// §2.2); the rest is a random lk_ru_ token, stored only as its hash.
const RequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// clientAuthParams are the client authentication parameters of a push,
// which are not authorization parameters and are never stored.
var clientAuthParams = []string{"client_secret", "client_assertion", "client_assertion_type"}

// parResponse is the answer to a push (RFC 9126 §2.2).
type parResponse struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int64  `json:"expires_in"`
}

// HandlePAR is the pushed authorization request endpoint (RFC 9126 §2):
// POST, a url-encoded body, the client authenticated as at the token
// endpoint, then the authorization parameters checked as /authorize checks
// them. The request is stored, keyed by the hash of the request_uri's
// random part, until Tokens.PARTTL has passed; errors are JSON (§2.3),
// never a redirect.
func (p *Provider) HandlePAR(w http.ResponseWriter, r *http.Request) {
	resp, e := p.par(w, r)
	if e != nil {
		if e.Status >= 500 {
			p.Logger.WarnContext(r.Context(), "pushed authorization request failed", "error", e.Code)
		}
		WriteError(w, e)
		return
	}
	WriteJSON(w, http.StatusCreated, resp)
}

func (p *Provider) par(w http.ResponseWriter, r *http.Request) (parResponse, *Error) {
	ctx := r.Context()
	client, q, e := p.backChannel(w, r, false)
	if e != nil {
		return parResponse{}, e
	}
	// §2.1: "The request_uri authorization request parameter is one
	// exception, and it MUST NOT be provided."
	if _, ok := q["request_uri"]; ok {
		return parResponse{}, InvalidRequest("request_uri must not be pushed (RFC 9126 §2.1)")
	}
	o := beingPushed
	if raw, ok := q["request"]; ok {
		// §3: a pushed request object; only its parameters count, and
		// its client must be the authenticated one (iss, client_id).
		if q, e = p.requestObject(ctx, client, raw); e != nil {
			p.Logger.InfoContext(ctx, "pushed request object refused", "client_id", client.ID, "description", e.Description)
			return parResponse{}, e
		}
		o = beingPushedSigned
	}
	for _, k := range clientAuthParams {
		delete(q, k)
	}
	// RFC 9449 §10.1: a DPoP proof with the push binds the code to its
	// key, as dpop_jkt does; when both are sent they must name one key.
	jkt, e := p.postedProof(r, "/par", client)
	if e != nil {
		return parResponse{}, e
	}
	if jkt != "" {
		if named, ok := q["dpop_jkt"]; ok && named != jkt {
			return parResponse{}, InvalidRequest("dpop_jkt does not name the key of the DPoP proof (RFC 9449 §10.1)")
		}
		q["dpop_jkt"] = jkt
	}
	// The authenticated client is the request's (§2.1); with HTTP Basic
	// or an assertion the body may leave client_id out.
	q["client_id"] = client.ID
	pd, _, e := p.authorizeRequest(ctx, q, o)
	if e != nil {
		// §2.3: the authorization endpoint's error codes, as JSON; a bad
		// redirect_uri is invalid_request, as at /authorize.
		p.Logger.InfoContext(ctx, "pushed authorization request refused", "client_id", client.ID, "error", e.Code, "description", e.Description)
		return parResponse{}, e
	}
	raw := secret.New(secret.PrefixRequestURI)
	now := p.Now()
	err := p.Store.CreatePushedRequest(ctx, store.PushedRequest{
		Hash:      secret.Hash(string(raw)),
		ClientID:  pd.Client.ID,
		Params:    encodeParams(q),
		CreatedAt: now,
		ExpiresAt: now.Add(p.Tokens.PARTTL),
	})
	if err != nil {
		return parResponse{}, p.storeError(ctx, "create pushed request", err)
	}
	p.Logger.InfoContext(ctx, "authorization request pushed", "client_id", pd.Client.ID)
	return parResponse{RequestURI: RequestURIPrefix + string(raw), ExpiresIn: int64(p.Tokens.PARTTL.Seconds())}, nil
}

// encodeParams url-encodes q as parseParams reads it back: byte for byte,
// the resource values each on its own.
func encodeParams(q params) string {
	v := url.Values{}
	for k := range q {
		if k == paramResource {
			v[k] = q.list(k)
			continue
		}
		v.Set(k, q[k])
	}
	return v.Encode()
}

// requiresPAR reports whether the client may only send pushed requests
// (RFC 9126 §5, §6): the server, the client or its profile requires them
// (FAPI 2.0 §5.3.2.2: "shall reject authorization requests sent without
// [RFC9126]").
func (p *Provider) requiresPAR(c store.Client) bool {
	return p.RequirePAR || c.RequirePushedAuthorizationRequests || isFAPI2(c)
}

// pushedRequest resolves an authorization request that names a
// request_uri (RFC 9126 §4): the pushed request of the client_id sent
// with it, unused and unexpired, which it consumes. The parameters sent
// beside client_id and request_uri must equal the pushed ones; an equal
// duplicate is tolerated, a differing or added one refused. Every error
// here is shown on a page: no redirect URI is trusted yet.
func (p *Provider) pushedRequest(r *http.Request, front params) (params, *Error) {
	ctx := r.Context()
	clientID := front["client_id"]
	if clientID == "" {
		return nil, InvalidRequest("client_id is missing (RFC 9126 §4)")
	}
	ref, ok := strings.CutPrefix(front["request_uri"], RequestURIPrefix)
	if !ok || !secret.HasPrefix(ref, secret.PrefixRequestURI) {
		// Any other artifact (a code, a token, a foreign URI) is refused
		// before any lookup (SECURITY.md C10).
		return nil, invalidRequestURI("request_uri is not one this server issued")
	}
	pr, err := p.Store.ConsumePushedRequest(ctx, secret.Hash(ref), clientID, p.Now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, invalidRequestURI("request_uri is unknown or was pushed by another client")
	case errors.Is(err, store.ErrAlreadyUsed):
		return nil, invalidRequestURI("request_uri was already used or has expired; push the request again")
	case err != nil:
		return nil, p.storeError(ctx, "consume pushed request", err)
	}
	pushed, _, e := parseParams(pr.Params)
	if e != nil {
		return nil, p.storeError(ctx, "parse pushed request", errors.New(e.Description))
	}
	for k, v := range front {
		if k == "client_id" || k == "request_uri" {
			continue
		}
		if pv, ok := pushed[k]; !ok || pv != v {
			p.Logger.InfoContext(ctx, "authorization request conflicts with its pushed request", "client_id", clientID, "parameter", safeName(k))
			return nil, InvalidRequest("parameter %s differs from the pushed request (RFC 9126 §4)", safeName(k))
		}
	}
	return pushed, nil
}

// invalidRequestURI is the error for a request_uri that cannot be used
// (OpenID Connect Core §6.2; RFC 9126 §4).
func invalidRequestURI(description string) *Error {
	return newError("invalid_request_uri", 400, "%s", description)
}
