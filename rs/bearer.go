package rs

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// maxFormBody bounds the body read when looking for a form-encoded
// access_token (RFC 6750 §2.2); a larger body is refused as invalid_request.
const maxFormBody = 64 << 10

// bearerToken returns the request's access token, or an *Error:
// invalid_request for a malformed or ambiguous request, the code-less 401
// for none at all. Only the Authorization header (RFC 6750 §2.1) and, when
// allowed, the form body (§2.2) are read; a token in the URI query (§2.3)
// is refused.
func (g *Guard) bearerToken(r *http.Request) (string, *Error) {
	tok, _, err := g.accessToken(r)
	return tok, err
}

// accessToken is bearerToken that also takes the DPoP scheme (RFC 9449
// §7.1) and says which scheme carried the token: "Bearer" or "DPoP".
func (g *Guard) accessToken(r *http.Request) (string, string, *Error) {
	header, scheme, err := headerToken(r.Header)
	if err != nil {
		return "", "", err
	}
	// §2.3 "SHOULD NOT be used" and Latchkey never accepts it (RFC 9700
	// §4.3.2): URIs end up in logs and Referer headers.
	if strings.Contains(r.URL.RawQuery, "access_token") && r.URL.Query().Has("access_token") {
		return "", "", invalidRequest("access tokens are not accepted in the URI query")
	}
	var form string
	if g.cfg.AllowFormToken {
		if form, err = formToken(r, header != ""); err != nil {
			return "", "", err
		}
	}
	switch {
	case header != "" && form != "":
		// §2: "Clients MUST NOT use more than one method to transmit the
		// token in each request."
		return "", "", invalidRequest("the access token was sent by more than one method")
	case header != "":
		return header, scheme, nil
	case form != "":
		return form, "Bearer", nil
	}
	return "", "", noToken()
}

// headerToken reads "Authorization: Bearer b64token" (RFC 6750 §2.1). The
// scheme is case-insensitive (RFC 9110 §11.1). Another scheme is no
// token: §3.1 counts "an unsupported authentication method" as lacking
// authentication information. The b64token syntax is checked by verify,
// only for tokens not in the cache: a cached token's bytes were checked
// when it was first seen, and each hit saves a pass over the token.
func headerToken(h http.Header) (tok, scheme string, e *Error) {
	vals := h.Values("Authorization")
	if len(vals) == 0 {
		return "", "", nil
	}
	if len(vals) > 1 {
		return "", "", invalidRequest("more than one Authorization header")
	}
	scheme, rest, _ := strings.Cut(vals[0], " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		scheme = "Bearer"
	case strings.EqualFold(scheme, "DPoP"):
		scheme = "DPoP" // RFC 9449 §7.1
	default:
		return "", "", nil
	}
	// credentials = scheme 1*SP b64token
	tok = strings.TrimLeft(rest, " ")
	if tok == "" {
		return "", "", invalidRequest("the Authorization header has no token after " + scheme)
	}
	return tok, scheme, nil
}

// isB64Token checks RFC 6750 §2.1's syntax:
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
// It runs on every request, so each byte is one lookup in b64tokenChars.
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		if b64tokenChars[body[i]] != '1' {
			return false
		}
	}
	return true
}

// b64tokenChars has '1' at the bytes a b64token is made of.
const b64tokenChars = "" +
	"0000000000000000000000000000000000000000000101111111111111000000" +
	"0111111111111111111111111110000101111111111111111111111111100010" +
	"0000000000000000000000000000000000000000000000000000000000000000" +
	"0000000000000000000000000000000000000000000000000000000000000000"

// formToken reads access_token from a form-encoded body (RFC 6750 §2.2)
// when the request fits that section: a method whose body has defined
// semantics ("the GET method MUST NOT be used") and Content-Type
// application/x-www-form-urlencoded. The body is put back for the handler.
// A body over maxFormBody is not searched: with a header token the request
// goes on (a large upload is no second token), without one it is refused.
func formToken(r *http.Request, haveHeader bool) (string, *Error) {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" || r.Body == nil {
		return "", nil
	}
	orig := r.Body
	body, err := io.ReadAll(io.LimitReader(orig, maxFormBody+1))
	r.Body = readCloser{io.MultiReader(bytes.NewReader(body), orig), orig}
	if err != nil {
		return "", invalidRequest("the request body could not be read")
	}
	if len(body) > maxFormBody {
		if haveHeader {
			return "", nil
		}
		return "", invalidRequest("the form body is too large to look for an access token")
	}
	if !bytes.Contains(body, []byte("access_token")) {
		return "", nil
	}
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return "", invalidRequest("the form body is malformed")
	}
	switch toks := q["access_token"]; {
	case len(toks) == 0:
		return "", nil
	case len(toks) > 1:
		return "", invalidRequest("access_token is repeated")
	case toks[0] == "":
		return "", invalidRequest("access_token is empty")
	default:
		return toks[0], nil
	}
}

// readCloser gives the handler the body bytes already read, then the rest.
type readCloser struct {
	io.Reader
	io.Closer
}
