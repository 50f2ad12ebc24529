package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/oidc"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
)

// HandleAuthorize is the authorization endpoint (RFC 6749 §3.1, §4.1.1;
// OpenID Connect Core §3.1.2), answering GET and POST. It validates the
// request, binds it to this browser and sends the browser on to sign in,
// to consent, or straight back to the client when the single sign-on
// session and an earlier consent answer it.
func (p *Provider) HandleAuthorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var q params
	var dup string
	var e *Error
	switch r.Method {
	case http.MethodGet:
		if len(r.URL.RawQuery) > maxQueryBytes {
			e = InvalidRequest("the request is too long")
		} else {
			q, dup, e = parseParams(r.URL.RawQuery)
		}
	case http.MethodPost:
		if r.URL.RawQuery != "" {
			e = InvalidRequest("a POST authorization request carries its parameters in the body only")
		} else {
			q, dup, e = readFormBody(w, r)
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		e = &Error{Code: "invalid_request", Status: http.StatusMethodNotAllowed, Description: "use GET or POST"}
	}
	if e == nil && (dup == "client_id" || dup == "redirect_uri") {
		e = duplicated(dup)
	}
	// A request_uri names a pushed request, consumed here (RFC 9126 §4); a
	// request is a request object (RFC 9101 §5). Either one's parameters
	// are the request's.
	o := sentDirectly
	_, pushed := q["request_uri"]
	_, signed := q["request"]
	switch {
	case e != nil:
	case (pushed || signed) && dup != "":
		e = duplicated(dup)
	case pushed && signed:
		e = InvalidRequest("send request or request_uri, not both (RFC 9101 §5)")
	case pushed:
		o = pushedBefore
		q, e = p.pushedRequest(r, q)
	case signed:
		o = sentSigned
		q, e = p.frontRequestObject(ctx, q)
	}
	if e != nil {
		p.ErrorPage(w, r, e)
		return
	}

	pd, to, e := p.authorizeRequest(ctx, q, o)
	if e == nil && dup != "" {
		e = duplicated(dup)
	}
	if e != nil {
		if to == nil || p.untrustedRedirect(ctx, r, pd) {
			p.ErrorPage(w, r, e)
			return
		}
		p.Logger.InfoContext(ctx, "authorization request refused", "client_id", pd.Client.ID, "error", e.Code, "description", e.Description)
		p.Respond(w, r, to.ErrorResponse(e))
		return
	}

	req := &pd.Request
	req.BrowserHash = secret.Hash(p.Sessions.Browser(w, r))
	req.Device = DescribeDevice(r.UserAgent())
	sess, err := p.Sessions.Current(ctx, r)
	if err != nil && !errors.Is(err, session.ErrNoSession) {
		p.ErrorPage(w, r, p.storeError(ctx, "get session", err))
		return
	}
	signedIn := err == nil && !p.mustSignIn(pd, sess)
	prompt := pd.Prompt()
	if prompt.Has(oidc.PromptNone) && !signedIn {
		// Core §3.1.2.6: "The Authorization Server MUST NOT display any
		// authentication or consent user interface pages" with none. An
		// error page is neither, and is what a self-registered client gets
		// (untrustedRedirect).
		e := newError("login_required", 400, "the user is not signed in")
		if pd.Client.SelfRegistered && err != nil {
			p.ErrorPage(w, r, e)
			return
		}
		p.Respond(w, r, to.ErrorResponse(e))
		return
	}
	if signedIn {
		req.UserID, req.SessionID, req.AuthTime = sess.UserID, sess.ID, sess.AuthTime
		pd.Session = &sess
	}
	// A pending request of a browser nobody signed in to is a row written
	// for anyone who knows a client id: bounded per address (expired rows
	// are purged as new ones come). A signed-in user's request is finished
	// at once or answered on the consent page.
	if ok, wait := p.anonymousLimit(r, signedIn); !ok {
		p.Logger.WarnContext(ctx, "authorization requests throttled", "client_id", pd.Client.ID, "client", clientip.Of(r))
		p.Metrics.Throttled("authorize")
		p.ErrorPage(w, r, &Error{Code: "temporarily_unavailable", Status: http.StatusTooManyRequests,
			Description: "too many sign-in requests from your network; wait a minute and try again", RetryAfter: int(wait/time.Second) + 1})
		return
	}
	// RFC 7636 §4.1: a verifier, hence its challenge, is made anew for
	// each request. One seen in another browser's live request was copied:
	// an attacker injecting their own challenge into a victim's flow.
	if req.CodeChallenge != "" {
		inUse, err := p.Store.ChallengeInUse(ctx, req.CodeChallenge, req.BrowserHash, p.Now())
		if err != nil {
			p.ErrorPage(w, r, p.storeError(ctx, "check code challenge", err))
			return
		}
		if inUse {
			p.Logger.WarnContext(ctx, "PKCE code challenge replayed from another browser", "client_id", pd.Client.ID, "client", clientip.Of(r))
			p.Respond(w, r, to.ErrorResponse(InvalidRequest("this code_challenge is in use by another request; make a new code_verifier for each request")))
			return
		}
	}
	if !signedIn {
		if p.saveRequest(w, r, req) {
			RedirectBrowser(w, r, LoginPath+"?"+url.Values{"request": {req.ID}}.Encode())
		}
		return
	}
	// Signed in: when consent is known the request is answered now, and
	// stored with its answer in one transaction; else stored for the
	// consent page.
	pd.unsaved = true
	resp, done, e := p.AutoApprove(ctx, pd)
	if e == nil && !done && prompt.Has(oidc.PromptNone) {
		resp, e = p.Refuse(ctx, pd, newError("consent_required", 400, "the user has not consented to this request"))
		done = e == nil
	}
	if e != nil {
		p.ErrorPage(w, r, e)
		return
	}
	if done {
		p.Respond(w, r, resp)
		return
	}
	if p.saveRequest(w, r, req) {
		RedirectBrowser(w, r, ConsentPath+"?"+url.Values{"request": {req.ID}}.Encode())
	}
}

