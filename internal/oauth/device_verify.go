package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// DeviceRequest is a pending device authorization (RFC 8628 §3.3) that a
// signed-in user named by its user code, with the client that asked.
type DeviceRequest struct {
	Code     store.DeviceCode
	Client   store.Client
	UserCode string // as shown, XXXX-XXXX
}

// errWrongUserCode is the one answer to a user code that names no pending
// device authorization: unknown, expired, decided or mistyped alike.
func errWrongUserCode() *Error {
	return InvalidRequest("that code is not valid: it may be mistyped, expired or already used. Check the code your device shows")
}

// FindDeviceRequest finds the pending device authorization whose user code
// the signed-in user userID typed at address. Wrong codes are throttled
// (see userCodeThrottles); a code that is not 8 letters of the alphabet
// cannot name one and costs nothing. Errors: a wrong code (400), too many
// wrong codes (429, RetryAfter), the store.
func (p *Provider) FindDeviceRequest(ctx context.Context, typed, userID, address string) (DeviceRequest, *Error) {
	code, ok := NormalizeUserCode(typed)
	if !ok {
		return DeviceRequest{}, InvalidRequest("enter the code your device shows: 8 letters, such as BCDF-GHJK")
	}
	now := p.Now()
	t := p.userCodes
	tooMany := func(wait time.Duration) *Error {
		p.Logger.WarnContext(ctx, "user code guessing throttled", "user_id", userID, "client", address)
		p.Metrics.Throttled("user_code")
		return &Error{Code: "invalid_request", Status: 429,
			Description: "too many wrong codes; wait a minute and try again", RetryAfter: int(wait/time.Second) + 1}
	}
	if over, wait := t.all.Exceeded("all", now); over && t.address.Failures(address, now) > 0 {
		return DeviceRequest{}, tooMany(wait)
	}
	ok, wait := t.address.Reserve(address, now)
	if !ok {
		return DeviceRequest{}, tooMany(wait)
	}
	if ok, wait = t.user.Reserve(userID, now); !ok {
		t.address.Release(address)
		return DeviceRequest{}, tooMany(wait)
	}
	dc, err := p.Store.GetDeviceCodeByUserCode(ctx, p.userCodeHash(code), now)
	if errors.Is(err, store.ErrNotFound) && p.PreviousUserCodeKey != nil {
		dc, err = p.Store.GetDeviceCodeByUserCode(ctx, userCodeHash(p.PreviousUserCodeKey, code), now)
	}
	if errors.Is(err, store.ErrNotFound) {
		t.all.Reserve("all", now)
		p.Logger.InfoContext(ctx, "wrong user code", "user_id", userID)
		return DeviceRequest{}, errWrongUserCode()
	}
	t.address.Release(address)
	t.user.Release(userID)
	if err != nil {
		return DeviceRequest{}, p.storeError(ctx, "get device code by user code", err)
	}
	client, err := p.clients.Get(ctx, dc.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return DeviceRequest{}, errWrongUserCode()
	}
	if err != nil {
		return DeviceRequest{}, p.storeError(ctx, "get client", err)
	}
	return DeviceRequest{Code: dc, Client: client, UserCode: FormatUserCode(code)}, nil
}

// DeviceGrantedScopes returns the requested scopes that the user's active
// grant to the device's client already holds (shown as granted).
func (p *Provider) DeviceGrantedScopes(ctx context.Context, dr DeviceRequest, userID string) ([]string, *Error) {
	g, found, e := p.findGrant(ctx, userID, dr.Client.ID)
	if e != nil || !found || !g.Active(p.Now()) {
		return nil, e
	}
	return Intersect(dr.Code.Scopes, g.Scopes), nil
}

// errDeviceFinished answers a decision on a device authorization that was
// decided or expired in between.
func errDeviceFinished() *Error {
	return InvalidRequest("this code expired or was already used; start again on your device")
}

// ApproveDevice is the signed-in user's approval of a device
// authorization, from the session sess: the user's grant to the client
// (one per app) gains scopes and takes lifetime (0: until revoked), as at
// consent (see extendGrant), and the device gets every requested scope the
// grant then holds, at least one. The code and the grant are saved in one
// transaction, so the device's next poll gets its tokens.
func (p *Provider) ApproveDevice(ctx context.Context, dr DeviceRequest, sess store.Session, scopes []string, lifetime time.Duration) *Error {
	if !Subset(scopes, dr.Code.Scopes) {
		return InvalidScope("choose among the requested scopes")
	}
	for attempt := 1; ; attempt++ {
		current, found, e := p.findGrant(ctx, sess.UserID, dr.Client.ID)
		if e != nil {
			return e
		}
		grant := p.extendGrant(current, found, sess.UserID, dr.Client.ID, scopes, lifetime)
		got := Intersect(dr.Code.Scopes, grant.Scopes)
		if len(got) == 0 {
			return InvalidScope("choose at least one of the requested scopes")
		}
		err := p.Store.ApproveDeviceCode(ctx, dr.Code.Hash, p.Now(), store.DeviceApproval{
			UserID: sess.UserID, SessionID: sess.ID, AuthTime: sess.AuthTime, Scopes: got, Grant: grant,
		})
		switch {
		case err == nil:
			p.Logger.InfoContext(ctx, "device approved", "client_id", dr.Client.ID, "user_id", sess.UserID, "grant_id", grant.ID)
			p.Activity.Record(ctx, store.Activity{UserID: sess.UserID, ClientID: dr.Client.ID, Kind: store.ActivityConsented,
				Device: dr.Code.Device, Address: dr.Code.Address, Detail: FormatScope(grant.Scopes)})
			return nil
		case (errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrAlreadyUsed)) && attempt == 1:
			// Another consent made or revoked the app's grant meanwhile
			// (or the code was decided: the second try says so).
			continue
		case errors.Is(err, store.ErrAlreadyUsed), errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict):
			return errDeviceFinished()
		default:
			return p.storeError(ctx, "approve device code", err)
		}
	}
}

// DenyDevice is the user's refusal: the device's next poll is told
// access_denied (RFC 8628 §3.5).
func (p *Provider) DenyDevice(ctx context.Context, dr DeviceRequest, userID string) *Error {
	err := p.Store.DenyDeviceCode(ctx, dr.Code.Hash, p.Now())
	if errors.Is(err, store.ErrAlreadyUsed) || errors.Is(err, store.ErrNotFound) {
		return errDeviceFinished()
	}
	if err != nil {
		return p.storeError(ctx, "deny device code", err)
	}
	p.Logger.InfoContext(ctx, "device denied", "client_id", dr.Client.ID, "user_id", userID)
	return nil
}
