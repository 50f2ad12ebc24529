package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
)

// badCredentials is the one answer to a failed sign-in, whether the user
// exists or not, so the page cannot be used to enumerate usernames.
const badCredentials = "The username or password is incorrect."

type loginData struct {
	Title, ClientName, Message, CSRF, Request, Username string
	// Continue is where to go after signing in without a pending
	// request: "device" for the device page, with UserCode; else the
	// account page.
	Continue, UserCode string
}

// loginContinue returns where the sign-in page continues after signing in
// (only the device page can be named, so it is no open redirect) and the
// user code it carries, from the query of a GET or the form of a POST.
func loginContinue(r *http.Request) (cont, userCode string) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		q = r.PostForm
	}
	if len(q["continue"]) != 1 || q.Get("continue") != continueDevice {
		return "", ""
	}
	return continueDevice, typedUserCode(q.Get("user_code"))
}

// loginForm shows the sign-in page: for a pending authorization request,
// or, without one, for the user's own account page.
func (pg *Pages) loginForm(w http.ResponseWriter, r *http.Request) {
	browser := pg.sessions.Browser(w, r)
	var pd oauth.Pending
	if id := r.URL.Query().Get("request"); id != "" {
		var e *oauth.Error
		if pd, e = pg.oauth.LoadPending(r.Context(), id, browser); e != nil {
			pg.ErrorPage(w, r, e)
			return
		}
	}
	// OpenID Connect Core §3.1.2.1: login_hint fills in the username.
	pg.showLogin(w, r, http.StatusOK, pd, browser, pd.Request.LoginHint, "")
}

func (pg *Pages) showLogin(w http.ResponseWriter, r *http.Request, status int, pd oauth.Pending, browser, username, msg string) {
	data := loginData{
		Title: "Sign in", ClientName: pd.Client.Name, Message: msg, Username: username,
		CSRF: pg.sessions.CSRFToken(browser, "login"), Request: pd.Request.ID,
	}
	if pd.Request.ID == "" {
		data.Continue, data.UserCode = loginContinue(r)
	}
	pg.render(w, r, status, "login", data)
}

func (pg *Pages) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	browser, ok := pg.postedForm(w, r, "login")
	if !ok {
		return
	}
	var pd oauth.Pending
	if id := formValue(r, "request"); id != "" {
		var e *oauth.Error
		if pd, e = pg.oauth.LoadPending(ctx, id, browser); e != nil {
			pg.ErrorPage(w, r, e)
			return
		}
	}
	username, password := formValue(r, "username"), formValue(r, "password")
	address := clientip.Of(r)
	user, err := pg.oauth.Passwords.Check(ctx, username, password, address)
	pg.oauth.SignIn(ctx, pd.Client.ID, address, err)
	var tooMany *oauth.TooManyAttempts
	switch {
	case errors.As(err, &tooMany):
		pg.logger.WarnContext(ctx, "sign-in throttled", "client_id", pd.Client.ID, "client", address)
		w.Header().Set("Retry-After", strconv.Itoa(tooMany.Seconds()))
		pg.showLogin(w, r, http.StatusTooManyRequests, pd, browser, username, "Too many failed attempts. Wait a few minutes and try again.")
		return
	case errors.Is(err, oauth.ErrBadCredentials):
		pg.logger.InfoContext(ctx, "sign-in failed", "client_id", pd.Client.ID)
		pg.showLogin(w, r, http.StatusUnauthorized, pd, browser, username, badCredentials)
		return
	case errors.Is(err, oauth.ErrBusy):
		pg.logger.WarnContext(ctx, "sign-in not checked: the hash gate is full")
		pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
		return
	case err != nil:
		pg.logger.ErrorContext(ctx, "sign-in failed on the store", "err", err)
		pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
		return
	}
	sess, err := pg.signIn(w, r, user.ID)
	if err != nil {
		pg.logger.ErrorContext(ctx, "create session", "err", err)
		pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
		return
	}
	pg.oauth.Activity.Record(ctx, store.Activity{UserID: user.ID, ClientID: pd.Client.ID, Kind: store.ActivitySignedIn,
		Device: oauth.DescribeDevice(r.UserAgent()), Address: address})
	if pd.Request.ID == "" {
		pg.logger.InfoContext(ctx, "signed in", "user_id", user.ID)
		if cont, code := loginContinue(r); cont == continueDevice {
			oauth.RedirectBrowser(w, r, oauth.DevicePath+"?"+url.Values{"user_code": {code}}.Encode())
			return
		}
		oauth.RedirectBrowser(w, r, AccountPath)
		return
	}
	if e := pg.oauth.SetUser(ctx, &pd, sess); e != nil {
		pg.ErrorPage(w, r, e)
		return
	}
	pg.logger.InfoContext(ctx, "signed in", "user_id", user.ID, "client_id", pd.Client.ID)
	pg.continueAfterLogin(w, r, pd)
}

// continueAfterLogin goes straight back to the client when no consent is
// needed (see oauth.AutoApprove), and to the consent page otherwise.
func (pg *Pages) continueAfterLogin(w http.ResponseWriter, r *http.Request, pd oauth.Pending) {
	resp, done, e := pg.oauth.AutoApprove(r.Context(), pd)
	if e != nil {
		pg.ErrorPage(w, r, e)
		return
	}
	if done {
		pg.oauth.Respond(w, r, resp)
		return
	}
	oauth.RedirectBrowser(w, r, oauth.ConsentPath+"?"+url.Values{"request": {pd.Request.ID}}.Encode())
}

// signIn starts the user's session. A browser already signed in as the same
// user (asked to sign in again by prompt=login or max_age) keeps its
// session's sid and applications; one signed in as someone else ends that
// session first, with every application of it notified.
func (pg *Pages) signIn(w http.ResponseWriter, r *http.Request, userID string) (store.Session, error) {
	ctx := r.Context()
	prev, err := pg.sessions.Current(ctx, r)
	switch {
	case errors.Is(err, session.ErrNoSession):
		return pg.sessions.SignIn(ctx, w, userID)
	case err != nil:
		return store.Session{}, err
	case prev.UserID == userID:
		return pg.sessions.Reauthenticate(ctx, w, prev)
	}
	if err := pg.oauth.Store.DeleteSession(ctx, prev.Hash); err != nil {
		return store.Session{}, err
	}
	pg.logger.InfoContext(ctx, "signed out to sign in as another user", "user_id", prev.UserID)
	if frames := pg.oauth.SessionEnded(ctx, prev); len(frames) > 0 {
		pg.logger.InfoContext(ctx, "front-channel logout skipped: another user signed in", "clients", len(frames))
	}
	return pg.sessions.SignIn(ctx, w, userID)
}
