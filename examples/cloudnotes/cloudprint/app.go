// Package cloudprint is the seeds' third-party app: a cloud-printing web
// site that prints a user's photos from the photo-album API. It is a
// confidential client of Latchkey that signs the user in with the
// authorization code flow and PKCE, asks only for photos.read, refreshes
// its token when it expires, and asks the user to sign in again when the
// user revokes it. It never sees the user's password.
package cloudprint

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/oauth2"
)

// Config is how the app is registered and where the photos are.
type Config struct {
	Issuer       string // Latchkey's issuer URL
	ClientID     string
	ClientSecret string
	RedirectURL  string // this app's /callback, as registered
	// PhotosAPI is the photo-album API's base URL, which is also its
	// resource indicator (RFC 8707): the token is asked for it alone.
	PhotosAPI string
	Logger    *slog.Logger
}

// App is the cloud-print web app.
type App struct {
	cfg    Config
	oauth  *oauth2.Config
	client *http.Client
	mu     sync.Mutex
	// sessions holds each browser's sign-in state, keyed by a random
	// cookie value; tokens never reach the browser.
	sessions map[string]*session
}

type session struct {
	state, verifier string
	token           *oauth2.Token
}

const cookieName = "cloudprint_session"

// maxSessions bounds the sessions kept in memory; past it the oldest
// sign-ins in progress are dropped first (see session).
const maxSessions = 10_000

// New returns the app.
func New(cfg Config) *App {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &App{
		cfg: cfg,
		oauth: &oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
			Scopes: []string{"photos.read"},
			Endpoint: oauth2.Endpoint{AuthURL: cfg.Issuer + "/authorize", TokenURL: cfg.Issuer + "/token",
				AuthStyle: oauth2.AuthStyleInHeader},
		},
		client:   &http.Client{},
		sessions: make(map[string]*session),
	}
}

// Handler serves the app's pages.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	mux.HandleFunc("GET /photos", a.photos)
	mux.HandleFunc("GET /print/{id}", a.print)
	mux.HandleFunc("GET /image/{id}", a.image)
	mux.HandleFunc("POST /logout", a.logout)
	return securityHeaders(mux)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'unsafe-inline'; frame-ancestors 'none'")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

func random() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// session returns the browser's session, creating one (and its cookie)
// when create is set.
func (a *App) session(w http.ResponseWriter, r *http.Request, create bool) *session {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, err := r.Cookie(cookieName); err == nil {
		if s, ok := a.sessions[c.Value]; ok {
			return s
		}
	}
	if !create {
		return nil
	}
	if len(a.sessions) >= maxSessions {
		// Drop sign-ins that never finished before signed-in browsers.
		for k, s := range a.sessions {
			if s.token == nil {
				delete(a.sessions, k)
			}
		}
		for k := range a.sessions {
			if len(a.sessions) < maxSessions {
				break
			}
			delete(a.sessions, k)
		}
	}
	id := random()
	s := &session{}
	a.sessions[id] = s
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return s
}

func (a *App) home(w http.ResponseWriter, r *http.Request) {
	if s := a.session(w, r, false); s != nil && a.token(s) != nil {
		http.Redirect(w, r, "/photos", http.StatusSeeOther)
		return
	}
	render(w, http.StatusOK, "home", nil)
}

// login starts the code flow: a fresh state against CSRF (RFC 6749
// §10.12) and a PKCE verifier (RFC 7636), both kept on the server, and the
// photos API as the only resource (RFC 8707).
func (a *App) login(w http.ResponseWriter, r *http.Request) {
	s := a.session(w, r, true)
	a.mu.Lock()
	s.state, s.verifier = random(), oauth2.GenerateVerifier()
	state, verifier := s.state, s.verifier
	a.mu.Unlock()
	url := a.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", a.cfg.PhotosAPI))
	http.Redirect(w, r, url, http.StatusSeeOther)
}

