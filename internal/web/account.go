package web

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
)

// AccountPath is the page where users see and revoke what apps may do.
const AccountPath = "/account"

type appItem struct {
	GrantID, ClientID, ClientName, Granted, Until string
	Logo, Home                                    string
	Verified                                      bool
	Scopes                                        []scopeItem
	Devices                                       []deviceItem
}

// deviceItem is one device or browser holding an app's tokens.
type deviceItem struct {
	FamilyID, Description, Since, LastUsed, Address string
}

type accountData struct {
	Title, Username, Message, CSRF, LogoutCSRF string
	PasswordCSRF, PasswordProblem, Operator    string
	Apps                                       []appItem
	Activity                                   []activityItem
}

// activityItem is one entry of the account's recent activity.
type activityItem struct {
	Kind, What, App, When, Device, Address, Detail string
}

// activityLabels say what each kind of entry means to the user.
var activityLabels = map[string]string{
	store.ActivitySignedIn:  "Signed in",
	store.ActivityConsented: "Allowed access",
	store.ActivityIssued:    "App signed in",
	store.ActivityRefreshed: "App used its access",
	store.ActivityRevoked:   "Signed out",
	store.ActivityPassword:  "Password changed",
}

// recentActivity is how many entries the account page shows.
const recentActivity = 20

// signedIn returns the browser's session, or sends the browser to sign in.
func (pg *Pages) signedIn(w http.ResponseWriter, r *http.Request) (store.Session, bool) {
	sess, err := pg.sessions.Current(r.Context(), r)
	if errors.Is(err, session.ErrNoSession) {
		oauth.RedirectBrowser(w, r, oauth.LoginPath)
		return sess, false
	}
	if err != nil {
		pg.logger.ErrorContext(r.Context(), "get session", "err", err)
		pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
		return sess, false
	}
	return sess, true
}

// account lists the apps the user granted access to, each with what it may
// do and until when, and a button to revoke it: the seeds' "revoke one app
// without changing the password".
func (pg *Pages) account(w http.ResponseWriter, r *http.Request) {
	sess, ok := pg.signedIn(w, r)
	if !ok {
		return
	}
	var message string
	switch q := r.URL.Query(); {
	case q.Get("revoked") != "":
		message = "Access revoked."
	case q.Get("signedout") != "":
		message = "That device is signed out of the app."
	case q.Get("password") != "":
		message = "Your password is changed. Your other browsers are signed out."
	case q.Get("password_apps") != "":
		message = "Your password is changed. Your other browsers and every app are signed out."
	}
	pg.showAccount(w, r, sess, http.StatusOK, message, "")
}

// showAccount renders the account page with a message, or a problem with
// the password form.
func (pg *Pages) showAccount(w http.ResponseWriter, r *http.Request, sess store.Session, status int, message, passwordProblem string) {
	data, err := pg.accountPage(w, r, sess)
	if err != nil {
		pg.logger.ErrorContext(r.Context(), "account page", "err", err)
		pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
		return
	}
	data.Message, data.PasswordProblem = message, passwordProblem
	pg.render(w, r, status, "account", data)
}

// accountPage gathers what the account page shows: each app once with its
// devices, the recent activity, and the forms' CSRF tokens.
func (pg *Pages) accountPage(w http.ResponseWriter, r *http.Request, sess store.Session) (accountData, error) {
	ctx := r.Context()
	user, err := pg.users.GetUser(ctx, sess.UserID)
	if err != nil {
		return accountData{}, err
	}
	grants, err := pg.oauth.Store.ListGrantsByUser(ctx, sess.UserID)
	if err != nil {
		return accountData{}, err
	}
	now := pg.now()
	devices, err := pg.oauth.Store.ListDevices(ctx, sess.UserID, now)
	if err != nil {
		return accountData{}, err
	}
	browser := pg.sessions.Browser(w, r)
	data := accountData{
		Title: "Your apps", Username: user.Username,
		CSRF: pg.sessions.CSRFToken(browser, "account"), LogoutCSRF: pg.sessions.CSRFToken(browser, "logout"),
		PasswordCSRF: pg.sessions.CSRFToken(browser, "password"), Operator: pg.operator,
	}
	for _, g := range grants {
		if g.Active(now) {
			data.Apps = append(data.Apps, pg.appItem(r, g, devices))
		}
	}
	var logos []string
	for _, a := range data.Apps {
		if a.Logo != "" {
			logos = append(logos, a.Logo)
		}
	}
	if len(logos) > 0 {
		allowOrigins(w, "img-src", logos)
	}
	// The apps' names, already read, name their activity too.
	names := make(map[string]string, len(data.Apps))
	for _, a := range data.Apps {
		names[a.ClientID] = a.ClientName
	}
	data.Activity, err = pg.activity(r, sess.UserID, names)
	return data, err
}

