package oauth

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// maxStateLen bounds the state value echoed back to the client.
const maxStateLen = 2048

// Redirect is where an authorization response goes: a redirect URI already
// checked against the client's registration, and the state to echo.
type Redirect struct {
	URI   string
	State string
	// Fragment puts the response in the fragment (implicit grant,
	// RFC 6749 §4.2.2) instead of the query.
	Fragment bool
}

// Location builds the response URI: the redirect URI with its own query kept
// and the response parameters added once each (RFC 6749 §4.1.2, §3.1.2),
// plus iss (RFC 9207 §2).
func (d Redirect) Location(issuer string, resp url.Values) string {
	if d.State != "" {
		resp.Set("state", d.State)
	}
	resp.Set("iss", issuer)
	sep := "?"
	switch {
	case d.Fragment:
		sep = "#"
	case strings.Contains(d.URI, "?"):
		sep = "&"
	}
	return d.URI + sep + resp.Encode()
}

// ErrorLocation builds an error response (RFC 6749 §4.1.2.1).
func (d Redirect) ErrorLocation(issuer string, e *Error) string {
	return d.Location(issuer, url.Values{"error": {e.Code}, "error_description": {e.Description}})
}

// authorizeRequest checks an authorization request (RFC 6749 §4.1.1) and
// returns it, not yet stored, with its client.
// When client_id or redirect_uri cannot be trusted it returns an error and a
// nil Redirect: the caller shows an error page and MUST NOT redirect
// (§4.1.2.1). Every later error comes with the Redirect to send it to.
func (p *Provider) authorizeRequest(ctx context.Context, q params) (Pending, *Redirect, *Error) {
	clientID := q["client_id"]
	if clientID == "" {
		return Pending{}, nil, InvalidRequest("client_id is missing")
	}
	client, err := p.Store.GetClient(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return Pending{}, nil, InvalidRequest("unknown client")
	}
	if err != nil {
		return Pending{}, nil, p.storeError(ctx, "get client", err)
	}
	redirectURI, given := q["redirect_uri"]
	switch {
	case given && !MatchRedirectURI(client.RedirectURIs, redirectURI):
		return Pending{}, nil, InvalidRequest("redirect_uri is not registered for this client")
	case !given && len(client.RedirectURIs) != 1:
		// RFC 6749 §3.1.2.3: with several registered URIs the request MUST name one.
		return Pending{}, nil, InvalidRequest("redirect_uri is missing")
	case !given:
		redirectURI = client.RedirectURIs[0]
	}
	to := &Redirect{URI: redirectURI, State: q["state"]}
	if len(to.State) > maxStateLen {
		to.State = ""
		return Pending{Client: client}, to, InvalidRequest("state is longer than %d characters", maxStateLen)
	}

	rt := q["response_type"]
	switch rt {
	case "":
		return Pending{Client: client}, to, InvalidRequest("response_type is missing")
	case "code":
		if !AllowsGrant(client, GrantAuthorizationCode) {
			return Pending{Client: client}, to, UnauthorizedClient("this client may not use the authorization code grant")
		}
	case "token":
		// RFC 6749 §4.2.2.1: from here on errors travel in the fragment.
		to.Fragment = true
		if !AllowsGrant(client, GrantImplicit) {
			return Pending{Client: client}, to, UnauthorizedClient("this client may not use the implicit grant")
		}
	default:
		return Pending{Client: client}, to, UnsupportedResponseType("response_type must be code or token")
	}

	scopes, e := p.requestedScopes(client, q["scope"])
	if e != nil {
		return Pending{Client: client}, to, e
	}

	challenge, method := q["code_challenge"], q["code_challenge_method"]
	switch {
	case rt == "token":
		// PKCE protects a code; the implicit grant has none.
		challenge, method = "", ""
	case challenge == "" && method != "":
		return Pending{Client: client}, to, InvalidRequest("code_challenge_method without code_challenge")
	case challenge == "" && client.Public:
		// RFC 9700 §2.1.1: public clients MUST use PKCE.
		return Pending{Client: client}, to, InvalidRequest("PKCE is required for public clients (code_challenge with S256)")
	case challenge != "" && method != pkceS256:
		return Pending{Client: client}, to, InvalidRequest("code_challenge_method must be S256 (plain is not supported)")
	case challenge != "" && !validChallenge(challenge):
		return Pending{Client: client}, to, InvalidRequest("code_challenge is not a base64url SHA-256 value")
	}

	now := p.Now()
	req := store.AuthRequest{
		ID:                  string(secret.New(secret.PrefixAuthRequest)),
		ClientID:            client.ID,
		RedirectURI:         redirectURI,
		RedirectURIGiven:    given,
		ResponseType:        rt,
		Scopes:              scopes,
		State:               to.State,
		CodeChallenge:       challenge,
		CodeChallengeMethod: method,
		Nonce:               q["nonce"],
		CreatedAt:           now,
		ExpiresAt:           now.Add(p.AuthRequestTTL),
	}
	return Pending{Request: req, Client: client}, to, nil
}

