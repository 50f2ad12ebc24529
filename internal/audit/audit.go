// Package audit writes Latchkey's audit events: who did what to which
// account, client, token or key, as one stream of log lines with a stable
// schema, so that a log pipeline can select them (msg "audit") and rely on
// their fields.
//
// The schema (docs/operations.md): every line has msg "audit", level INFO,
// "event" (one of the Event* names below), and, when they apply, "actor",
// "client_id", "user_id", "address" (the client's network address),
// "device", "grant_type", "format", "scope", "reason" and "detail"; lines
// logged for a request also carry its "request_id". Fields are added, never
// renamed or removed. No field ever holds a secret, a token, a code or a
// password: only identifiers and descriptions.
package audit

import (
	"context"
	"log/slog"
)

// Event names.
const (
	EventSignedIn        = "user.signed_in"
	EventSignInFailed    = "user.sign_in_failed"
	EventPasswordChanged = "user.password_changed"
	EventConsented       = "consent.granted"
	EventTokenIssued     = "token.issued"
	EventTokenRefreshed  = "token.refreshed"
	EventTokenRevoked    = "token.revoked"
	EventReuseDetected   = "token.reuse_detected"
	EventGraceReuse      = "token.grace_reuse"
	EventClientChanged   = "client.changed"
	EventUserChanged     = "user.changed"
	EventKeyChanged      = "key.changed"
	EventResourceChanged = "resource.changed"
	// EventRegistrationTokenChanged: an initial access token issued or
	// deleted.
	EventRegistrationTokenChanged = "registration_token.changed"
	EventConfigReloaded           = "config.reloaded"
	EventConfigRefused            = "config.reload_refused"
)

// Event is one audit event; empty fields are left out of the line.
type Event struct {
	Name     string
	ClientID string
	UserID   string
	// Actor is who made a change outside a request: "cli" for the
	// command line; empty for requests (their client and user say who).
	Actor     string
	Address   string
	Device    string
	GrantType string
	Format    string
	Scope     string
	// Reason says why (e.g. "bad_credentials", "reuse"); Detail says what,
	// in words (e.g. "created", "secret rotated", "3 clients").
	Reason string
	Detail string
}

// Log writes audit events to a logger.
type Log struct{ logger *slog.Logger }

// New returns an audit log writing to logger (nil: slog.Default()).
func New(logger *slog.Logger) *Log {
	if logger == nil {
		logger = slog.Default()
	}
	return &Log{logger: logger}
}

// Emit writes ev; safe on a nil *Log (no audit).
func (l *Log) Emit(ctx context.Context, ev Event) {
	if l == nil || !l.logger.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs, slog.String("event", ev.Name))
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	add("actor", ev.Actor)
	add("client_id", ev.ClientID)
	add("user_id", ev.UserID)
	add("address", ev.Address)
	add("device", ev.Device)
	add("grant_type", ev.GrantType)
	add("format", ev.Format)
	add("scope", ev.Scope)
	add("reason", ev.Reason)
	add("detail", ev.Detail)
	l.logger.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
}
