package oauth

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// Size limits on request input (SECURITY.md c.6).
const (
	maxBodyBytes  = 64 << 10
	maxQueryBytes = 8 << 10
	maxParamCount = 64
)

// params is a parsed request whose parameters each appear at most once.
// RFC 6749 §3.1 and §3.2: "Request and response parameters MUST NOT be
// included more than once", and parameters sent without a value MUST be
// treated as if they were omitted.
type params map[string]string

// parseParams decodes url-encoded parameters, refusing too many parameters
// and malformed escapes. A repeated parameter is reported by name in dup
// (client_id or redirect_uri before any other, see dupBefore) so that each
// endpoint can answer it as it must.
func parseParams(raw string) (p params, dup string, e *Error) {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, "", InvalidRequest("malformed parameters")
	}
	if len(vals) > maxParamCount {
		return nil, "", InvalidRequest("too many parameters")
	}
	p = make(params, len(vals))
	for k, vs := range vals {
		if k == paramResource {
			v, e := joinValues(vs)
			if e != nil {
				return nil, "", e
			}
			if v != "" {
				p[k] = v
			}
			continue
		}
		// k != "": an empty name would report "" and so hide every other
		// repeated parameter ("=&=&redirect_uri=a&redirect_uri=b").
		if len(vs) > 1 && k != "" && (dup == "" || dupBefore(k, dup)) {
			dup = k
		}
		if vs[0] != "" {
			p[k] = vs[0]
		}
	}
	return p, dup, nil
}

// paramResource is the one parameter that may be repeated: RFC 8707 §2,
// "Multiple resource parameters MAY be used to indicate that the requested
// token is intended to be used at multiple resources."
const paramResource = "resource"

// maxResources bounds the resource parameters of one request.
const maxResources = 16

// valueSeparator joins the values of a repeated parameter in params; no
// valid value contains it.
const valueSeparator = "\n"

// joinValues joins the non-empty values of a repeated parameter, refusing
// a value that holds the separator (a URI never holds a control character).
func joinValues(vs []string) (string, *Error) {
	if len(vs) > maxResources {
		return "", InvalidTarget("at most %d resource parameters", maxResources)
	}
	kept := vs[:0:0]
	for _, v := range vs {
		if strings.Contains(v, valueSeparator) {
			return "", InvalidRequest("a resource parameter contains a line break")
		}
		if v != "" {
			kept = append(kept, v)
		}
	}
	return strings.Join(kept, valueSeparator), nil
}

// list returns every value of a parameter that may be repeated, in order.
func (p params) list(name string) []string {
	if p[name] == "" {
		return nil
	}
	return strings.Split(p[name], valueSeparator)
}

// dupBefore orders repeated names for reporting: client_id and redirect_uri
// first, because a repeat of either must stop /authorize before it trusts
// any redirect (RFC 6749 §4.1.2.1), then by name.
func dupBefore(a, b string) bool {
	rank := func(k string) int {
		switch k {
		case "client_id":
			return 0
		case "redirect_uri":
			return 1
		}
		return 2
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra < rb
	}
	return a < b
}

// duplicated is the error for a repeated parameter.
func duplicated(name string) *Error {
	return InvalidRequest("parameter %s is repeated (RFC 6749 §3.1)", safeName(name))
}

// safeName returns a parameter name fit to echo in an error description.
func safeName(k string) string {
	if len(k) > 40 {
		return "(a long name)"
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return "(a name with unusual characters)"
		}
	}
	return k
}

// readFormBody reads an application/x-www-form-urlencoded body of at most
// maxBodyBytes, ignoring the query string.
func readFormBody(w http.ResponseWriter, r *http.Request) (params, string, *Error) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		return nil, "", InvalidRequest("the body must be application/x-www-form-urlencoded")
	}
	buf, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, "", &Error{Code: "invalid_request", Status: http.StatusRequestEntityTooLarge, Description: "the body is larger than 64 KiB"}
		}
		return nil, "", InvalidRequest("the body could not be read")
	}
	return parseParams(string(buf))
}