// requestedScopes parses the scope parameter and checks it against the
// registry and the client. Omitted, it defaults to every scope the client is
// registered for (RFC 6749 §3.3 lets the server use a pre-defined default);
// the consent page still shows each one.
func (p *Provider) requestedScopes(client store.Client, raw string) ([]string, *Error) {
	if raw == "" {
		if len(client.Scopes) == 0 {
			return nil, InvalidScope("scope is missing and the client has no default scopes")
		}
		return append([]string(nil), client.Scopes...), nil
	}
	scopes, e := ParseScope(raw)
	if e != nil {
		return nil, e
	}
	if len(scopes) == 0 {
		return nil, InvalidScope("scope is empty")
	}
	for _, s := range scopes {
		if !p.Scopes.Known(s) {
			return nil, InvalidScope("unknown scope")
		}
	}
	if !Subset(scopes, client.Scopes) {
		return nil, InvalidScope("the client may not request one of these scopes")
	}
	return scopes, nil
}

// Pending is an authorization request being finished in the browser.
type Pending struct {
	Request store.AuthRequest
	Client  store.Client
}

// Redirect returns where this request's response goes.
func (pd Pending) Redirect() Redirect {
	return Redirect{URI: pd.Request.RedirectURI, State: pd.Request.State, Fragment: pd.Request.ResponseType == "token"}
}

// LoadPending finds a pending request for the browser that started it. A
// request of another browser, or one already finished or expired, is an error
// shown on a page (RFC 6819 §4.4.1.6: bound to the user agent, single use).
func (p *Provider) LoadPending(ctx context.Context, id, browser string) (Pending, *Error) {
	if !secret.HasPrefix(id, secret.PrefixAuthRequest) {
		return Pending{}, InvalidRequest("unknown authorization request")
	}
	req, err := p.Store.GetAuthRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Pending{}, InvalidRequest("unknown authorization request")
	}
	if err != nil {
		return Pending{}, p.storeError(ctx, "get auth request", err)
	}
	if !secret.Equal(req.BrowserHash, secret.Hash(browser)) {
		return Pending{}, InvalidRequest("this authorization request was started in another browser")
	}
	if !req.ConsumedAt.IsZero() || !p.Now().Before(req.ExpiresAt) {
		return Pending{}, InvalidRequest("this authorization request is finished or expired; start again from the application")
	}
	client, err := p.Store.GetClient(ctx, req.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return Pending{}, InvalidRequest("the client no longer exists")
	}
	if err != nil {
		return Pending{}, p.storeError(ctx, "get client", err)
	}
	return Pending{Request: req, Client: client}, nil
}

// SetUser records who signed in for a pending request.
func (p *Provider) SetUser(ctx context.Context, pd *Pending, userID string, authTime time.Time) *Error {
	err := p.Store.SetAuthRequestUser(ctx, pd.Request.ID, userID, authTime)
	if errors.Is(err, store.ErrAlreadyUsed) || errors.Is(err, store.ErrNotFound) {
		return InvalidRequest("this authorization request is finished or expired; start again from the application")
	}
	if err != nil {
		return p.storeError(ctx, "set auth request user", err)
	}
	pd.Request.UserID, pd.Request.AuthTime = userID, authTime
	return nil
}

// AutoApprove finishes a request of a signed-in user without asking, when
// an earlier grant covers every requested scope, or when no requested scope
// needs consent and the client is confidential. done is false when the
// consent page must ask.
func (p *Provider) AutoApprove(ctx context.Context, pd Pending) (loc string, done bool, e *Error) {
	grant, covers, e := p.ExistingGrant(ctx, pd)
	switch {
	case e != nil:
		return "", false, e
	case covers:
		loc, e = p.Approve(ctx, pd, nil, 0, &grant)
	case !pd.Client.Public && !p.Scopes.NeedConsent(pd.Request.Scopes):
		loc, e = p.Approve(ctx, pd, pd.Request.Scopes, 0, nil)
	default:
		return "", false, nil
	}
	return loc, e == nil, e
}

// ExistingGrant returns an active grant of the signed-in user to this client
// that already covers every requested scope, so consent need not be asked
// again.
func (p *Provider) ExistingGrant(ctx context.Context, pd Pending) (store.Grant, bool, *Error) {
	g, err := p.Store.FindActiveGrant(ctx, pd.Request.UserID, pd.Client.ID, p.Now())
	if errors.Is(err, store.ErrNotFound) {
		return store.Grant{}, false, nil
	}
	if err != nil {
		return store.Grant{}, false, p.storeError(ctx, "find grant", err)
	}
	return g, Subset(pd.Request.Scopes, g.Scopes), nil
}

