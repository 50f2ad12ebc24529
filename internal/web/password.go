package web

import (
	"errors"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// changePassword changes the signed-in user's password (seed 001: a user
// should not have to change it to cut one app off, but may change it
// without cutting every app off). The current password is checked like a
// sign-in, throttle included; a wrong one changes nothing. The change ends
// the user's other browser sessions and keeps the apps' grants, unless
// sign_out_apps is ticked: then every app is signed out too.
func (pg *Pages) changePassword(w http.ResponseWriter, r *http.Request) {
	if _, ok := pg.postedForm(w, r, "password"); !ok {
		return
	}
	sess, ok := pg.signedIn(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	user, err := pg.users.GetUser(ctx, sess.UserID)
	if err != nil {
		pg.logger.ErrorContext(ctx, "change password: get user", "err", err)
		pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
		return
	}
	current, next := formValue(r, "current_password"), formValue(r, "new_password")
	address := clientip.Of(r)
	_, err = pg.oauth.Passwords.Check(ctx, user.Username, current, address)
	var tooMany *oauth.TooManyAttempts
	switch {
	case errors.As(err, &tooMany):
		w.Header().Set("Retry-After", strconv.Itoa(tooMany.Seconds()))
		pg.showAccount(w, r, sess, http.StatusTooManyRequests, "", "Too many wrong passwords. Wait a few minutes and try again.")
		return
	case errors.Is(err, oauth.ErrBadCredentials):
		pg.logger.InfoContext(ctx, "password change refused: wrong current password", "user_id", user.ID, "client", address)
		pg.showAccount(w, r, sess, http.StatusBadRequest, "", "Your current password is not correct. Nothing was changed.")
		return
	case err != nil:
		pg.logger.WarnContext(ctx, "password change: check failed", "err", err)
		pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
		return
	}
	if problem := newPasswordProblem(current, next); problem != "" {
		pg.showAccount(w, r, sess, http.StatusBadRequest, "", problem)
		return
	}
	if err := pg.oauth.Passwords.Gate.Do(ctx, func() { user.PasswordHash = secret.HashPassword(next) }); err != nil {
		pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
		return
	}
	user.UpdatedAt = pg.now()
	if err := pg.users.UpdateUser(ctx, user); err != nil {
		pg.logger.ErrorContext(ctx, "change password: update user", "err", err)
		pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
		return
	}
	ended, err := pg.oauth.Store.DeleteOtherSessions(ctx, user.ID, sess.Hash)
	if err != nil {
		pg.logger.ErrorContext(ctx, "change password: end other sessions", "err", err)
	}
	signOutApps := formValue(r, "sign_out_apps") != ""
	revoked := 0
	if signOutApps {
		if revoked, err = pg.revokeAllGrants(r, user.ID); err != nil {
			pg.logger.ErrorContext(ctx, "change password: revoke grants", "err", err)
			pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
			return
		}
	}
	pg.logger.InfoContext(ctx, "password changed", "user_id", user.ID, "sessions_ended", ended, "apps_signed_out", revoked)
	detail := "your other browsers were signed out"
	if signOutApps {
		detail = "your other browsers and every app were signed out"
	}
	pg.oauth.Activity.Record(ctx, store.Activity{UserID: user.ID, Kind: store.ActivityPassword,
		Device: oauth.DescribeDevice(r.UserAgent()), Address: address, Detail: detail})
	if signOutApps {
		oauth.RedirectBrowser(w, r, AccountPath+"?password_apps=1")
		return
	}
	oauth.RedirectBrowser(w, r, AccountPath+"?password=1")
}

// newPasswordProblem says what is wrong with a new password, or "".
func newPasswordProblem(current, next string) string {
	switch n := utf8.RuneCountInString(next); {
	case !utf8.ValidString(next):
		return "The new password is not valid text."
	case n < config.MinPasswordLen:
		return "The new password must be at least " + strconv.Itoa(config.MinPasswordLen) + " characters."
	case len(next) > 1024:
		return "The new password is too long."
	case next == current:
		return "The new password is the same as the current one."
	}
	return ""
}

// revokeAllGrants revokes every active grant of the user (every app) and
// returns how many.
func (pg *Pages) revokeAllGrants(r *http.Request, userID string) (int, error) {
	ctx := r.Context()
	grants, err := pg.oauth.Store.ListGrantsByUser(ctx, userID)
	if err != nil {
		return 0, err
	}
	now, n := pg.now(), 0
	for _, g := range grants {
		if !g.RevokedAt.IsZero() {
			continue
		}
		if err := pg.oauth.Store.RevokeGrant(ctx, g.ID, now); err != nil {
			return n, err
		}
		n++
		pg.oauth.Metrics.Revoked("password_change")
		pg.oauth.Activity.Record(ctx, store.Activity{UserID: userID, ClientID: g.ClientID, Kind: store.ActivityRevoked,
			Address: clientip.Of(r), Detail: "signed out with your password change"})
	}
	return n, nil
}
