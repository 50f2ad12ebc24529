package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
)

type portalApp struct {
	Name, Description, Logo string
	Link                    string // the application's initiate_login_uri with iss, login_hint, target_link_uri
}

type portalData struct {
	Title, Username, LogoutCSRF string
	SignedIn                    bool
	Apps                        []portalApp
}

// home is the platform's front door, the portal: signed in, it lists every
// application with an initiate_login_uri. Each link starts that
// application's own login (OpenID Connect Core §4, third-party-initiated
// login): the application makes an ordinary authorization request with its
// own state and PKCE, which the session answers at once. No code is ever
// sent to an application that did not ask for it.
func (pg *Pages) home(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	data := portalData{Title: "Home"}
	sess, err := pg.sessions.Current(ctx, r)
	if err != nil && !errors.Is(err, session.ErrNoSession) {
		pg.logger.ErrorContext(ctx, "get session", "err", err)
		pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
		return
	}
	if err == nil {
		user, err := pg.users.GetUser(ctx, sess.UserID)
		var clients []store.Client
		if err == nil {
			clients, err = pg.oauth.Store.ListClients(ctx)
		}
		if err != nil {
			pg.logger.ErrorContext(ctx, "portal", "err", err)
			pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
			return
		}
		data.SignedIn, data.Username = true, user.Username
		data.LogoutCSRF = pg.sessions.CSRFToken(pg.sessions.Browser(w, r), "logout")
		var logos []string
		for _, c := range clients {
			if c.InitiateLoginURI == "" {
				continue
			}
			data.Apps = append(data.Apps, portalApp{
				Name: c.Name, Description: c.Description, Logo: c.LogoURI,
				Link: initiateLoginLink(c, pg.oauth.Issuer, user.Username),
			})
			logos = append(logos, c.LogoURI)
		}
		slices.SortFunc(data.Apps, func(a, b portalApp) int { return strings.Compare(a.Name, b.Name) })
		allowOrigins(w, "img-src", logos)
	}
	pg.render(w, r, http.StatusOK, "home", data)
}

// initiateLoginLink is the URI that asks the application to start a login
// (Core §4): iss is REQUIRED; login_hint names the user; target_link_uri is
// where the application should land, its client_uri when it has one.
func initiateLoginLink(c store.Client, issuer, username string) string {
	q := url.Values{"iss": {issuer}, "login_hint": {username}}
	if c.ClientURI != "" {
		q.Set("target_link_uri", c.ClientURI)
	}
	return oauth.AppendQuery(c.InitiateLoginURI, q)
}
