// Package web serves Latchkey's pages: sign-in, consent, errors. Templates
// and assets are embedded and parsed once at start; each page renders into
// a buffer first so that a template failure never sends half a page.
package web

import (
	"bytes"
	"cmp"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// maxFormBytes bounds login and consent form bodies.
const maxFormBytes = 64 << 10

// Pages serves the HTML side of Latchkey.
type Pages struct {
	oauth    *oauth.Provider
	sessions *session.Manager
	users    store.UserStore
	logger   *slog.Logger
	now      func() time.Time
	dev      bool
	tmpl     *template.Template
	// The consent page's lifetime choices, the preselected one, and who
	// vouches for first-party apps.
	lifetimes       []lifetime
	defaultLifetime string
	operator        string
}

// Options configure Pages.
type Options struct {
	OAuth    *oauth.Provider
	Sessions *session.Manager
	Users    store.UserStore
	Logger   *slog.Logger
	Now      func() time.Time
	// Dev mounts /dev/callback, the demo client's landing page.
	Dev bool
	// Consent holds the operator's consent choices (validated).
	Consent config.ConsentConfig
	// Issuer names the operator when Consent.Operator is empty.
	Issuer string
}

// New parses the templates and returns the pages.
func New(o Options) (*Pages, error) {
	tmpl, err := template.ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	lifetimes := consentLifetimes(o.Consent.Lifetimes)
	if len(lifetimes) == 0 {
		lifetimes = consentLifetimes(config.Default().Consent.Lifetimes)
	}
	defaultLifetime := o.Consent.DefaultLifetime
	if !slices.ContainsFunc(lifetimes, func(l lifetime) bool { return l.Value == defaultLifetime }) {
		defaultLifetime = lifetimes[len(lifetimes)-1].Value
	}
	return &Pages{
		oauth: o.OAuth, sessions: o.Sessions, users: o.Users, logger: o.Logger, now: o.Now, dev: o.Dev,
		tmpl: tmpl, lifetimes: lifetimes, defaultLifetime: defaultLifetime, operator: cmp.Or(o.Consent.Operator, hostOf(o.Issuer)),
	}, nil
}

// Routes registers every page on mux.
func (pg *Pages) Routes(mux *http.ServeMux) {
	assets, _ := fs.Sub(assetFS, "assets")
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", cacheForever(http.FileServerFS(assets))))
	mux.HandleFunc("GET /{$}", pg.home)
	mux.HandleFunc("GET /login", pg.loginForm)
	mux.HandleFunc("POST /login", pg.login)
	mux.HandleFunc("GET /consent", pg.consentForm)
	mux.HandleFunc("POST /consent", pg.consent)
	mux.HandleFunc("GET "+oauth.DevicePath, pg.deviceForm)
	mux.HandleFunc("POST "+oauth.DevicePath, pg.device)
	mux.HandleFunc("GET "+AccountPath, pg.account)
	mux.HandleFunc("POST "+AccountPath+"/revoke", pg.revoke)
	mux.HandleFunc("POST "+AccountPath+"/signout", pg.signOutDevice)
	mux.HandleFunc("POST "+AccountPath+"/password", pg.changePassword)
	mux.HandleFunc("GET "+oauth.LogoutPath, pg.logout)
	mux.HandleFunc("POST "+oauth.LogoutPath, pg.logout)
	if pg.dev {
		mux.HandleFunc("GET /dev/callback", pg.devCallback)
	}
}

func cacheForever(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// render executes one page into a buffer and writes it with status.
func (pg *Pages) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pg.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		pg.logger.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "the page could not be shown", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// ErrorPage shows a front-channel error that must not be redirected
// (RFC 6749 §4.1.2.1). Values are escaped by html/template.
func (pg *Pages) ErrorPage(w http.ResponseWriter, r *http.Request, e *oauth.Error) {
	status := e.Status
	if status < 400 {
		status = http.StatusBadRequest
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	pg.render(w, r, status, "error", struct {
		Title       string
		Code        string
		Description string
	}{"Error", e.Code, e.Description})
}

// postedForm reads a page's url-encoded POST body (within maxFormBytes) and
// checks its CSRF token for purpose. It returns the browser id, or answers
// with an error page and false.
func (pg *Pages) postedForm(w http.ResponseWriter, r *http.Request, purpose string) (string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if r.ParseForm() != nil {
		pg.ErrorPage(w, r, oauth.InvalidRequest("the form could not be read"))
		return "", false
	}
	if !pg.sessions.CheckCSRF(r, purpose, formValue(r, "csrf_token")) {
		pg.ErrorPage(w, r, &oauth.Error{Code: "invalid_request", Status: http.StatusForbidden, Description: "the form expired or came from another site; go back and try again"})
		return "", false
	}
	browser, _ := pg.sessions.ExistingBrowser(r)
	return browser, true
}

// allowOrigins sets this page's Content-Security-Policy: the server's
// default (same origin only, never framed) with directive widened to the
// origins of uris, such as the logos of the portal or the front-channel
// logout frames.
func allowOrigins(w http.ResponseWriter, directive string, uris []string) {
	sources := []string{"'self'"}
	for _, u := range uris {
		if o := oauth.Origin(u); o != "" && !slices.Contains(sources, o) {
			sources = append(sources, o)
		}
	}
	w.Header().Set("Content-Security-Policy", "default-src 'self'; "+directive+" "+strings.Join(sources, " ")+
		"; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
}

// formValue returns the single value of a form field, or "" when the field
// is absent or repeated.
func formValue(r *http.Request, name string) string {
	vs := r.PostForm[name]
	if len(vs) != 1 {
		return ""
	}
	return vs[0]
}
