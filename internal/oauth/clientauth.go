package oauth

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// Client authentication methods (RFC 6749 §2.3.1, RFC 7591 §2).
const (
	AuthSecretBasic = "client_secret_basic"
	AuthSecretPost  = "client_secret_post"
	AuthNone        = "none"
)

// clientCredentials are what a request presented to authenticate a client.
type clientCredentials struct {
	method string
	id     string
	secret string
}

// readClientCredentials extracts the client's credentials from the
// Authorization header or the body. RFC 6749 §2.3: "The client MUST NOT use
// more than one authentication method in each request."
func readClientCredentials(r *http.Request, q params) (clientCredentials, *Error) {
	auth, hasAuth := r.Header["Authorization"]
	_, postSecret := q["client_secret"]
	switch {
	case hasAuth && len(auth) > 1:
		return clientCredentials{}, InvalidRequest("more than one Authorization header")
	case hasAuth && postSecret:
		return clientCredentials{}, InvalidRequest("the client used more than one authentication method (RFC 6749 §2.3)")
	case hasAuth:
		id, sec, e := parseBasic(auth[0])
		if e != nil {
			return clientCredentials{}, e
		}
		if bodyID, ok := q["client_id"]; ok && bodyID != id {
			return clientCredentials{}, InvalidRequest("client_id in the body differs from the authenticated client")
		}
		return clientCredentials{method: AuthSecretBasic, id: id, secret: sec}, nil
	case postSecret:
		if q["client_id"] == "" {
			return clientCredentials{}, InvalidRequest("client_secret without client_id")
		}
		return clientCredentials{method: AuthSecretPost, id: q["client_id"], secret: q["client_secret"]}, nil
	case q["client_id"] != "":
		return clientCredentials{method: AuthNone, id: q["client_id"]}, nil
	default:
		return clientCredentials{}, &Error{Code: "invalid_client", Status: http.StatusUnauthorized, Description: "client authentication is required", basicAuth: true}
	}
}

// parseBasic decodes HTTP Basic credentials. RFC 6749 §2.3.1: the client
// identifier and password are each form-urlencoded before being joined.
func parseBasic(h string) (id, sec string, e *Error) {
	bad := &Error{Code: "invalid_client", Status: http.StatusUnauthorized, Description: "malformed Basic credentials", basicAuth: true}
	scheme, payload, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") || len(payload) > 4096 {
		return "", "", bad
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if err != nil {
		return "", "", bad
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", bad
	}
	if id, err = url.QueryUnescape(rawID); err != nil || id == "" {
		return "", "", bad
	}
	if sec, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", bad
	}
	return id, sec, nil
}

// authenticateClient checks the presented credentials against the client's
// registration: confidential clients must prove their secret (compared in
// constant time), public clients must not send one.
func (p *Provider) authenticateClient(ctx context.Context, cred clientCredentials) (store.Client, *Error) {
	fail := &Error{Code: "invalid_client", Status: http.StatusUnauthorized, Description: "client authentication failed", basicAuth: cred.method == AuthSecretBasic}
	client, err := p.Store.GetClient(ctx, cred.id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		// Spend the time of a secret check so that unknown and known ids look alike.
		secret.CheckClientSecret("sha256:", cred.secret)
		return store.Client{}, fail
	}
	if err != nil {
		return store.Client{}, p.storeError(ctx, "get client", err)
	}
	switch {
	case client.Public && cred.method == AuthNone:
		return client, nil
	case client.Public:
		return store.Client{}, fail
	case cred.method == AuthNone:
		return store.Client{}, fail
	case !secret.CheckClientSecret(client.SecretHash, cred.secret):
		p.Logger.InfoContext(ctx, "client authentication failed", "client_id", client.ID, "method", cred.method)
		return store.Client{}, fail
	}
	return client, nil
}