func (a *App) callback(w http.ResponseWriter, r *http.Request) {
	s := a.session(w, r, false)
	q := r.URL.Query()
	a.mu.Lock()
	var state, verifier string
	if s != nil {
		state, verifier = s.state, s.verifier
		s.state, s.verifier = "", "" // one use
	}
	a.mu.Unlock()
	switch {
	case s == nil || state == "" || q.Get("state") != state:
		render(w, http.StatusBadRequest, "message", message{Title: "Sign-in failed", Text: "This sign-in did not start here, or it was already used. Please start again."})
		return
	case q.Get("error") == "access_denied":
		render(w, http.StatusOK, "message", message{Title: "Not connected", Text: "You did not allow Cloud Print to see your photos. Nothing was shared."})
		return
	case q.Get("error") != "":
		render(w, http.StatusBadGateway, "message", message{Title: "Sign-in failed", Text: "Cloud Notes answered: " + q.Get("error")})
		return
	}
	tok, err := a.oauth.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", a.cfg.PhotosAPI))
	if err != nil {
		a.cfg.Logger.WarnContext(r.Context(), "cloud print: code exchange failed", "err", err)
		render(w, http.StatusBadGateway, "message", message{Title: "Sign-in failed", Text: "Cloud Notes did not accept the sign-in. Please start again."})
		return
	}
	a.mu.Lock()
	s.token = tok
	a.mu.Unlock()
	http.Redirect(w, r, "/photos", http.StatusSeeOther)
}

func (a *App) token(s *session) *oauth2.Token {
	a.mu.Lock()
	defer a.mu.Unlock()
	return s.token
}

// errSignedOut: the app has no usable token any more (the user revoked
// it, or the refresh token expired); the user must sign in again.
var errSignedOut = errors.New("signed out")

// call GETs path on the photos API with the session's token, refreshing
// the token first when it has expired (x/oauth2 does, with the refresh
// token) and keeping the new one. A 401 from the API is answered by one
// refresh and one retry: the token may have expired on the way. A refused
// refresh means the app lost access (the user revoked it, or the refresh
// token expired): the session forgets its token.
func (a *App) call(ctx context.Context, s *session, path string) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		tok := a.token(s)
		if tok == nil {
			return nil, errSignedOut
		}
		if attempt > 1 {
			tok = &oauth2.Token{RefreshToken: tok.RefreshToken} // no access token: refresh now
		}
		fresh, err := a.oauth.TokenSource(ctx, tok).Token()
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			a.forget(s)
			return nil, errSignedOut
		}
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		s.token = fresh
		a.mu.Unlock()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.cfg.PhotosAPI+path, nil)
		fresh.SetAuthHeader(req)
		resp, err := a.client.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized {
			return resp, nil
		}
		resp.Body.Close()
		if attempt == 2 || fresh.RefreshToken == "" {
			a.forget(s)
			return nil, errSignedOut
		}
	}
}

func (a *App) forget(s *session) {
	a.mu.Lock()
	s.token = nil
	a.mu.Unlock()
}

type photo struct {
	ID, Title string
}

func (a *App) photos(w http.ResponseWriter, r *http.Request) {
	s := a.session(w, r, false)
	if s == nil || a.token(s) == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	resp, err := a.call(r.Context(), s, "/photos")
	if a.failed(w, r, resp, err) {
		return
	}
	defer resp.Body.Close()
	var list []photo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&list); err != nil {
		render(w, http.StatusBadGateway, "message", message{Title: "Photos unavailable", Text: "The photo album answered something unexpected."})
		return
	}
	render(w, http.StatusOK, "photos", list)
}

// failed answers the page when the photos API could not be used.
func (a *App) failed(w http.ResponseWriter, r *http.Request, resp *http.Response, err error) bool {
	switch {
	case errors.Is(err, errSignedOut):
		render(w, http.StatusOK, "reauth", nil)
	case err != nil:
		a.cfg.Logger.WarnContext(r.Context(), "cloud print: photos API unreachable", "err", err)
		render(w, http.StatusBadGateway, "message", message{Title: "Photos unavailable", Text: "The photo album cannot be reached; try again in a moment."})
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		render(w, http.StatusBadGateway, "message", message{Title: "Photos unavailable", Text: fmt.Sprintf("The photo album answered %d.", resp.StatusCode)})
	default:
		return false
	}
	return true
}

