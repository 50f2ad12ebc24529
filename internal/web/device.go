package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/oidc"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
)

// deviceData is the device page (RFC 8628 §3.3): the form for the user
// code, then what the device asks for, then the outcome.
type deviceData struct {
	Title, CSRF, UserCode, Message, User string
	// Who asks (as on the consent page), and from which device.
	asker
	Device, Address string
	// As on the consent page: asked, required, already granted.
	choices
	// Allowed tells the outcome on the last page.
	Allowed bool
}

// continueDevice is the login page's continue value that returns to the
// device page after sign-in.
const continueDevice = "device"

// deviceSession returns the browser's session, or sends the browser to
// sign in and come back to the device page with the code it has so far.
func (pg *Pages) deviceSession(w http.ResponseWriter, r *http.Request, userCode string) (store.Session, bool) {
	sess, err := pg.sessions.Current(r.Context(), r)
	if errors.Is(err, session.ErrNoSession) {
		q := url.Values{"continue": {continueDevice}}
		if userCode != "" {
			q.Set("user_code", userCode)
		}
		oauth.RedirectBrowser(w, r, oauth.LoginPath+"?"+q.Encode())
		return sess, false
	}
	if err != nil {
		pg.logger.ErrorContext(r.Context(), "get session", "err", err)
		pg.ErrorPage(w, r, oauth.TemporarilyUnavailable())
		return sess, false
	}
	return sess, true
}

// typedUserCode bounds what the page echoes of a typed code.
func typedUserCode(s string) string {
	if len(s) > 64 {
		return ""
	}
	return s
}

// deviceForm shows the form for the user code, filled in from
// verification_uri_complete (§3.3.1). Nothing is looked up on a GET: the
// user confirms the code first, so a link alone decides nothing (§5.4).
func (pg *Pages) deviceForm(w http.ResponseWriter, r *http.Request) {
	code := typedUserCode(r.URL.Query().Get("user_code"))
	if _, ok := pg.deviceSession(w, r, code); !ok {
		return
	}
	browser := pg.sessions.Browser(w, r)
	pg.render(w, r, http.StatusOK, "device", deviceData{Title: "Connect a device", CSRF: pg.sessions.CSRFToken(browser, "device"), UserCode: code})
}

// device takes the posted user code: without a decision it shows what
// the device asks for; with decision=allow or deny it approves or denies
// the device authorization. Every step is a POST with this browser's CSRF
// token (RFC 6749 §10.12).
func (pg *Pages) device(w http.ResponseWriter, r *http.Request) {
	browser, ok := pg.postedForm(w, r, "device")
	if !ok {
		return
	}
	typed := typedUserCode(formValue(r, "user_code"))
	sess, ok := pg.deviceSession(w, r, typed)
	if !ok {
		return
	}
	ctx := r.Context()
	csrf := pg.sessions.CSRFToken(browser, "device")
	dr, e := pg.oauth.FindDeviceRequest(ctx, typed, sess.UserID, clientip.Of(r))
	if e != nil {
		if e.Status >= 500 {
			pg.ErrorPage(w, r, e)
			return
		}
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
		}
		pg.render(w, r, e.Status, "device", deviceData{Title: "Connect a device", CSRF: csrf, UserCode: typed, Message: e.Description})
		return
	}
	required := oauth.Intersect(dr.Code.Scopes, append([]string{oidc.ScopeOpenID}, dr.Client.RequiredScopes...))
	granted, e := pg.oauth.DeviceGrantedScopes(ctx, dr, sess.UserID)
	if e != nil {
		pg.ErrorPage(w, r, e)
		return
	}
	allowed := false
	switch formValue(r, "decision") {
	case "":
		pg.deviceConfirm(w, r, dr, sess, csrf, required, granted)
		return
	case "deny":
		e = pg.oauth.DenyDevice(ctx, dr, sess.UserID)
	case "allow":
		// Required scopes come with the decision whatever was posted.
		scopes := oauth.Union(r.PostForm["scope"], required)
		if !oauth.Subset(scopes, dr.Code.Scopes) {
			pg.ErrorPage(w, r, oauth.InvalidRequest("a scope that was not requested was ticked"))
			return
		}
		if len(scopes) == 0 && len(granted) == 0 {
			// Unticking everything is a refusal, as on the consent page.
			e = pg.oauth.DenyDevice(ctx, dr, sess.UserID)
			break
		}
		choice := formValue(r, "lifetime")
		i := slices.IndexFunc(pg.lifetimes, func(l lifetime) bool { return l.Value == choice })
		if i < 0 {
			pg.ErrorPage(w, r, oauth.InvalidRequest("choose how long the app keeps access"))
			return
		}
		e, allowed = pg.oauth.ApproveDevice(ctx, dr, sess, scopes, pg.lifetimes[i].Duration), true
	default:
		pg.ErrorPage(w, r, oauth.InvalidRequest("choose Allow or Deny"))
		return
	}
	if e != nil {
		pg.ErrorPage(w, r, e)
		return
	}
	pg.render(w, r, http.StatusOK, "device_done", deviceData{
		Title: "Connect a device", asker: asker{ClientName: dr.Client.Name}, Device: dr.Code.Device, Allowed: allowed,
	})
}

// deviceConfirm shows what the device asks for, with the consent page's
// choices, and the warning of RFC 8628 §5.4 (remote phishing): a code
// someone else sent must never be entered.
func (pg *Pages) deviceConfirm(w http.ResponseWriter, r *http.Request, dr oauth.DeviceRequest, sess store.Session, csrf string, required, granted []string) {
	data := deviceData{
		Title: "Connect a device", CSRF: csrf, UserCode: dr.UserCode, Device: dr.Code.Device, Address: dr.Code.Address,
		asker: pg.asking(w, dr.Client), choices: pg.choices(dr.Code.Scopes, required, granted),
	}
	if user, err := pg.users.GetUser(r.Context(), sess.UserID); err == nil {
		data.User = user.Username
	}
	pg.render(w, r, http.StatusOK, "device_confirm", data)
}
