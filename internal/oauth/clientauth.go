package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// Client authentication methods (RFC 6749 §2.3.1, RFC 7591 §2).
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthNone          = "none"
	AuthPrivateKeyJWT = "private_key_jwt"
)

// clientCredentials are what a request presented to authenticate a client.
type clientCredentials struct {
	method   string
	id       string
	secret   string // the client secret, or the client assertion
	endpoint string // URL of the endpoint called, an acceptable assertion aud
	address  string // the caller's network address, for throttling
}

// readClientCredentials extracts the client's credentials from the
// Authorization header or the body. RFC 6749 §2.3: "The client MUST NOT use
// more than one authentication method in each request."
func readClientCredentials(r *http.Request, q params) (clientCredentials, *Error) {
	auth, hasAuth := r.Header["Authorization"]
	_, postSecret := q["client_secret"]
	_, hasAssertion := q["client_assertion"]
	_, hasAssertionType := q["client_assertion_type"]
	if hasAssertion || hasAssertionType {
		if hasAuth || postSecret {
			return clientCredentials{}, InvalidRequest("the client used more than one authentication method (RFC 6749 §2.3)")
		}
		return readAssertion(q)
	}
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

// readAssertion reads a client assertion (RFC 7521 §4.2). The client is
// named by client_id or, without it, by the assertion's unverified sub; the
// signature is checked later against that client's keys.
func readAssertion(q params) (clientCredentials, *Error) {
	if q["client_assertion_type"] != assertionType {
		return clientCredentials{}, InvalidRequest("client_assertion_type must be %s", assertionType)
	}
	assertion := q["client_assertion"]
	if assertion == "" {
		return clientCredentials{}, InvalidRequest("client_assertion is missing")
	}
	id := q["client_id"]
	sub, ok := unverifiedSubject(assertion)
	if !ok || id != "" && id != sub {
		return clientCredentials{}, InvalidClient("malformed client assertion")
	}
	return clientCredentials{method: AuthPrivateKeyJWT, id: sub, secret: assertion}, nil
}

// unverifiedSubject reads the sub claim of a compact JWT without verifying
// it, only to know which client's keys to verify it with.
func unverifiedSubject(compact string) (string, bool) {
	parts := strings.Split(compact, ".")
	if len(compact) > maxAssertionBytes || len(parts) != 3 {
		return "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Sub == "" {
		return "", false
	}
	return c.Sub, true
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

// Limits on guessing client secrets (RFC 6749 §2.3.1: the server "MUST
// protect any endpoint utilizing it against brute force attacks"). Only
// failures count, so a client's own calls never use up its budget.
const (
	// Per client id and address: 20 failures a minute lock that address
	// out of that client id.
	clientAuthFailures = 20
	clientAuthWindow   = time.Minute
	// Per client id from everywhere: past 100 failures a minute, an
	// address that has failed for it at all is refused before any check;
	// the client's own, not failing, still gets in.
	clientWideFailures = 100
	// Per address, whatever the client id (unknown ids included): 100
	// failures a minute.
	clientAddressFailures = 100
)

// clientThrottles are the three counters of failed client authentications.
type clientThrottles struct {
	pair, client, address *Throttle
}

func newClientThrottles() clientThrottles {
	return clientThrottles{
		pair:    NewThrottle("client-pair", clientAuthFailures, clientAuthWindow, throttleKeys),
		client:  NewThrottle("client-id", clientWideFailures, clientAuthWindow, throttleKeys),
		address: NewThrottle("client-address", clientAddressFailures, clientAuthWindow, throttleKeys),
	}
}

// authenticateClient checks the presented credentials against the client's
// registration: confidential clients must prove their secret (compared in
// constant time), public clients must not send one. A failure is reserved
// for the client id and address, and for the address, before the check
// (which may hash), and given back if the check passes; an address over
// its limits is refused with 429 before any check.
func (p *Provider) authenticateClient(ctx context.Context, cred clientCredentials) (store.Client, *Error) {
	pair := cred.id + " " + cred.address
	now := p.Now()
	tooMany := func(wait time.Duration) *Error {
		p.Logger.WarnContext(ctx, "client authentication throttled", "client_id", cred.id, "client", cred.address)
		p.Metrics.Throttled("client_authentication")
		return &Error{Code: "invalid_client", Status: http.StatusTooManyRequests,
			Description: "too many failed client authentications; retry later", RetryAfter: int(wait/time.Second) + 1}
	}
	t := p.clientFailures
	if over, wait := t.client.Exceeded(cred.id, now); over && t.pair.Failures(pair, now) > 0 {
		return store.Client{}, tooMany(wait)
	}
	ok, wait := t.address.Reserve(cred.address, now)
	if !ok {
		return store.Client{}, tooMany(wait)
	}
	if ok, wait = t.pair.Reserve(pair, now); !ok {
		t.address.Release(cred.address)
		return store.Client{}, tooMany(wait)
	}
	client, e := p.checkClient(ctx, cred)
	if e != nil && e.Code == "invalid_client" {
		t.client.Reserve(cred.id, now)
		return client, e
	}
	t.address.Release(cred.address)
	t.pair.Release(pair)
	if e == nil {
		p.noteUse(ctx, client)
	}
	return client, e
}

func (p *Provider) checkClient(ctx context.Context, cred clientCredentials) (store.Client, *Error) {
	fail := &Error{Code: "invalid_client", Status: http.StatusUnauthorized, Description: "client authentication failed", basicAuth: cred.method == AuthSecretBasic}
	client, err := p.clients.Get(ctx, cred.id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		// Spend the time of the check this secret would get, so that
		// unknown and known ids look alike.
		if cred.method == AuthSecretBasic || cred.method == AuthSecretPost {
			if _, e := p.checkSecret(ctx, dummySecretHash(cred.secret), cred.secret); e != nil {
				return store.Client{}, e
			}
		}
		return store.Client{}, fail
	}
	if err != nil {
		return store.Client{}, p.storeError(ctx, "get client", err)
	}
	registered := client.TokenEndpointAuthMethod
	switch {
	case client.Public && cred.method == AuthNone:
		return client, nil
	case client.Public, cred.method == AuthNone:
		return store.Client{}, fail
	case registered != "" && registered != cred.method, isFAPI2(client) && cred.method != AuthPrivateKeyJWT:
		p.Logger.InfoContext(ctx, "client used an authentication method it is not registered for", "client_id", client.ID, "method", cred.method)
		return store.Client{}, fail
	case cred.method == AuthPrivateKeyJWT:
		if err := p.verifyAssertion(ctx, client, cred.secret, cred.endpoint); err != nil {
			p.Logger.InfoContext(ctx, "client assertion refused", "client_id", client.ID, "reason", err.Error())
			return store.Client{}, fail
		}
		return client, nil
	}
	ok, e := p.checkSecret(ctx, client.SecretHash, cred.secret)
	if e != nil {
		return store.Client{}, e
	}
	if !ok {
		p.Logger.InfoContext(ctx, "client authentication failed", "client_id", client.ID, "method", cred.method)
		return store.Client{}, fail
	}
	return client, nil
}

// checkSecret compares a presented secret with its stored verifier; an
// argon2id verifier (an imported secret) is checked through the hash gate.
func (p *Provider) checkSecret(ctx context.Context, stored, presented string) (bool, *Error) {
	if !strings.HasPrefix(stored, "$argon2id$") {
		return secret.CheckClientSecret(stored, presented), nil
	}
	var ok bool
	err := p.Passwords.Gate.Do(ctx, func() { ok = secret.CheckClientSecret(stored, presented) })
	if err != nil {
		p.Logger.WarnContext(ctx, "client secret not checked: the hash gate is full", "err", err)
		return false, TemporarilyUnavailable()
	}
	return ok, nil
}

// dummySecretHash is what an unknown client id's secret is checked
// against: a generated secret (lk_cs_...) could only match a SHA-256
// verifier, any other only an imported, argon2id one. The time of a
// failure then depends on the secret presented, never on whether the id
// exists.
func dummySecretHash(presented string) string {
	if secret.HasPrefix(presented, secret.PrefixClientSecret) {
		return "sha256:" + strings.Repeat("0", 64)
	}
	return secret.DummyPasswordHash()
}
