package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/oidc"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
)

// lifetime is a choice the consent page offers for how long an app keeps
// access; the zero Duration means until the user revokes it.
type lifetime struct {
	Value, Label string
	Duration     time.Duration
}

// consentLifetimes turns the operator's choices (config.ConsentConfig,
// validated) into the page's options.
func consentLifetimes(values []string) []lifetime {
	out := make([]lifetime, 0, len(values))
	for _, v := range values {
		if v == config.Forever {
			out = append(out, lifetime{v, "Until I revoke it", 0})
			continue
		}
		d, _ := time.ParseDuration(v)
		out = append(out, lifetime{v, lifetimeLabel(d), d})
	}
	return out
}

// lifetimeLabel says a duration in words: "One hour", "30 days".
func lifetimeLabel(d time.Duration) string {
	unit := func(n int64, one, many string) string {
		if n == 1 {
			return one
		}
		return strconv.FormatInt(n, 10) + " " + many
	}
	switch {
	case d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "One day", "days")
	case d%time.Hour == 0:
		return unit(int64(d/time.Hour), "One hour", "hours")
	case d%time.Minute == 0:
		return unit(int64(d/time.Minute), "One minute", "minutes")
	}
	return d.String()
}

type scopeItem struct{ Name, Description string }

type lifetimeItem struct {
	Value, Label string
	Selected     bool
}

// asker is who asks for access, on the consent and device pages (RFC
// 6749 §10.2: users should be able to spot a look-alike app): its name,
// logo, home page's host, description, and whether the operator vouches
// for it (first-party) or warns that nobody checked it (self-registered).
type asker struct {
	ClientName, Logo, Home, Description, Operator string
	Verified, Unverified                          bool
}

// shownLogo is the logo a page may load for c: none for a client that
// registered itself, whose logo's server would otherwise learn the address
// and browser of every user shown its consent page, and could change the
// picture after the registration was checked.
func shownLogo(c store.Client) string {
	if c.SelfRegistered {
		return ""
	}
	return c.LogoURI
}

// asking describes client for the "client" template.
func (pg *Pages) asking(w http.ResponseWriter, c store.Client) asker {
	a := asker{ClientName: c.Name, Logo: shownLogo(c), Home: hostOf(c.ClientURI), Description: c.Description,
		Verified: c.FirstParty && !c.SelfRegistered, Unverified: c.SelfRegistered, Operator: pg.operator}
	if a.Logo != "" {
		allowOrigins(w, "img-src", []string{a.Logo})
	}
	return a
}

// choices is what the consent and device pages ask, for the "choices"
// template: Scopes are asked for; Required are asked for and cannot be
// unticked; Granted the requested scopes the app already holds (shown as
// granted, not asked again); and how long the app keeps access.
type choices struct {
	Scopes, Required, Granted []scopeItem
	Lifetimes                 []lifetimeItem
}

// choices sorts the requested scopes into granted, required and free.
func (pg *Pages) choices(requested, required, granted []string) choices {
	var c choices
	for _, s := range requested {
		item := scopeItem{Name: s, Description: pg.oauth.Scopes.Description(s)}
		switch {
		case slices.Contains(granted, s):
			c.Granted = append(c.Granted, item)
		case slices.Contains(required, s):
			c.Required = append(c.Required, item)
		default:
			c.Scopes = append(c.Scopes, item)
		}
	}
	for _, l := range pg.lifetimes {
		c.Lifetimes = append(c.Lifetimes, lifetimeItem{Value: l.Value, Label: l.Label, Selected: l.Value == pg.defaultLifetime})
	}
	return c
}

type consentData struct {
	Title, User, RedirectHost, CSRF, Request string
	asker
	choices
}

// alreadyGranted returns the requested scopes the app's active grant holds.
func (pg *Pages) alreadyGranted(r *http.Request, pd oauth.Pending) ([]string, *oauth.Error) {
	g, _, e := pg.oauth.ExistingGrant(r.Context(), pd)
	if e != nil {
		return nil, e
	}
	return oauth.Intersect(pd.Request.Scopes, g.Scopes), nil
}

