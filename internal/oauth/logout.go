package oauth

import (
	"context"
	"errors"
	"fmt"
	"github.com/latchkey/latchkey/internal/audit"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/oidc"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// LogoutPath is the end-session endpoint (OpenID Connect RP-Initiated
// Logout 1.0 §2).
const LogoutPath = "/logout"

// LogoutRequest is a checked RP-initiated logout request.
type LogoutRequest struct {
	// Client is the relying party that asked, when it identified itself by
	// client_id or by the audience of id_token_hint.
	Client *store.Client
	// PostLogoutRedirectURI is a URI the client registered, or empty.
	PostLogoutRedirectURI string
	State                 string
	// Hint holds the claims of a valid id_token_hint; HintValid says whether
	// there was one. A logout with a valid hint for the signed-in user needs
	// no confirmation (RP-Initiated Logout §2: without it the OP "SHOULD
	// ask the End-User whether to log out").
	Hint      oidc.IDTokenClaims
	HintValid bool
}

// ParseLogout checks the parameters of an end-session request (RP-Initiated
// Logout §2, §3): id_token_hint, client_id, post_logout_redirect_uri, state.
// A post_logout_redirect_uri that the client did not register is an error
// shown on a page, never followed.
func (p *Provider) ParseLogout(ctx context.Context, q url.Values) (LogoutRequest, *Error) {
	var out LogoutRequest
	for k, vs := range q {
		if len(vs) > 1 {
			return out, duplicated(k)
		}
	}
	if len(q) > maxParamCount {
		return out, InvalidRequest("too many parameters")
	}
	clientID := q.Get("client_id")
	if hint := q.Get("id_token_hint"); hint != "" {
		c, ok := p.verifyOwnIDToken(hint)
		if !ok {
			return out, InvalidRequest("id_token_hint is not an ID token issued by this server")
		}
		if clientID != "" && !c.Audience.Contains(clientID) {
			return out, InvalidRequest("client_id is not the audience of id_token_hint")
		}
		if clientID == "" {
			clientID = c.Audience[0]
		}
		out.Hint, out.HintValid = c, true
	}
	if clientID != "" {
		c, err := p.Store.GetClient(ctx, clientID)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			return out, InvalidRequest("unknown client")
		}
		if err != nil {
			return out, p.storeError(ctx, "get client", err)
		}
		out.Client = &c
	}
	if uri := q.Get("post_logout_redirect_uri"); uri != "" {
		// RP-Initiated Logout §3: the value MUST have been registered,
		// and is compared exactly (no loopback exception here).
		if out.Client == nil {
			return out, InvalidRequest("post_logout_redirect_uri needs client_id or id_token_hint")
		}
		if !slices.Contains(out.Client.PostLogoutRedirectURIs, uri) {
			return out, InvalidRequest("post_logout_redirect_uri is not registered for this client")
		}
		out.PostLogoutRedirectURI = uri
		if len(q.Get("state")) > maxStateLen {
			return out, InvalidRequest("state is longer than %d characters", maxStateLen)
		}
		out.State = q.Get("state")
	}
	return out, nil
}

// AfterLogout is where the browser goes once signed out: the registered
// post-logout redirect URI with state, or "" for Latchkey's own page.
func (lr LogoutRequest) AfterLogout() string {
	if lr.PostLogoutRedirectURI == "" {
		return ""
	}
	if lr.State == "" {
		return lr.PostLogoutRedirectURI
	}
	return AppendQuery(lr.PostLogoutRedirectURI, url.Values{"state": {lr.State}})
}

// SessionEnded notifies every client the ended session signed in to:
// back-channel clients in the background (Back-Channel Logout 1.0 §2.5),
// and it returns the front-channel logout URIs the browser must load
// (Front-Channel Logout 1.0 §2, with iss and sid). With
// RevokeRefreshOnLogout it also revokes those clients' refresh tokens of
// the user (offline access ends with the session).
func (p *Provider) SessionEnded(ctx context.Context, s store.Session) []string {
	if s.ID == "" || len(s.Clients) == 0 {
		return nil
	}
	var frontChannel []string
	for _, id := range s.Clients {
		c, err := p.clients.Get(ctx, id)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				p.Logger.ErrorContext(ctx, "logout: get client", "client_id", id, "err", err)
			}
			continue
		}
		switch {
		case c.BackchannelLogoutURI != "":
			p.sendBackchannelLogout(c, s)
		case c.FrontchannelLogoutURI != "":
			// Front-Channel Logout 1.0 §2: iss and sid, the client's own query kept.
			frontChannel = append(frontChannel, AppendQuery(c.FrontchannelLogoutURI, url.Values{"iss": {p.Issuer}, "sid": {s.ID}}))
		}
	}
	if p.RevokeRefreshOnLogout {
		n, err := p.Store.RevokeRefreshTokens(ctx, s.UserID, s.Clients, p.Now())
		if err != nil {
			p.Logger.ErrorContext(ctx, "logout: revoke refresh tokens", "user_id", s.UserID, "err", err)
		} else {
			p.Logger.InfoContext(ctx, "logout revoked refresh tokens", "user_id", s.UserID, "revoked", n)
			p.Metrics.Revoked("logout")
			p.emit(ctx, audit.Event{Name: audit.EventTokenRevoked, UserID: s.UserID, Reason: "logout",
				Detail: pluralTokens(int(n)) + " revoked at sign-out"})
		}
	}
	return frontChannel
}

