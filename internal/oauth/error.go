// Package oauth is Latchkey's OAuth 2.0 protocol: authorization requests,
// grants, client authentication and the HTTP endpoints that carry them.
package oauth

import "fmt"

// Error is a protocol error (RFC 6749 §4.1.2.1, §5.2). Values are made by the
// constructors below and never mutated after.
type Error struct {
	Code        string // the RFC's error code
	Description string // human-readable, never contains secrets or internals
	// Status is the HTTP status for back-channel answers.
	Status int
	// basicAuth marks an invalid_client answer to a request that used HTTP
	// Basic, which must carry WWW-Authenticate (RFC 6749 §5.2).
	basicAuth bool
	// RetryAfter, when positive, is sent as Retry-After (seconds).
	RetryAfter int
	// dpopNonce, when set, is sent as DPoP-Nonce (RFC 9449 §8).
	dpopNonce string
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func newError(code string, status int, format string, args ...any) *Error {
	return &Error{Code: code, Status: status, Description: fmt.Sprintf(format, args...)}
}

// InvalidRequest: a parameter is missing, invalid, repeated or malformed.
func InvalidRequest(format string, args ...any) *Error {
	return newError("invalid_request", 400, format, args...)
}

// InvalidClient: client authentication failed (RFC 6749 §5.2): 401.
func InvalidClient(format string, args ...any) *Error {
	return newError("invalid_client", 401, format, args...)
}

// InvalidGrant: the code or refresh token is invalid, expired, revoked, used,
// or bound to another client or redirect URI.
func InvalidGrant(format string, args ...any) *Error {
	return newError("invalid_grant", 400, format, args...)
}

// UnauthorizedClient: the client may not use this grant or response type.
func UnauthorizedClient(format string, args ...any) *Error {
	return newError("unauthorized_client", 400, format, args...)
}

// UnsupportedGrantType: the server does not know the grant type.
func UnsupportedGrantType(format string, args ...any) *Error {
	return newError("unsupported_grant_type", 400, format, args...)
}

// UnsupportedResponseType: the server does not support the response type.
func UnsupportedResponseType(format string, args ...any) *Error {
	return newError("unsupported_response_type", 400, format, args...)
}

// InvalidScope: the scope is invalid, unknown, malformed or wider than allowed.
func InvalidScope(format string, args ...any) *Error {
	return newError("invalid_scope", 400, format, args...)
}

// InvalidTarget: a resource parameter is invalid, unknown, not allowed
// for the client or wider than the authorization (RFC 8707 §2).
func InvalidTarget(format string, args ...any) *Error {
	return newError("invalid_target", 400, format, args...)
}

// AccessDenied: the resource owner or the server denied the request.
func AccessDenied(format string, args ...any) *Error {
	return newError("access_denied", 403, format, args...)
}

// ServerError: an unexpected failure; the description is fixed, the cause is
// logged and never sent.
func ServerError() *Error {
	return &Error{Code: "server_error", Status: 500, Description: "the server could not complete the request"}
}

// TemporarilyUnavailable: the store is unreachable; the client may retry.
func TemporarilyUnavailable() *Error {
	return &Error{Code: "temporarily_unavailable", Status: 503, Description: "the server is temporarily unavailable, retry later", RetryAfter: 5}
}