// pendingForUser loads a pending request and checks that the signed-in user
// is the one who signed in for it (RFC 6819 §4.4.1.6). Without a session the
// browser goes back to sign in.
func (pg *Pages) pendingForUser(w http.ResponseWriter, r *http.Request, id, browser string) (oauth.Pending, bool) {
	pd, e := pg.oauth.LoadPending(r.Context(), id, browser)
	if e != nil {
		pg.ErrorPage(w, r, e)
		return pd, false
	}
	sess, err := pg.sessions.Current(r.Context(), r)
	if errors.Is(err, session.ErrNoSession) || err == nil && (pd.Request.UserID == "" || sess.UserID != pd.Request.UserID) {
		oauth.RedirectBrowser(w, r, oauth.LoginPath+"?"+url.Values{"request": {pd.Request.ID}}.Encode())
		return pd, false
	}
	if err != nil {
		pg.logger.ErrorContext(r.Context(), "get session", "err", err)
		pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
		return pd, false
	}
	pd.Session = &sess
	return pd, true
}

func (pg *Pages) consentForm(w http.ResponseWriter, r *http.Request) {
	browser := pg.sessions.Browser(w, r)
	pd, ok := pg.pendingForUser(w, r, r.URL.Query().Get("request"), browser)
	if !ok {
		return
	}
	data := consentData{Title: "Allow access", CSRF: pg.sessions.CSRFToken(browser, "consent"), Request: pd.Request.ID}
	if u, err := url.Parse(pd.Request.RedirectURI); err == nil {
		data.RedirectHost = u.Host
		if data.RedirectHost == "" {
			data.RedirectHost = u.Scheme + ":"
		}
	}
	if user, err := pg.users.GetUser(r.Context(), pd.Request.UserID); err == nil {
		data.User = user.Username
	}
	granted, e := pg.alreadyGranted(r, pd)
	if e != nil {
		pg.ErrorPage(w, r, e)
		return
	}
	data.asker = pg.asking(w, pd.Client)
	data.choices = pg.choices(pd.Request.Scopes, requiredScopes(pd), granted)
	pg.render(w, r, http.StatusOK, "consent", data)
}

func (pg *Pages) consent(w http.ResponseWriter, r *http.Request) {
	// Consent is granted only by a POST carrying this browser's token
	// (RFC 6749 §10.12); a GET or a cross-site form does nothing.
	browser, ok := pg.postedForm(w, r, "consent")
	if !ok {
		return
	}
	pd, ok := pg.pendingForUser(w, r, formValue(r, "request"), browser)
	if !ok {
		return
	}
	var resp oauth.Response
	var e *oauth.Error
	switch formValue(r, "decision") {
	case "deny":
		resp, e = pg.oauth.Deny(r.Context(), pd)
	case "allow":
		// Required scopes come with the decision whatever was posted.
		scopes := oauth.Union(r.PostForm["scope"], requiredScopes(pd))
		if !oauth.Subset(scopes, pd.Request.Scopes) {
			pg.ErrorPage(w, r, oauth.InvalidRequest("a scope that was not requested was ticked"))
			return
		}
		if len(scopes) == 0 {
			// Unticking everything is a refusal, unless the app already
			// holds some of what it asks for (only new scopes are shown).
			granted, ge := pg.alreadyGranted(r, pd)
			if ge != nil {
				pg.ErrorPage(w, r, ge)
				return
			}
			if len(granted) == 0 {
				resp, e = pg.oauth.Deny(r.Context(), pd)
				break
			}
		}
		choice := formValue(r, "lifetime")
		i := slices.IndexFunc(pg.lifetimes, func(l lifetime) bool { return l.Value == choice })
		if i < 0 {
			pg.ErrorPage(w, r, oauth.InvalidRequest("choose how long the app keeps access"))
			return
		}
		resp, e = pg.oauth.Approve(r.Context(), pd, scopes, pg.lifetimes[i].Duration, nil)
	default:
		pg.ErrorPage(w, r, oauth.InvalidRequest("choose Allow or Deny"))
		return
	}
	if e != nil {
		pg.ErrorPage(w, r, e)
		return
	}
	pg.oauth.Respond(w, r, resp)
}

// requiredScopes are the requested scopes the consent cannot leave out:
// openid, and those the client registered as required.
func requiredScopes(pd oauth.Pending) []string {
	return oauth.Intersect(pd.Request.Scopes, append([]string{oidc.ScopeOpenID}, pd.Client.RequiredScopes...))
}

// hostOf returns the host of an absolute URI, or "".
func hostOf(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