// saveRequest stores a request that a page (sign-in, consent) will finish,
// and reports whether it did; else it has answered with the error page.
func (p *Provider) saveRequest(w http.ResponseWriter, r *http.Request, req *store.AuthRequest) bool {
	if err := p.Store.CreateAuthRequest(r.Context(), *req); err != nil {
		p.ErrorPage(w, r, p.storeError(r.Context(), "create auth request", err))
		return false
	}
	return true
}

// mustSignIn reports whether the request asks for a new sign-in although
// the browser has a session: prompt=login or select_account, an
// authentication older than max_age ("the End-User MUST be actively
// re-authenticated", Core §3.1.2.1), or an id_token_hint naming another user.
func (p *Provider) mustSignIn(pd Pending, sess store.Session) bool {
	prompt := pd.Prompt()
	if prompt.Has(oidc.PromptLogin) || prompt.Has(oidc.PromptSelectAccount) {
		return true
	}
	if m := pd.Request.MaxAge; m == 0 || m > 0 && p.Now().Sub(sess.AuthTime) > time.Duration(m)*time.Second {
		return true
	}
	return pd.HintSubject != "" && pd.HintSubject != sess.UserID
}

// RedirectBrowser answers 302 to a GET and 303 to anything else, so that a browser
// never re-posts a form body to the client (RFC 9700 §4.12).
func RedirectBrowser(w http.ResponseWriter, r *http.Request, loc string) {
	status := http.StatusFound
	if r.Method != http.MethodGet {
		status = http.StatusSeeOther
	}
	w.Header().Set("Location", loc)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
}

// untrustedRedirect reports whether an error for pd must be shown on the
// error page rather than sent to the client's redirect URI: the client
// registered itself, so its redirect URI is whatever a stranger chose, and
// nobody is signed in in this browser. Redirecting would make Latchkey an
// open redirector for anyone who can register (RFC 9700 §4.11.2: "only
// automatically redirect the user agent if it trusts the redirect URI").
func (p *Provider) untrustedRedirect(ctx context.Context, r *http.Request, pd Pending) bool {
	if !pd.Client.SelfRegistered {
		return false
	}
	_, err := p.Sessions.Current(ctx, r)
	return err != nil
}
