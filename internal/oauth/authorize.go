package oauth

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/oidc"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// maxStateLen bounds the state value echoed back to the client.
const maxStateLen = 2048

// maxHintLen bounds login_hint, acr_values and ui_locales.
const maxHintLen = 512

// authorizeRequest checks an authorization request (RFC 6749 §4.1.1, OpenID
// Connect Core §3.1.2.1) and returns it, not yet stored, with its client.
// When client_id or redirect_uri cannot be trusted it returns an error and a
// nil Redirect: the caller shows an error page and MUST NOT redirect
// (§4.1.2.1). Every later error comes with the Redirect to send it to.
// o says how the parameters came: a client that must push them (RFC 9126
// §6) or sign them (RFC 9101 §10.5) is refused others on the error page.
func (p *Provider) authorizeRequest(ctx context.Context, q params, o origin) (Pending, *Redirect, *Error) {
	clientID := q["client_id"]
	if clientID == "" {
		return Pending{}, nil, InvalidRequest("client_id is missing")
	}
	client, e := p.requestingClient(ctx, clientID)
	if e != nil {
		return Pending{}, nil, e
	}
	p.noteUse(ctx, client)
	if !o.pushed() && p.requiresPAR(client) {
		return Pending{}, nil, InvalidRequest("this client must push its authorization requests to the pushed authorization request endpoint (RFC 9126)")
	}
	if o.unsigned() && client.RequireSignedRequestObject {
		return Pending{}, nil, InvalidRequest("this client must send its authorization requests as signed request objects (RFC 9101)")
	}
	redirectURI, given := q["redirect_uri"]
	switch {
	case given && !MatchRedirectURI(client.RedirectURIs, redirectURI):
		return Pending{}, nil, InvalidRequest("redirect_uri is not registered for this client")
	case !given && isFAPI2(client):
		// FAPI 2.0 §5.3.2.2: "shall require the redirect_uri parameter in
		// pushed authorization requests".
		return Pending{}, nil, InvalidRequest("redirect_uri is missing (required by the FAPI 2.0 profile)")
	case !given && hasOpenID(q["scope"]):
		// OpenID Connect Core §3.1.2.1: redirect_uri is REQUIRED.
		return Pending{}, nil, InvalidRequest("redirect_uri is missing (required by OpenID Connect)")
	case !given && len(client.RedirectURIs) != 1:
		// RFC 6749 §3.1.2.3: with several registered URIs the request MUST name one.
		return Pending{}, nil, InvalidRequest("redirect_uri is missing")
	case !given:
		redirectURI = client.RedirectURIs[0]
	}
	to := &Redirect{URI: redirectURI, State: q["state"]}
	pd := Pending{Client: client}
	if len(to.State) > maxStateLen {
		to.State = ""
		return pd, to, InvalidRequest("state is longer than %d characters", maxStateLen)
	}

	rt, rtErr := parseResponseType(q["response_type"])
	if rt.fragmentDefault() {
		// Responses carrying tokens travel in the fragment, errors too
		// (RFC 6749 §4.2.2.1; Multiple Response Types §3).
		to.Mode = ModeFragment
	}
	if e := setResponseMode(to, rt, q["response_mode"]); e != nil {
		return pd, to, e
	}
	if rtErr != nil {
		return pd, to, rtErr
	}
	if rt.code && !AllowsGrant(client, GrantAuthorizationCode) {
		return pd, to, UnauthorizedClient("this client may not use the authorization code grant")
	}
	if (rt.token || rt.idToken) && !AllowsGrant(client, GrantImplicit) {
		return pd, to, UnauthorizedClient("this client may not receive tokens from the authorization endpoint (implicit grant)")
	}
	scopes, e := p.requestedScopes(client, q["scope"], false)
	if e != nil {
		return pd, to, e
	}
	openid := slices.Contains(scopes, oidc.ScopeOpenID)
	if !openid && !rt.plainOAuth() {
		return pd, to, InvalidRequest("response_type %s needs the openid scope", q["response_type"])
	}
	// Core §3.2.2.1, §3.3.2.11: nonce is REQUIRED when tokens come from
	// the authorization endpoint.
	if openid && (rt.token || rt.idToken) && q["nonce"] == "" {
		return pd, to, InvalidRequest("nonce is required for this response_type (OpenID Connect Core §3.2.2.1)")
	}
	if len(q["nonce"]) > maxStateLen {
		return pd, to, InvalidRequest("nonce is longer than %d characters", maxStateLen)
	}
	oi, e := p.openIDParams(q)
	if e != nil {
		return pd, to, e
	}
	// RFC 8707 §2: refused here, before the user is asked, with
	// invalid_target.
	resources := q.list(paramResource)
	if _, e := p.targetFor(ctx, client, scopes, resources, nil); e != nil {
		return pd, to, e
	}

	challenge, method := q["code_challenge"], q["code_challenge_method"]
	switch {
	case !rt.code:
		// PKCE protects a code; without one there is nothing to bind.
		challenge, method = "", ""
	case challenge == "" && method != "":
		return pd, to, InvalidRequest("code_challenge_method without code_challenge")
	case challenge == "" && client.Public:
		// RFC 9700 §2.1.1: public clients MUST use PKCE.
		return pd, to, InvalidRequest("PKCE is required for public clients (code_challenge with S256)")
	case challenge == "" && isFAPI2(client):
		// FAPI 2.0 §5.3.2.2: "shall require [RFC7636] with S256".
		return pd, to, InvalidRequest("PKCE is required by the FAPI 2.0 profile (code_challenge with S256)")
	case challenge != "" && method != pkceS256:
		return pd, to, InvalidRequest("code_challenge_method must be S256 (plain is not supported)")
	case challenge != "" && !validChallenge(challenge):
		return pd, to, InvalidRequest("code_challenge is not a base64url SHA-256 value")
	}

	// RFC 9449 §10: dpop_jkt binds the code to the key whose proof must
	// come with its redemption; a SHA-256 JWK thumbprint, base64url.
	jkt := q["dpop_jkt"]
	switch {
	case !rt.code:
		jkt = ""
	case jkt != "" && !validChallenge(jkt):
		return pd, to, InvalidRequest("dpop_jkt is not a base64url SHA-256 JWK thumbprint")
	}

	now := p.Now()
	pd.Request = store.AuthRequest{
		ID:                  string(secret.New(secret.PrefixAuthRequest)),
		DPoPJKT:             jkt,
		ClientID:            client.ID,
		RedirectURI:         redirectURI,
		RedirectURIGiven:    given,
		ResponseType:        rt.String(),
		ResponseMode:        q["response_mode"],
		Scopes:              scopes,
		State:               to.State,
		CodeChallenge:       challenge,
		CodeChallengeMethod: method,
		Nonce:               q["nonce"],
		Prompt:              oi.prompt.String(),
		MaxAge:              oi.maxAge,
		LoginHint:           q["login_hint"],
		ACRValues:           q["acr_values"],
		UILocales:           q["ui_locales"],
		Claims:              q["claims"],
		Resources:           resources,
		CreatedAt:           now,
		ExpiresAt:           now.Add(p.AuthRequestTTL),
	}
	pd.HintSubject = oi.hintSubject
	return pd, to, nil
}

