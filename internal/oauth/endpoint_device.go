package oauth

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
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
	writeJSON(w, http.StatusOK, resp)
}

func (p *Provider) deviceAuthorization(w http.ResponseWriter, r *http.Request) (DeviceAuthorizationResponse, *Error) {
	var none DeviceAuthorizationResponse
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return none, &Error{Code: "invalid_request", Status: http.StatusMethodNotAllowed, Description: "use POST"}
	}
	q, resources, e := readDeviceAuthorizationBody(w, r)
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
	scopes, e := p.requestedScopes(client, q["scope"])
	if e != nil {
		return none, e
	}
	if e := checkResourceValues(resources); e != nil {
		return none, e
	}
	now := p.Now()
	// Each device authorization stores a row before anyone signed in, as
	// an anonymous /authorize does: the same per-address budget.
	if ok, wait := p.authorizeLimit.Reserve(address, now); !ok {
		p.Logger.WarnContext(ctx, "device authorizations throttled", "client_id", client.ID, "client", address)
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

// readDeviceAuthorizationBody reads the body as readFormBody does, each
// parameter at most once, except resource, which RFC 8707 §2 lets a client
// repeat: its values are returned apart, in order.
func readDeviceAuthorizationBody(w http.ResponseWriter, r *http.Request) (params, []string, *Error) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		return nil, nil, InvalidRequest("the body must be application/x-www-form-urlencoded")
	}
	buf, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, nil, &Error{Code: "invalid_request", Status: http.StatusRequestEntityTooLarge, Description: "the body is larger than 64 KiB"}
		}
		return nil, nil, InvalidRequest("the body could not be read")
	}
	var rest []string
	var resources []string
	for part := range strings.SplitSeq(string(buf), "&") {
		k, v, _ := strings.Cut(part, "=")
		if name, err := url.QueryUnescape(k); err != nil || name != "resource" {
			rest = append(rest, part)
			continue
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, nil, InvalidRequest("malformed parameters")
		}
		if value != "" {
			resources = append(resources, value)
		}
	}
	q, dup, e := parseParams(strings.Join(rest, "&"))
	if e != nil {
		return nil, nil, e
	}
	if dup != "" {
		return nil, nil, duplicated(dup)
	}
	return q, resources, nil
}

// maxResources bounds the resource values of one request.
const maxResources = 16

// checkResourceValues checks resource values as RFC 8707 §2 defines them:
// "an absolute URI [...] MUST NOT include a fragment component"; anything
// else is invalid_target. Whether the server knows the resource is decided
// where tokens are issued for it.
func checkResourceValues(resources []string) *Error {
	if len(resources) > maxResources {
		return invalidTarget("too many resource values")
	}
	for _, res := range resources {
		u, err := url.Parse(res)
		if err != nil || !u.IsAbs() || strings.Contains(res, "#") || len(res) > 2048 {
			return invalidTarget("each resource must be an absolute URI without a fragment (RFC 8707 §2)")
		}
	}
	return nil
}

// invalidTarget: a resource value is invalid (RFC 8707 §2).
func invalidTarget(format string, args ...any) *Error {
	return newError("invalid_target", http.StatusBadRequest, format, args...)
}
