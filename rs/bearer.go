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
	header, err := headerToken(r.Header)
	if err != nil {
		return "", err
	}
	// §2.3 "SHOULD NOT be used" and Latchkey never accepts it (RFC 9700
	// §4.3.2): URIs end up in logs and Referer headers.
	if strings.Contains(r.URL.RawQuery, "access_token") && r.URL.Query().Has("access_token") {
		return "", invalidRequest("access tokens are not accepted in the URI query")
	}
	var form string
	if g.cfg.AllowFormToken {
		if form, err = formToken(r, header != ""); err != nil {
			return "", err
		}
	}
	switch {
	case header != "" && form != "":
		// §2: "Clients MUST NOT use more than one method to transmit the
		// token in each request."
		return "", invalidRequest("the access token was sent by more than one method")
	case header != "":
		return header, nil
	case form != "":
		return form, nil
	}
	return "", noToken()
}

// headerToken reads "Authorization: Bearer b64token" (RFC 6750 §2.1). The
// scheme is case-insensitive (RFC 9110 §11.1). Another scheme is no
// token: §3.1 counts "an unsupported authentication method" as lacking
// authentication information.
func headerToken(h http.Header) (string, *Error) {
	vals := h.Values("Authorization")
	if len(vals) == 0 {
		return "", nil
	}
	if len(vals) > 1 {
		return "", invalidRequest("more than one Authorization header")
	}
	scheme, rest, _ := strings.Cut(vals[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", nil
	}
	// credentials = "Bearer" 1*SP b64token
	tok := strings.TrimLeft(rest, " ")
	if !isB64Token(tok) {
		return "", invalidRequest("the Authorization header is not Bearer followed by a b64token")
	}
	return tok, nil
}

// isB64Token checks RFC 6750 §2.1's syntax:
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
// It runs on every request, so the character set is two bit masks.
func isB64Token(s string) bool {
	const (
		lo = 0x3ffe80000000000  // "+-./0-9": bits 0-63
		hi = 0x47fffffe87fffffe // "A-Z_a-z~": bits 64-127
	)
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		var ok uint64
		if c < 64 {
			ok = lo >> c & 1
		} else if c < 128 {
			ok = hi >> (c - 64) & 1
		}
		if ok == 0 {
			return false
		}
	}
	return true
}

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
