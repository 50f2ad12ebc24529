package oauth

import (
	"strings"
)

// responseType is a parsed response_type: a set of code, token and id_token
// (RFC 6749 §3.1.1; OAuth 2.0 Multiple Response Type Encoding Practices §3;
// OpenID Connect Core §3). Order does not matter: "code id_token" and
// "id_token code" are the same.
type responseType struct {
	code, token, idToken bool
}

// ResponseTypes lists every response type Latchkey implements, for metadata.
var ResponseTypes = []string{"code", "token", "id_token", "id_token token", "code id_token", "code token", "code id_token token"}

func parseResponseType(raw string) (responseType, *Error) {
	var rt responseType
	if raw == "" {
		return rt, InvalidRequest("response_type is missing")
	}
	for _, v := range strings.Split(raw, " ") {
		var seen *bool
		switch v {
		case "code":
			seen = &rt.code
		case "token":
			seen = &rt.token
		case "id_token":
			seen = &rt.idToken
		default:
			return responseType{}, UnsupportedResponseType("response_type must be code, token, id_token or a combination of them")
		}
		if *seen {
			return responseType{}, UnsupportedResponseType("response_type repeats a value")
		}
		*seen = true
	}
	return rt, nil
}

// String is the canonical form, in the order of ResponseTypes.
func (rt responseType) String() string {
	var parts []string
	if rt.code {
		parts = append(parts, "code")
	}
	if rt.idToken {
		parts = append(parts, "id_token")
	}
	if rt.token {
		parts = append(parts, "token")
	}
	return strings.Join(parts, " ")
}

// plainOAuth: code or token alone, which need no openid scope.
func (rt responseType) plainOAuth() bool {
	return rt.code != rt.token && !rt.idToken
}

// fragmentDefault: the default response mode is fragment whenever the
// response carries a token (Multiple Response Types §2.1, §3).
func (rt responseType) fragmentDefault() bool { return rt.token || rt.idToken }

// setResponseMode applies response_mode to to. An unknown mode is refused,
// never ignored, and query is refused for responses carrying tokens:
// "the default Response Mode ... MUST NOT be query" for them, since a
// query string leaks to logs and referrers (Multiple Response Types §3,
// RFC 9700 §4.3.2).
func setResponseMode(to *Redirect, rt responseType, mode string) *Error {
	switch mode {
	case "":
		return nil
	case ModeQuery:
		if rt.fragmentDefault() {
			return InvalidRequest("response_mode=query cannot carry tokens; use fragment or form_post")
		}
	case ModeFragment, ModeFormPost:
	default:
		return InvalidRequest("unsupported response_mode; use query, fragment or form_post")
	}
	to.Mode = mode
	return nil
}
