package oauth

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/store"
)

// emit writes an audit event, with the request's client address when it
// names none.
func (p *Provider) emit(ctx context.Context, ev audit.Event) {
	if p.Audit == nil {
		return
	}
	if ev.Address == "" {
		ev.Address = clientip.FromContext(ctx)
	}
	p.Audit.Emit(ctx, ev)
}

// grantName is a grant type's short name in metrics and audit events.
func grantName(gt string) string {
	if gt == GrantDeviceCode {
		return "device_code"
	}
	return gt
}

// accessFormat is the format mint gives the client's access tokens:
// opaque when it asked for them, when the server signs no JWTs, or when
// they would be signed with an algorithm its profile forbids.
func (p *Provider) accessFormat(c store.Client) string {
	if c.AccessTokenFormat == FormatOpaque || p.JWT == nil ||
		isFAPI2(c) && !slices.Contains(FAPI2Algs, p.SigningAlgorithm) {
		return FormatOpaque
	}
	return FormatJWT
}

// issuedEvent is the audit fields of tokens issued to c by grant type gt.
func (p *Provider) issuedEvent(gt string, c store.Client) audit.Event {
	return audit.Event{GrantType: grantName(gt), Format: p.accessFormat(c)}
}

// signIn reports a user's password check via the login page ("page") or
// the password grant ("password_grant") with its outcome err: a metric,
// and an audit event when it failed (a success is the signed-in activity
// entry). The username is not logged: a mistyped password in that field
// would be.
func (p *Provider) signIn(ctx context.Context, via, clientID, address string, err error) {
	var result string
	var tooMany *TooManyAttempts
	switch {
	case err == nil:
		p.Metrics.SignIn(via, "ok")
		return
	case errors.As(err, &tooMany):
		result = "throttled"
		p.Metrics.Throttled("password")
	case errors.Is(err, ErrBadCredentials):
		result = "bad_credentials"
	case errors.Is(err, ErrBusy):
		result = "busy"
	default:
		result = "error"
	}
	p.Metrics.SignIn(via, result)
	p.emit(ctx, audit.Event{Name: audit.EventSignInFailed, ClientID: clientID, Address: address, Reason: result, Detail: via})
}

// SignIn is signIn for the login page.
func (p *Provider) SignIn(ctx context.Context, clientID, address string, err error) {
	p.signIn(ctx, "page", clientID, address, err)
}

// reuseDetected reports a reused refresh token or a replayed code (kind)
// that revoked n tokens of a family: an audit event and a metric.
func (p *Provider) reuseDetected(ctx context.Context, kind, clientID, userID string, n int) {
	p.Metrics.ReuseDetected(kind, clientID)
	p.Metrics.Revoked("reuse")
	p.emit(ctx, audit.Event{Name: audit.EventReuseDetected, ClientID: clientID, UserID: userID, Reason: kind,
		Detail: pluralTokens(n) + " revoked"})
}

func pluralTokens(n int) string {
	if n == 1 {
		return "1 token"
	}
	return strconv.Itoa(n) + " tokens"
}
