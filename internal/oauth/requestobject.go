package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/internal/store"
)

// Request objects (RFC 9101): the authorization request's parameters as a
// JWT the client signs with one of its registered keys (the keys of
// private_key_jwt), so that nothing between the client and this server
// (the browser, an extension, a proxy) can change them unseen.
const (
	// requestObjectType is the explicit type RFC 9101 §10.8 recommends.
	requestObjectType        = "oauth-authz-req+jwt"
	maxRequestObjectBytes    = 16 << 10
	maxRequestObjectLifetime = time.Hour
)

// RequestObjectAlgs are the algorithms a request object may be signed with
// (request_object_signing_alg_values_supported): the asymmetric ones of
// client assertions. "none" is not among them (RFC 9101 §6.3 leaves
// unsigned objects to the server; this one refuses them: they protect
// nothing).
var RequestObjectAlgs = ClientAssertionAlgs

// jwtClaimNames are the JWT claims of a request object, checked as such and
// never read as authorization parameters.
var jwtClaimNames = []string{"iss", "aud", "exp", "nbf", "iat", "jti", "sub"}

// invalidRequestObject is the error for a request object that cannot be
// used (RFC 9101 §6.3, OpenID Connect Core §6.2).
func invalidRequestObject(format string, args ...any) *Error {
	return newError("invalid_request_object", 400, format, args...)
}

// origin is how an authorization request's parameters arrived, which is
// what the client's requirements (RFC 9126 §6, RFC 9101 §10.5) are checked
// against.
type origin int

const (
	sentDirectly      origin = iota // parameters sent to /authorize
	sentSigned                      // a request object sent to /authorize
	beingPushed                     // parameters pushed to /par
	beingPushedSigned               // a request object pushed to /par
	pushedBefore                    // named by a request_uri: the push was held to the requirements
)

func (o origin) pushed() bool   { return o >= beingPushed }
func (o origin) unsigned() bool { return o == sentDirectly || o == beingPushed }

// frontRequestObject resolves a request object sent to /authorize (RFC
// 9101 §5): client_id beside it names the client whose keys must verify
// it. Only the object's parameters count ("the authorization server MUST
// only use the parameters in the Request Object"); the others sent beside
// it are ignored. Every error here is shown on a page: no redirect URI is
// trusted before the object is verified.
func (p *Provider) frontRequestObject(ctx context.Context, front params) (params, *Error) {
	clientID := front["client_id"]
	if clientID == "" {
		return nil, InvalidRequest("client_id is missing (RFC 9101 §5: it is sent beside the request object)")
	}
	client, e := p.requestingClient(ctx, clientID)
	if e != nil {
		return nil, e
	}
	return p.requestObject(ctx, client, front["request"])
}

// requestObject verifies a request object of client c and returns the
// authorization parameters it carries, client_id included (RFC 9101 §6):
// signed with an allowed asymmetric algorithm by one of the client's keys,
// iss the client, aud this server's issuer identifier, an exp at most an
// hour ahead, an nbf (when present) that has passed and is at most an hour
// old, and no request or request_uri inside.
func (p *Provider) requestObject(ctx context.Context, c store.Client, raw string) (params, *Error) {
	if len(raw) > maxRequestObjectBytes {
		return nil, invalidRequestObject("the request object is larger than %d KiB", maxRequestObjectBytes>>10)
	}
	switch strings.Count(raw, ".") {
	case 2:
	case 4:
		return nil, invalidRequestObject("encrypted request objects are not supported: send it signed only")
	default:
		return nil, invalidRequestObject("the request object is not a compact JWS")
	}
	algs := allowedAlgs(c, RequestObjectAlgs)
	tok, err := jwt.ParseSigned(raw, joseAlgs(algs))
	if err != nil || len(tok.Headers) != 1 {
		return nil, invalidRequestObject("the request object must be a JWT signed with one of %s (unsigned objects are refused)", strings.Join(algs, ", "))
	}
	if typ, ok := tok.Headers[0].ExtraHeaders[jose.HeaderType].(string); ok && !requestObjectTypeOK(typ) {
		// Explicit typing (RFC 9101 §10.8): a DPoP proof, an access token
		// or an assertion is not a request object.
		return nil, invalidRequestObject("the request object's typ must be %s", requestObjectType)
	}
	var std jwt.Claims
	var claims map[string]json.RawMessage
	if err := p.verifyWithClientKeys(ctx, c, tok, &std, &claims); err != nil {
		p.Logger.InfoContext(ctx, "request object refused", "client_id", c.ID, "reason", err.Error())
		return nil, invalidRequestObject("the request object is not signed by a key registered for this client")
	}
	if err := p.requestObjectClaimsOK(c, std); err != nil {
		p.Logger.InfoContext(ctx, "request object refused", "client_id", c.ID, "reason", err.Error())
		return nil, invalidRequestObject("%v", err)
	}
	q, err := requestObjectParams(claims)
	if err != nil {
		return nil, invalidRequestObject("%v", err)
	}
	if id, ok := q["client_id"]; ok && id != c.ID {
		// §5: "the value of the client_id ... MUST match".
		return nil, invalidRequestObject("the request object's client_id is not the client's")
	}
	q["client_id"] = c.ID
	return q, nil
}

