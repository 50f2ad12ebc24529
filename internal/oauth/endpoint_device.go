package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// DevicePath is the verification URI's path (RFC 8628 §3.2), the page
// where users enter user codes.
const DevicePath = "/device"

// Defaults for a Provider whose Tokens leave them unset.
const (
	defaultDeviceCodeTTL      = 10 * time.Minute
	defaultDevicePollInterval = 5 * time.Second
)

// DeviceAuthorizationResponse is RFC 8628 §3.2's answer.
type DeviceAuthorizationResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// HandleDeviceAuthorization is the device authorization endpoint (RFC 8628
// §3.1): POST only, the client authenticated as at the token endpoint
// (public clients name themselves with client_id), then a device code and
// a user code (§3.2), or an error as at the token endpoint (§3.3).
func (p *Provider) HandleDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
	resp, e := p.deviceAuthorization(w, r)
	if e != nil {
		if e.Status >= 500 {
			p.Logger.WarnContext(r.Context(), "device authorization failed", "error", e.Code)
		}
		WriteError(w, e)
		return
	}
	WriteJSON(w, http.StatusOK, resp)
}

func (p *Provider) deviceAuthorization(w http.ResponseWriter, r *http.Request) (DeviceAuthorizationResponse, *Error) {
	var none DeviceAuthorizationResponse
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return none, &Error{Code: "invalid_request", Status: http.StatusMethodNotAllowed, Description: "use POST"}
	}
	q, dup, e := readFormBody(w, r)
	if e == nil && dup != "" {
		e = duplicated(dup)
	}
	if e != nil {
		return none, e
	}
	cred, e := readClientCredentials(r, q)
	if e != nil {
		return none, e
	}
	address := clientip.Of(r)
	cred.endpoint, cred.address = p.Issuer+r.URL.Path, address
	ctx := r.Context()
	client, e := p.authenticateClient(ctx, cred)
	if e != nil {
		return none, e
	}
	// §3.1 refers to RFC 6749 §5.2 for errors: unauthorized_client for a
	// client not registered for this grant.
	if !AllowsGrant(client, GrantDeviceCode) {
		return none, UnauthorizedClient("this client may not use the device authorization grant")
	}
	scopes, e := p.requestedScopes(client, q["scope"], false)
	if e != nil {
		return none, e
	}
	// RFC 8707 §2: the device asks for its resources here, and the
	// token request may narrow them.
	resources := q.list(paramResource)
	if _, e := p.targetFor(ctx, client, scopes, resources, nil); e != nil {
		return none, e
	}
	now := p.Now()
	// Each device authorization stores a row before anyone signed in, as
	// an anonymous /authorize does: the same per-address budget.
	if ok, wait := p.authorizeLimit.Reserve(address, now); !ok {
		p.Logger.WarnContext(ctx, "device authorizations throttled", "client_id", client.ID, "client", address)
		p.Metrics.Throttled("device_authorization")
		return none, &Error{Code: "invalid_request", Status: http.StatusTooManyRequests,
			Description: "too many device authorizations from this address; retry later", RetryAfter: int(wait/time.Second) + 1}
	}
	ttl := cmpDuration(p.Tokens.DeviceCodeTTL, defaultDeviceCodeTTL)
	interval := cmpDuration(p.Tokens.DevicePollInterval, defaultDevicePollInterval)
	dc := store.DeviceCode{
		ClientID: client.ID, Scopes: scopes, Resources: resources,
		Device: DescribeDevice(r.UserAgent()), Address: address,
		CreatedAt: now, ExpiresAt: now.Add(ttl), Interval: interval, Status: store.DeviceCodePending,
	}
	deviceCode, userCode, e := p.createDeviceCode(ctx, dc)
	if e != nil {
		return none, e
	}
	p.Logger.InfoContext(ctx, "device authorization started", "client_id", client.ID)
	verify := p.Issuer + DevicePath
	return DeviceAuthorizationResponse{
		DeviceCode:              deviceCode,
		UserCode:                FormatUserCode(userCode),
		VerificationURI:         verify,
		VerificationURIComplete: verify + "?" + url.Values{"user_code": {FormatUserCode(userCode)}}.Encode(),
		ExpiresIn:               int64(ttl / time.Second),
		Interval:                int64(interval / time.Second),
	}, nil
}

// createDeviceCode stores dc with a new device code and user code, and
// returns both. A user code already taken (about one chance in 2.56e10 per
// live code) is drawn again.
func (p *Provider) createDeviceCode(ctx context.Context, dc store.DeviceCode) (deviceCode, userCode string, e *Error) {
	for attempt := 1; ; attempt++ {
		deviceCode, userCode = string(secret.New(secret.PrefixDeviceCode)), newUserCode()
		dc.Hash, dc.UserCodeHash = secret.Hash(deviceCode), p.userCodeHash(userCode)
		err := p.Store.CreateDeviceCode(ctx, dc)
		if err == nil {
			return deviceCode, userCode, nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt == 3 {
			return "", "", p.storeError(ctx, "create device code", err)
		}
	}
}

// cmpDuration returns d, or def when d is not positive.
func cmpDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