// requestingClient is the client an authorization request names, from the
// client cache as at the token endpoint (a registration change reaches
// this node within clientCacheTTL); an unknown id is invalid_request.
func (p *Provider) requestingClient(ctx context.Context, clientID string) (store.Client, *Error) {
	client, err := p.clients.Get(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return store.Client{}, InvalidRequest("unknown client")
	}
	if err != nil {
		return store.Client{}, p.storeError(ctx, "get client", err)
	}
	return client, nil
}

// openIDRequest holds the OpenID Connect parameters that steer sign-in.
type openIDRequest struct {
	prompt      oidc.Prompt
	maxAge      int64 // -1: absent
	hintSubject string
}

// openIDParams checks prompt, max_age, display, claims, login_hint,
// acr_values, ui_locales and id_token_hint (Core §3.1.2.1, §5.5). They mean
// nothing without openid but are checked alike, so a bad value is never
// silently dropped.
func (p *Provider) openIDParams(q params) (openIDRequest, *Error) {
	out := openIDRequest{maxAge: -1}
	var err error
	if out.prompt, err = oidc.ParsePrompt(q["prompt"]); err != nil {
		return out, InvalidRequest("prompt: %v", err)
	}
	if raw, ok := q["max_age"]; ok {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 || n > 1<<31 {
			return out, InvalidRequest("max_age must be a non-negative number of seconds")
		}
		out.maxAge = n
	}
	if !oidc.ValidDisplay(q["display"]) {
		return out, InvalidRequest("display must be page, popup, touch or wap")
	}
	if _, err := oidc.ParseClaimsRequest(q["claims"]); err != nil {
		return out, InvalidRequest("%v", err)
	}
	for _, k := range []string{"login_hint", "acr_values", "ui_locales", "claims_locales"} {
		if len(q[k]) > maxHintLen {
			return out, InvalidRequest("%s is longer than %d characters", k, maxHintLen)
		}
	}
	if hint, ok := q["id_token_hint"]; ok {
		c, ok := p.verifyOwnIDToken(hint)
		if !ok {
			return out, InvalidRequest("id_token_hint is not an ID token issued by this server")
		}
		out.hintSubject = c.Subject
	}
	return out, nil
}