// Back-channel delivery bounds: every attempt has a short timeout, a few
// retries follow with growing pauses, and at most backchannelParallel
// deliveries run at once, so a slow or dead application costs the server
// little and never delays the user's logout.
const (
	backchannelTimeout  = jwksFetchTimeout
	backchannelAttempts = 3
	backchannelParallel = 16
	backchannelMaxBody  = 4 << 10
	logoutTokenTTL      = 2 * time.Minute
)

var errBadLogoutURI = errors.New("back-channel logout URI is not allowed")

// backchannel delivers logout tokens.
type backchannel struct {
	client *http.Client
	slots  chan struct{}
	wg     sync.WaitGroup
	pause  time.Duration // first pause between attempts
}

func newBackchannel() *backchannel {
	return &backchannel{
		client: &http.Client{
			Timeout: backchannelTimeout,
			// As jwks_uri fetches: never follow redirects (SECURITY.md S9).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		slots: make(chan struct{}, backchannelParallel),
		pause: 500 * time.Millisecond,
	}
}

// Wait blocks until every logout token in flight is delivered or given up
// (for graceful shutdown and tests).
func (p *Provider) WaitBackchannel() { p.logouts.wg.Wait() }

// sendBackchannelLogout signs a logout token for the client (Back-Channel
// Logout 1.0 §2.4: iss, aud, iat, exp, jti, events, sid and sub, never a
// nonce) and posts it in the background.
func (p *Provider) sendBackchannelLogout(c store.Client, s store.Session) {
	now := p.Now()
	lt := oidc.LogoutTokenClaims{
		Issuer: p.Issuer, Subject: s.UserID, Audience: []string{c.ID}, IssuedAt: now.Unix(),
		Expiry: now.Add(logoutTokenTTL).Unix(), JTI: secret.RandomString(16), SessionID: s.ID,
		Events: map[string]map[string]any{oidc.EventBackchannelLogout: {}},
	}
	tok, err := p.JWT.SignWith(oidc.IDTokenAlg(c.IDTokenAlg), oidc.TypeLogoutToken, lt)
	if err != nil {
		p.Logger.Error("sign logout token", "client_id", c.ID, "err", err)
		return
	}
	b := p.logouts
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.slots <- struct{}{}
		defer func() { <-b.slots }()
		b.deliver(p.Logger, c.ID, c.BackchannelLogoutURI, tok)
	}()
}

// deliver posts the logout token (§2.5: application/x-www-form-urlencoded,
// logout_token), retrying on network errors and 5xx answers. §2.8: the
// RP answers 200 on success, 400 when it refuses the token.
func (b *backchannel) deliver(log *slog.Logger, clientID, uri, tok string) {
	body := url.Values{"logout_token": {tok}}.Encode()
	pause := b.pause
	for attempt := 1; ; attempt++ {
		status, err := b.post(uri, body)
		switch {
		case err == nil && status >= 200 && status < 300:
			log.Info("back-channel logout delivered", "client_id", clientID)
			return
		case err == nil && status < 500:
			log.Warn("back-channel logout refused by the client", "client_id", clientID, "status", status)
			return
		case attempt == backchannelAttempts:
			log.Warn("back-channel logout not delivered", "client_id", clientID, "status", status, "err", err)
			return
		case errors.Is(err, errBadLogoutURI):
			log.Warn("back-channel logout URI refused", "client_id", clientID, "err", err)
			return
		}
		time.Sleep(pause)
		pause *= 2
	}
}

func (b *backchannel) post(uri, body string) (int, error) {
	// Checked at registration; checked again here, as jwks_uri is, so a
	// row changed behind the server's back cannot aim it elsewhere.
	if err := checkOpenIDClientURL(uri); err != nil {
		return 0, fmt.Errorf("%w: %v", errBadLogoutURI, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), backchannelTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, backchannelMaxBody))
	resp.Body.Close()
	return resp.StatusCode, nil
}
