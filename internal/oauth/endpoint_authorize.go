package oauth

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/session"
)

// HandleAuthorize is the authorization endpoint (RFC 6749 §3.1, §4.1.1),
// answering GET and POST. It validates the request, binds it to this browser
// and sends the browser on to sign in, to consent, or straight back to the
// client when a signed-in user already granted every requested scope.
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
	if e != nil {
		p.ErrorPage(w, r, e)
		return
	}

	pd, to, e := p.authorizeRequest(ctx, q)
	if e == nil && dup != "" {
		e = duplicated(dup)
	}
	if e != nil {
		if to == nil {
			p.ErrorPage(w, r, e)
			return
		}
		p.Logger.InfoContext(ctx, "authorization request refused", "client_id", pd.Client.ID, "error", e.Code, "description", e.Description)
		RedirectBrowser(w, r, to.ErrorLocation(p.Issuer, e))
		return
	}

	req := &pd.Request
	req.BrowserHash = secret.Hash(p.Sessions.Browser(w, r))
	sess, err := p.Sessions.Current(ctx, r)
	signedIn := err == nil
	if err != nil && !errors.Is(err, session.ErrNoSession) {
		p.ErrorPage(w, r, p.storeError(ctx, "get session", err))
		return
	}
	if signedIn {
		req.UserID, req.AuthTime = sess.UserID, sess.AuthTime
	}
	if err := p.Store.CreateAuthRequest(ctx, *req); err != nil {
		p.ErrorPage(w, r, p.storeError(ctx, "create auth request", err))
		return
	}
	next := LoginPath
	if signedIn {
		loc, done, e := p.AutoApprove(ctx, pd)
		if e != nil {
			p.ErrorPage(w, r, e)
			return
		}
		if done {
			RedirectBrowser(w, r, loc)
			return
		}
		next = ConsentPath
	}
	RedirectBrowser(w, r, next+"?"+url.Values{"request": {req.ID}}.Encode())
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