func (pg *Pages) appItem(r *http.Request, g store.Grant, devices []store.Device) appItem {
	item := appItem{GrantID: g.ID, ClientID: g.ClientID, ClientName: g.ClientID, Granted: g.CreatedAt.Format("2 January 2006"), Until: "until you revoke it"}
	if c, err := pg.oauth.Store.GetClient(r.Context(), g.ClientID); err == nil {
		item.ClientName, item.Logo, item.Home, item.Verified = c.Name, shownLogo(c), hostOf(c.ClientURI), c.FirstParty && !c.SelfRegistered
	}
	if !g.ExpiresAt.IsZero() {
		item.Until = "until " + g.ExpiresAt.Format(time.DateTime) + " UTC"
	}
	for _, s := range g.Scopes {
		item.Scopes = append(item.Scopes, scopeItem{Name: s, Description: pg.oauth.Scopes.Description(s)})
	}
	for _, d := range devices {
		if d.GrantID != g.ID {
			continue
		}
		item.Devices = append(item.Devices, deviceItem{
			// Families from before devices were recorded have no description.
			FamilyID: d.FamilyID, Description: cmp.Or(d.Description, "an unknown device"), Address: d.Address,
			Since: d.StartedAt.Format("2 January 2006"), LastUsed: d.LastUsedAt.Format(time.DateTime) + " UTC",
		})
	}
	return item
}

// signOutDevice revokes one device's tokens of an app (its refresh-token
// family); the app's other devices keep working.
func (pg *Pages) signOutDevice(w http.ResponseWriter, r *http.Request) {
	if _, ok := pg.postedForm(w, r, "account"); !ok {
		return
	}
	sess, ok := pg.signedIn(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	devices, err := pg.oauth.Store.ListDevices(ctx, sess.UserID, pg.now())
	if err != nil {
		pg.logger.ErrorContext(ctx, "list devices", "err", err)
		pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
		return
	}
	family := formValue(r, "device")
	i := slices.IndexFunc(devices, func(d store.Device) bool { return d.FamilyID == family })
	if family == "" || i < 0 {
		pg.ErrorPage(w, r, oauth.InvalidRequest("no such device on your account"))
		return
	}
	if _, err := pg.oauth.Store.RevokeFamily(ctx, family, pg.now()); err != nil {
		pg.logger.ErrorContext(ctx, "sign out device", "err", err)
		pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
		return
	}
	pg.logger.InfoContext(ctx, "device signed out by its user", "user_id", sess.UserID, "client_id", devices[i].ClientID)
	pg.oauth.Metrics.Revoked("account_device")
	pg.oauth.Activity.Record(ctx, store.Activity{UserID: sess.UserID, ClientID: devices[i].ClientID, Kind: store.ActivityRevoked,
		Device: devices[i].Description, Address: clientip.Of(r), Detail: "you signed this device out"})
	oauth.RedirectBrowser(w, r, AccountPath+"?signedout=1")
}

// revoke revokes one of the user's grants and every token issued under it.
func (pg *Pages) revoke(w http.ResponseWriter, r *http.Request) {
	if _, ok := pg.postedForm(w, r, "account"); !ok {
		return
	}
	sess, ok := pg.signedIn(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	g, err := pg.oauth.Store.GetGrant(ctx, formValue(r, "grant"))
	if errors.Is(err, store.ErrNotFound) || err == nil && g.UserID != sess.UserID {
		pg.ErrorPage(w, r, oauth.InvalidRequest("no such app on your account"))
		return
	}
	if err == nil {
		err = pg.oauth.Store.RevokeGrant(ctx, g.ID, pg.now())
	}
	if err != nil {
		pg.logger.ErrorContext(ctx, "revoke grant", "err", err)
		pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
		return
	}
	pg.logger.InfoContext(ctx, "grant revoked by its user", "user_id", sess.UserID, "client_id", g.ClientID, "grant_id", g.ID)
	pg.oauth.Metrics.Revoked("account_app")
	pg.oauth.Activity.Record(ctx, store.Activity{UserID: sess.UserID, ClientID: g.ClientID, Kind: store.ActivityRevoked,
		Device: oauth.DescribeDevice(r.UserAgent()), Address: clientip.Of(r), Detail: "you revoked the app's access"})
	oauth.RedirectBrowser(w, r, AccountPath+"?revoked=1")
}

// activity returns the user's recent activity for the page; names holds
// the client names known so far, and gains those it reads.
func (pg *Pages) activity(r *http.Request, userID string, names map[string]string) ([]activityItem, error) {
	if pg.oauth.Activity == nil {
		return nil, nil
	}
	entries, err := pg.oauth.Activity.Recent(r.Context(), userID, recentActivity)
	if err != nil {
		return nil, err
	}
	out := make([]activityItem, 0, len(entries))
	for _, a := range entries {
		app, ok := names[a.ClientID]
		if !ok && a.ClientID != "" {
			app = a.ClientID
			if c, err := pg.oauth.Store.GetClient(r.Context(), a.ClientID); err == nil {
				app = c.Name
			}
			names[a.ClientID] = app
		}
		out = append(out, activityItem{Kind: a.Kind, What: activityLabels[a.Kind], App: app, When: a.At.Format(time.DateTime) + " UTC",
			Device: a.Device, Address: a.Address, Detail: a.Detail})
	}
	return out, nil
}