// requestObjectTypeOK accepts RFC 9101's type, with or without the
// application/ prefix (RFC 7515 §4.1.9), and the plain JWT of clients
// written before it.
func requestObjectTypeOK(typ string) bool {
	typ = strings.TrimPrefix(strings.ToLower(typ), "application/")
	return typ == requestObjectType || typ == "jwt"
}

// requestObjectClaimsOK checks the JWT claims of a verified request object.
func (p *Provider) requestObjectClaimsOK(c store.Client, std jwt.Claims) error {
	now := p.Now()
	switch {
	case std.Issuer != c.ID:
		return errors.New("the request object's iss must be the client_id")
	case !slices.Contains([]string(std.Audience), p.Issuer):
		return errors.New("the request object's aud must be this server's issuer identifier")
	case std.Expiry == nil:
		return errors.New("the request object needs exp")
	case std.Expiry.Time().After(now.Add(maxRequestObjectLifetime + assertionLeeway)):
		return errors.New("the request object's exp is more than an hour ahead")
	case std.NotBefore != nil && std.NotBefore.Time().Before(now.Add(-maxRequestObjectLifetime)):
		return errors.New("the request object's nbf is more than an hour old")
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Time: now}, assertionLeeway); err != nil {
		return fmt.Errorf("the request object is expired or not yet valid: %w", err)
	}
	return nil
}

// requestObjectParams turns a request object's claims into authorization
// parameters, as the same request sent as a query would have them: strings
// as they are, numbers (max_age) in decimal, the claims request as its
// JSON, resource as a string or an array of strings.
func requestObjectParams(claims map[string]json.RawMessage) (params, error) {
	if len(claims) > maxParamCount {
		return nil, errors.New("the request object has too many claims")
	}
	q := make(params, len(claims))
	for k, raw := range claims {
		if slices.Contains(jwtClaimNames, k) {
			continue
		}
		if k == "request" || k == "request_uri" {
			// RFC 9101 §4: "The Request Object MUST NOT include the
			// request and request_uri parameters".
			return nil, fmt.Errorf("the request object must not contain %s", k)
		}
		v, err := claimParam(k, raw)
		if err != nil {
			return nil, err
		}
		if v != "" {
			q[k] = v
		}
	}
	return q, nil
}

// claimParam is the parameter value of one claim.
func claimParam(k string, raw json.RawMessage) (string, error) {
	bad := fmt.Errorf("the request object's %s has a type it cannot have", safeName(k))
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", bad
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", bad
		}
		return s, nil
	case '{':
		if k != "claims" {
			return "", bad
		}
		var buf bytes.Buffer
		if json.Compact(&buf, raw) != nil {
			return "", bad
		}
		return buf.String(), nil
	case '[':
		var vs []string
		if k != paramResource || json.Unmarshal(raw, &vs) != nil {
			return "", bad
		}
		v, e := joinValues(vs)
		if e != nil {
			return "", errors.New(e.Description)
		}
		return v, nil
	case 'n':
		return "", nil // null: absent
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return "", bad
	}
	if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
		return "", bad
	}
	return n.String(), nil
}
