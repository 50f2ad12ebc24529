package web

import (
	"errors"
	"net/http"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/session"
)

// logoutParams are the end-session parameters a confirmation form carries
// on (RP-Initiated Logout 1.0 §2).
var logoutParams = []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales", "logout_hint"}

type logoutField struct{ Name, Value string }

type logoutData struct {
	Title, CSRF, ClientName string
	Fields                  []logoutField
}

type loggedOutData struct {
	Title, Next string
	Frames      []string
}

// logout is the end-session endpoint (GET and POST) and the sign-out
// button of Latchkey's pages. A request carrying this browser's CSRF token
// is the user's own decision and signs out at once. Otherwise the sign-out
// happens without a question only with an id_token_hint for the signed-in
// user; anyone else gets a confirmation page, so that a third-party link
// or form cannot sign the user out (RP-Initiated Logout §2: "the OP SHOULD
// ask the End-User whether to log out").
func (pg *Pages) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	confirmed := false
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if r.ParseForm() != nil {
			pg.ErrorPage(w, r, oauth.InvalidRequest("the form could not be read"))
			return
		}
		q = r.PostForm
		if tok, ok := q["csrf_token"]; ok {
			if !pg.sessions.CheckCSRF(r, "logout", formValue(r, "csrf_token")) {
				pg.ErrorPage(w, r, &oauth.Error{Code: "invalid_request", Status: http.StatusForbidden, Description: "the form expired or came from another site; go back and try again"})
				return
			}
			confirmed = len(tok) == 1
			q.Del("csrf_token") // not an end-session parameter
		}
	}
	lr, e := pg.oauth.ParseLogout(ctx, q)
	if e != nil {
		pg.ErrorPage(w, r, e)
		return
	}
	sess, err := pg.sessions.Current(ctx, r)
	if err != nil && !errors.Is(err, session.ErrNoSession) {
		pg.logger.ErrorContext(ctx, "get session", "err", err)
		pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
		return
	}
	signedIn := err == nil
	if signedIn && !confirmed && !(lr.HintValid && lr.Hint.Subject == sess.UserID) {
		browser := pg.sessions.Browser(w, r)
		data := logoutData{Title: "Sign out", CSRF: pg.sessions.CSRFToken(browser, "logout")}
		if lr.Client != nil {
			data.ClientName = lr.Client.Name
		}
		for _, k := range logoutParams {
			if v := q.Get(k); v != "" {
				data.Fields = append(data.Fields, logoutField{k, v})
			}
		}
		pg.render(w, r, http.StatusOK, "logout", data)
		return
	}
	var frames []string
	if signedIn {
		ended, err := pg.sessions.SignOut(ctx, w, r)
		if err != nil && !errors.Is(err, session.ErrNoSession) {
			pg.logger.ErrorContext(ctx, "sign out", "err", err)
			pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
			return
		}
		pg.logger.InfoContext(ctx, "signed out", "user_id", ended.UserID, "clients", len(ended.Clients))
		frames = pg.oauth.SessionEnded(ctx, ended)
	}
	next := lr.AfterLogout()
	if len(frames) == 0 && next != "" {
		oauth.RedirectBrowser(w, r, next)
		return
	}
	if next == "" {
		next = "/"
	}
	// Front-Channel Logout §2: each client's logout URI loads in an
	// iframe of this page, which then moves on.
	allowOrigins(w, "frame-src", frames)
	pg.render(w, r, http.StatusOK, "loggedout", loggedOutData{Title: "Signed out", Next: next, Frames: frames})
}