func (a *App) print(w http.ResponseWriter, r *http.Request) {
	s := a.session(w, r, false)
	if s == nil || a.token(s) == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	resp, err := a.call(r.Context(), s, "/photos")
	if a.failed(w, r, resp, err) {
		return
	}
	defer resp.Body.Close()
	var list []photo
	json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&list)
	for _, p := range list {
		if p.ID == r.PathValue("id") {
			render(w, http.StatusOK, "print", p)
			return
		}
	}
	render(w, http.StatusNotFound, "message", message{Title: "No such photo", Text: "That photo is not in your album."})
}

// image passes a photo through from the API: the browser never holds
// the token.
func (a *App) image(w http.ResponseWriter, r *http.Request) {
	s := a.session(w, r, false)
	if s == nil {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	resp, err := a.call(r.Context(), s, "/photos/"+urlSegment(r.PathValue("id"))+"/image")
	if err != nil {
		http.Error(w, "the photo is unavailable", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		http.Error(w, "the photo is unavailable", http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, no-store")
	io.Copy(w, io.LimitReader(resp.Body, 16<<20))
}

// urlSegment keeps an id to the characters of one path segment.
func urlSegment(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return -1
	}, s)
}

func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

type message struct{ Title, Text string }

func render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		io.WriteString(w, "page error")
	}
}

var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Cloud Print</title>
<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#222}
header{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #ddd;margin-bottom:1rem}
a.button,button{background:#2b5fd9;color:#fff;border:0;border-radius:4px;padding:.5rem 1rem;text-decoration:none;font:inherit;cursor:pointer}
ul{list-style:none;padding:0}li{display:flex;justify-content:space-between;padding:.5rem 0;border-bottom:1px solid #eee}
img{max-width:100%}@media print{header,.noprint{display:none}}</style></head><body>
<header><h1>Cloud Print</h1>{{end}}
{{define "foot"}}</body></html>{{end}}

{{define "home"}}{{template "head"}}</header>
<p>Print the photos of your Cloud Notes album. Cloud Print asks Cloud Notes to let it <strong>see your photos</strong>, nothing more, and never sees your password.</p>
<p><a class="button" href="/login" data-action="sign-in">Sign in with Cloud Notes</a></p>{{template "foot"}}{{end}}

{{define "photos"}}{{template "head"}}<form method="post" action="/logout" class="noprint"><button>Sign out</button></form></header>
<h2>Your photos</h2>
<ul>{{range .}}<li data-photo="{{.ID}}"><span>{{.Title}}</span> <a href="/print/{{.ID}}">Print</a></li>{{else}}<li>Your album is empty.</li>{{end}}</ul>
{{template "foot"}}{{end}}

{{define "print"}}{{template "head"}}<a href="/photos" class="noprint">Back to your photos</a></header>
<figure data-printable="{{.ID}}"><img src="/image/{{.ID}}" alt="{{.Title}}"><figcaption>{{.Title}}</figcaption></figure>
<p class="noprint"><button type="button" data-print onclick="window.print()">Print</button></p>{{template "foot"}}{{end}}

{{define "reauth"}}{{template "head"}}</header>
<h2 data-reauth>Cloud Print can no longer see your photos</h2>
<p>You may have revoked its access in your Cloud Notes account, or it expired. Sign in again to continue.</p>
<p><a class="button" href="/login" data-action="sign-in">Sign in with Cloud Notes</a></p>{{template "foot"}}{{end}}

{{define "message"}}{{template "head"}}</header><h2>{{.Title}}</h2><p>{{.Text}}</p><p><a href="/">Start again</a></p>{{template "foot"}}{{end}}
`))