// requestedScopes parses the scope parameter and checks it against the
// registry and the client. Omitted, it defaults to every scope the client is
// registered for (RFC 6749 §3.3 lets the server use a pre-defined default);
// the consent page still shows each one.
func (p *Provider) requestedScopes(client store.Client, raw string, forClient bool) ([]string, *Error) {
	if raw == "" {
		defaults := client.Scopes
		if !forClient {
			defaults = withoutAdminScopes(defaults)
		}
		if len(defaults) == 0 {
			return nil, InvalidScope("scope is missing and the client has no default scopes")
		}
		return append([]string(nil), defaults...), nil
	}
	scopes, e := ParseScope(raw)
	if e != nil {
		return nil, e
	}
	if len(scopes) == 0 {
		return nil, InvalidScope("scope is empty")
	}
	for _, s := range scopes {
		if IsAdminScope(s) && !forClient {
			return nil, InvalidScope("the admin scopes are granted only through client_credentials")
		}
		if !p.Scopes.Known(s) && !IsAdminScope(s) {
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
	// Session is the browser's single sign-on session, when the caller
	// has it: the client is recorded on it once the request succeeds.
	Session *store.Session
	// HintSubject is the sub of a valid id_token_hint (not stored).
	HintSubject string
	// unsaved: Request is not stored yet. A signed-in user's request that
	// needs no page is answered at once, and its row written with the
	// answer, in the answer's transaction.
	unsaved bool
}

// Redirect returns where this request's response goes.
func (pd Pending) Redirect() Redirect {
	rt, _ := parseResponseType(pd.Request.ResponseType)
	to := Redirect{URI: pd.Request.RedirectURI, State: pd.Request.State}
	if rt.fragmentDefault() {
		to.Mode = ModeFragment
	}
	if pd.Request.ResponseMode != "" {
		to.Mode = pd.Request.ResponseMode
	}
	return to
}

// Prompt is the request's parsed prompt parameter.
func (pd Pending) Prompt() oidc.Prompt {
	pr, _ := oidc.ParsePrompt(pd.Request.Prompt)
	return pr
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

// SetUser records who signed in for a pending request, with their session.
func (p *Provider) SetUser(ctx context.Context, pd *Pending, sess store.Session) *Error {
	err := p.Store.SetAuthRequestUser(ctx, pd.Request.ID, sess.UserID, sess.ID, sess.AuthTime)
	if errors.Is(err, store.ErrAlreadyUsed) || errors.Is(err, store.ErrNotFound) {
		return InvalidRequest("this authorization request is finished or expired; start again from the application")
	}
	if err != nil {
		return p.storeError(ctx, "set auth request user", err)
	}
	pd.Request.UserID, pd.Request.SessionID, pd.Request.AuthTime = sess.UserID, sess.ID, sess.AuthTime
	pd.Session = &sess
	return nil
}

// MustAsk reports whether the consent page must be shown whatever was
// granted before: prompt=consent (Core §3.1.2.1), or a public native client
// (RFC 8252 §8.6: "the authorization server SHOULD NOT process authorization
// requests automatically without user consent or interaction, except when
// the identity of the client can be assured"). A loopback or private-use
// redirect URI can be claimed by any program on the device, so another
// program could use the app's client id and get a code silently. A
// self-registered client is always asked for too (RFC 6819 §5.2.3.2: its
// identity is whatever its registrant claimed), so prompt=none answers it
// consent_required.
func (pd Pending) MustAsk() bool {
	return pd.Prompt().Has(oidc.PromptConsent) || pd.Client.Public && IsNativeRedirectURI(pd.Request.RedirectURI) ||
		pd.Client.SelfRegistered
}

// AutoApprove finishes a request of a signed-in user without asking when
// the user's consent is already known: an earlier grant covers every
// requested scope, the client is a confidential first-party application,
// or no requested scope needs consent and the client is confidential.
// done is false when the consent page must ask.
func (p *Provider) AutoApprove(ctx context.Context, pd Pending) (resp Response, done bool, e *Error) {
	if pd.MustAsk() {
		return Response{}, false, nil
	}
	grant, covers, e := p.ExistingGrant(ctx, pd)
	switch {
	case e != nil:
		return Response{}, false, e
	case covers:
		resp, e = p.Approve(ctx, pd, nil, KeepLifetime, &grant)
	case !pd.Client.Public && (pd.Client.FirstParty && !p.AskFirstParty || !p.Scopes.NeedConsent(pd.Request.Scopes)):
		resp, e = p.Approve(ctx, pd, pd.Request.Scopes, KeepLifetime, nil)
	default:
		return Response{}, false, nil
	}
	return resp, e == nil, e
}

// ExistingGrant returns the signed-in user's active grant to this client
// (one per app) and whether it already covers every requested scope, so
// consent need not be asked again; g is zero without an active grant.
func (p *Provider) ExistingGrant(ctx context.Context, pd Pending) (g store.Grant, covers bool, e *Error) {
	g, found, e := p.findGrant(ctx, pd.Request.UserID, pd.Client.ID)
	if e != nil || !found || !g.Active(p.Now()) {
		return store.Grant{}, false, e
	}
	return g, Subset(pd.Request.Scopes, g.Scopes), nil
}

// findGrant returns the user's unrevoked grant to the client (one per
// app), expired or not, and whether there is one.
func (p *Provider) findGrant(ctx context.Context, userID, clientID string) (store.Grant, bool, *Error) {
	g, err := p.Store.FindGrant(ctx, userID, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Grant{}, false, nil
	}
	if err != nil {
		return store.Grant{}, false, p.storeError(ctx, "find grant", err)
	}
	return g, true, nil
}

// KeepLifetime, as Approve's lifetime, keeps the app's grant's own
// lifetime (a new grant lasts until revoked): nobody chose one.
const KeepLifetime time.Duration = -1

// extendGrant returns g, the user's grant to the client as findGrant found
// it, with scopes added (one grant per app: DESIGN.md "Grants and
// consent"): an active grant keeps its scopes and gains these; an expired
// one is renewed with these alone; without one, a new grant. lifetime
// (from now; 0 until revoked) replaces its expiry unless it is
// KeepLifetime.
func (p *Provider) extendGrant(g store.Grant, found bool, userID, clientID string, scopes []string, lifetime time.Duration) store.Grant {
	now := p.Now()
	switch {
	case !found:
		g = store.Grant{ID: secret.RandomString(16), UserID: userID, ClientID: clientID, Scopes: scopes, CreatedAt: now}
	case g.Active(now):
		g.Scopes = Union(g.Scopes, scopes)
	default: // expired: renewed with what was granted now
		g.Scopes, g.ExpiresAt = scopes, time.Time{}
	}
	switch {
	case lifetime > 0:
		g.ExpiresAt = now.Add(lifetime)
	case lifetime == 0:
		g.ExpiresAt = time.Time{}
	}
	return g
}

// errFinished is the answer to a request that was finished, expired or
// lost in between.
func errFinished() *Error {
	return InvalidRequest("this authorization request is finished or expired; start again from the application")
}

// Approve finishes a pending request with the user's consent: it saves the
// app's grant (existing, when it covers the request; else the one grant
// of this user and app, extended with scopes and given lifetime, see
// extendGrant) with a one-time code in one transaction, and returns the
// response for the client, which holds what the response type asks for (a
// code, an access token, an ID token, or several: Core §3.3.2.5). scopes
// must be among the requested scopes; the request gets every requested
// scope the grant then holds, at least one.
func (p *Provider) Approve(ctx context.Context, pd Pending, scopes []string, lifetime time.Duration, existing *store.Grant) (Response, *Error) {
	req := pd.Request
	if req.UserID == "" {
		return Response{}, AccessDenied("nobody is signed in for this request")
	}
	for attempt := 1; ; attempt++ {
		resp, e := p.approve(ctx, pd, scopes, lifetime, existing)
		// Two first consents to one app at once: the other made the
		// grant, which this one now extends.
		if e != errGrantRace || attempt == 2 {
			return resp, e
		}
		existing = nil
	}
}

// errGrantRace: another consent created the app's grant meanwhile.
var errGrantRace = &Error{Code: "temporarily_unavailable", Status: 503, Description: "another consent for this app finished at the same time; try again", RetryAfter: 1}

func (p *Provider) approve(ctx context.Context, pd Pending, scopes []string, lifetime time.Duration, existing *store.Grant) (Response, *Error) {
	req := pd.Request
	now := p.Now()
	var grant store.Grant
	if existing != nil {
		grant = *existing
	} else {
		if !Subset(scopes, req.Scopes) {
			return Response{}, InvalidScope("choose among the requested scopes")
		}
		current, found, e := p.findGrant(ctx, req.UserID, req.ClientID)
		if e != nil {
			return Response{}, e
		}
		grant = p.extendGrant(current, found, req.UserID, req.ClientID, scopes, lifetime)
	}
	// What this request gets: the requested scopes the grant now holds.
	scopes = Intersect(req.Scopes, grant.Scopes)
	if len(scopes) == 0 {
		return Response{}, InvalidScope("choose at least one of the requested scopes")
	}
	rt, _ := parseResponseType(req.ResponseType)
	acr := oidc.ACRSession
	if !req.AuthTime.Before(req.CreatedAt) {
		acr = oidc.ACRLogin // the user signed in for this very request
	}
	out := url.Values{}
	var ac *store.AuthCode
	var code string
	familyID := secret.RandomString(16)
	if rt.code {
		code = string(secret.New(secret.PrefixCode))
		ac = &store.AuthCode{
			Hash:                secret.Hash(code),
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
			SessionID:           req.SessionID,
			ACR:                 acr,
			Claims:              req.Claims,
			Resources:           req.Resources,
			CreatedAt:           now,
			ExpiresAt:           capExpiry(now.Add(p.codeTTL(pd.Client)), grant),
			Device:              req.Device,
			DPoPJKT:             req.DPoPJKT,
		}
		// A replayed code revokes the tokens of its family, those
		// issued here with it included.
		familyID = ac.Hash
		out.Set("code", code)
	}
	var rows []store.Token
	var accessToken string
	if rt.token {
		t, e := p.targetFor(ctx, pd.Client, scopes, req.Resources, nil)
		if e != nil {
			return Response{}, e
		}
		resp, issued, e := p.mint(issuance{
			client: pd.Client, grant: grant, familyID: familyID, scopes: t.scopes, audience: t.audience, claims: req.Claims,
			authTime: req.AuthTime, accessTTL: p.Tokens.ImplicitTokenTTL, now: now, device: req.Device,
		})
		if e != nil {
			return Response{}, e
		}
		rows, accessToken = issued, resp.AccessToken
		out.Set("access_token", resp.AccessToken)
		out.Set("token_type", resp.TokenType)
		out.Set("expires_in", strconv.FormatInt(resp.ExpiresIn, 10))
		// RFC 6749 §4.2.2: scope is OPTIONAL if identical to the scope requested.
		if resp.Scope != FormatScope(req.Scopes) {
			out.Set("scope", resp.Scope)
		}
	}
	if rt.idToken {
		idt, e := p.signIDToken(ctx, idTokenInput{
			client: pd.Client, userID: req.UserID, authTime: req.AuthTime, nonce: req.Nonce,
			sessionID: req.SessionID, acr: acr, code: code, accessToken: accessToken,
			scopes: scopes, claims: req.Claims, now: now,
		})
		if e != nil {
			return Response{}, e
		}
		out.Set("id_token", idt)
	}
	// An existing grant that covers the request is not written again.
	save := &grant
	if existing != nil && lifetime == KeepLifetime {
		save = nil
	}
	var err error
	if pd.unsaved {
		req.ConsumedAt = now
		err = p.Store.CreateCompletedAuthRequest(ctx, req, save, ac)
	} else {
		err = p.Store.CompleteAuthRequest(ctx, req.ID, now, save, ac)
	}
	if errors.Is(err, store.ErrConflict) && existing == nil {
		return Response{}, errGrantRace
	}
	if errors.Is(err, store.ErrAlreadyUsed) || errors.Is(err, store.ErrNotFound) {
		return Response{}, errFinished()
	}
	if err == nil && len(rows) > 0 {
		err = p.Store.CreateTokens(ctx, rows)
	}
	if err != nil {
		return Response{}, p.storeError(ctx, "complete auth request", err)
	}
	p.recordSessionClient(ctx, pd)
	if lifetime != KeepLifetime {
		p.Activity.Record(ctx, store.Activity{UserID: req.UserID, ClientID: req.ClientID, Kind: store.ActivityConsented,
			Device: req.Device, Detail: FormatScope(grant.Scopes)})
	}
	if rt.token {
		p.Metrics.TokenIssued(GrantImplicit, p.accessFormat(pd.Client), req.ClientID)
		p.Activity.RecordWith(ctx, store.Activity{UserID: req.UserID, ClientID: req.ClientID, Kind: store.ActivityIssued,
			Device: req.Device, Detail: FormatScope(scopes)}, p.issuedEvent(GrantImplicit, pd.Client))
	}
	p.Logger.InfoContext(ctx, "authorization approved", "client_id", req.ClientID, "user_id", req.UserID, "grant_id", grant.ID, "response_type", req.ResponseType)
	return Response{To: pd.Redirect(), Params: out}, nil
}

// recordSessionClient notes on the browser's session that the user signed
// in to this client, so that single logout notifies it. A failure is
// logged: the user is signed in to the client either way.
func (p *Provider) recordSessionClient(ctx context.Context, pd Pending) {
	s := pd.Session
	if s == nil || s.ID != pd.Request.SessionID || slices.Contains(s.Clients, pd.Client.ID) {
		return
	}
	if err := p.Store.AddSessionClient(ctx, s.Hash, pd.Client.ID, p.Now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		p.Logger.ErrorContext(ctx, "record session client", "client_id", pd.Client.ID, "err", err)
	}
}

// Deny finishes a pending request with the user's refusal: access_denied
// goes back to the client (RFC 6749 §4.1.2.1).
func (p *Provider) Deny(ctx context.Context, pd Pending) (Response, *Error) {
	err := p.Store.ConsumeAuthRequest(ctx, pd.Request.ID, p.Now())
	if errors.Is(err, store.ErrAlreadyUsed) || errors.Is(err, store.ErrNotFound) {
		return Response{}, errFinished()
	}
	if err != nil {
		return Response{}, p.storeError(ctx, "consume auth request", err)
	}
	return pd.Redirect().ErrorResponse(AccessDenied("the user denied the request")), nil
}

// Refuse finishes a pending request with an error for the client, such as
// login_required for prompt=none (Core §3.1.2.6).
func (p *Provider) Refuse(ctx context.Context, pd Pending, e *Error) (Response, *Error) {
	if pd.unsaved {
		return pd.Redirect().ErrorResponse(e), nil
	}
	if err := p.Store.ConsumeAuthRequest(ctx, pd.Request.ID, p.Now()); err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrAlreadyUsed) {
		return Response{}, p.storeError(ctx, "consume auth request", err)
	}
	return pd.Redirect().ErrorResponse(e), nil
}