// Approve finishes a pending request with the user's consent: it stores the
// grant (a new one with the chosen scopes and lifetime, or existing) and a
// one-time code in one transaction, and returns the client redirect.
// scopes must be a non-empty subset of the requested scopes.
func (p *Provider) Approve(ctx context.Context, pd Pending, scopes []string, lifetime time.Duration, existing *store.Grant) (string, *Error) {
	req := pd.Request
	if req.UserID == "" {
		return "", AccessDenied("nobody is signed in for this request")
	}
	now := p.Now()
	var grant store.Grant
	if existing != nil {
		grant = *existing
		scopes = req.Scopes
	} else {
		if len(scopes) == 0 || !Subset(scopes, req.Scopes) {
			return "", InvalidScope("choose at least one of the requested scopes")
		}
		grant = store.Grant{ID: secret.RandomString(16), UserID: req.UserID, ClientID: req.ClientID, Scopes: scopes, CreatedAt: now}
		if lifetime > 0 {
			grant.ExpiresAt = now.Add(lifetime)
		}
	}
	if req.ResponseType == "token" {
		return p.approveImplicit(ctx, pd, grant, scopes, now)
	}
	code := secret.New(secret.PrefixCode)
	ac := store.AuthCode{
		Hash:                secret.Hash(string(code)),
		GrantID:             grant.ID,
		ClientID:            req.ClientID,
		UserID:              req.UserID,
		RedirectURI:         req.RedirectURI,
		RedirectURIGiven:    req.RedirectURIGiven,
		Scopes:              scopes,
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: req.CodeChallengeMethod,
		Nonce:               req.Nonce,
		AuthTime:            req.AuthTime,
		CreatedAt:           now,
		ExpiresAt:           capExpiry(now.Add(p.codeTTL(pd.Client)), grant),
	}
	err := p.Store.CompleteAuthRequest(ctx, req.ID, now, &grant, &ac)
	if errors.Is(err, store.ErrAlreadyUsed) || errors.Is(err, store.ErrNotFound) {
		return "", InvalidRequest("this authorization request is finished or expired; start again from the application")
	}
	if err != nil {
		return "", p.storeError(ctx, "complete auth request", err)
	}
	p.Logger.InfoContext(ctx, "authorization code issued", "client_id", req.ClientID, "user_id", req.UserID, "grant_id", grant.ID)
	return pd.Redirect().Location(p.Issuer, url.Values{"code": {string(code)}}), nil
}

// Deny finishes a pending request with the user's refusal: access_denied
// goes back to the client (RFC 6749 §4.1.2.1).
func (p *Provider) Deny(ctx context.Context, pd Pending) (string, *Error) {
	err := p.Store.ConsumeAuthRequest(ctx, pd.Request.ID, p.Now())
	if errors.Is(err, store.ErrAlreadyUsed) || errors.Is(err, store.ErrNotFound) {
		return "", InvalidRequest("this authorization request is finished or expired; start again from the application")
	}
	if err != nil {
		return "", p.storeError(ctx, "consume auth request", err)
	}
	return pd.Redirect().ErrorLocation(p.Issuer, AccessDenied("the user denied the request")), nil
}

// approveImplicit answers an implicit-grant request (RFC 6749 §4.2.2): an
// access token in the fragment, short-lived, never a refresh token.
func (p *Provider) approveImplicit(ctx context.Context, pd Pending, grant store.Grant, scopes []string, now time.Time) (string, *Error) {
	req := pd.Request
	resp, rows, e := p.mint(issuance{
		client: pd.Client, grant: grant, familyID: secret.RandomString(16), scopes: scopes,
		authTime: req.AuthTime, accessTTL: p.Tokens.ImplicitTokenTTL, now: now,
	})
	if e != nil {
		return "", e
	}
	err := p.Store.CompleteAuthRequest(ctx, req.ID, now, &grant, nil)
	if errors.Is(err, store.ErrAlreadyUsed) || errors.Is(err, store.ErrNotFound) {
		return "", InvalidRequest("this authorization request is finished or expired; start again from the application")
	}
	if err == nil {
		err = p.Store.CreateTokens(ctx, rows)
	}
	if err != nil {
		return "", p.storeError(ctx, "complete implicit request", err)
	}
	out := url.Values{"access_token": {resp.AccessToken}, "token_type": {resp.TokenType}, "expires_in": {strconv.FormatInt(resp.ExpiresIn, 10)}}
	// §4.2.2: scope is OPTIONAL if identical to the scope requested.
	if FormatScope(scopes) != FormatScope(req.Scopes) {
		out.Set("scope", resp.Scope)
	}
	p.Logger.InfoContext(ctx, "implicit access token issued", "client_id", req.ClientID, "user_id", req.UserID, "grant_id", grant.ID)
	return pd.Redirect().Location(p.Issuer, out), nil
}
